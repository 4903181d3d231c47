//! A scenario: what the user asks about, from a TOML file and/or flags.
//!
//! [`ScenarioInput`] is what was typed (validated for form, no I/O);
//! [`Scenario`] is the resolved one with catalog data loaded. Flags override
//! the file; with no file, flags override the built-in default scenario
//! (`src/default_scenario.toml`), and the estimate lists which fields came
//! from it.

use crate::catalog::{self, Accelerator, CatalogError, ModelSpec, Site, System};
use crate::dtype::Dtype;
use crate::flops::{FineTune, Recompute};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::Path;

/// The built-in default scenario.
pub const DEFAULT_SCENARIO: &str = include_str!("default_scenario.toml");

/// Errors resolving a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{flag} = {value}: {message}")]
    Value { flag: String, value: String, message: String },
    #[error("{0}")]
    Missing(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Conflict(String),
}

/// A count given as a number (`300e9`) or a string with a suffix (`300B`,
/// `1.4T`, `2M`, `500k`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Count(pub f64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Count(n)),
            Raw::S(s) => parse_count(&s).map(Count).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `300e9`, `300B`, `1.4T`, `2M`, `500k`, `1_000`.
///
/// # Errors
/// Text that is not a finite non-negative number with an optional suffix.
pub fn parse_count(s: &str) -> Result<f64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M' | 'm') => (&t[..t.len() - 1], 1e6),
        Some('B' | 'b' | 'G' | 'g') => (&t[..t.len() - 1], 1e9),
        Some('T' | 't') => (&t[..t.len() - 1], 1e12),
        Some('P' | 'p') => (&t[..t.len() - 1], 1e15),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a number; write e.g. 300e9, 300B or 1.4T"))?;
    let v = v * mult;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}` must be a finite, non-negative number"));
    }
    Ok(v)
}

/// What the user typed, from a scenario TOML and/or flags. Every field is
/// optional; `merge` lays one over another.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioInput {
    pub name: Option<String>,
    pub model: Option<String>,
    pub system: Option<String>,
    pub accelerator: Option<String>,
    pub nodes: Option<u64>,
    pub gpus: Option<u64>,
    pub tokens: Option<Count>,
    pub seq_len: Option<u64>,
    pub global_batch: Option<u64>,
    pub micro_batch: Option<u64>,
    pub tp: Option<u64>,
    pub pp: Option<u64>,
    pub interleave: Option<u64>,
    pub sp: Option<bool>,
    pub ep: Option<u64>,
    pub zero: Option<u8>,
    pub recompute: Option<Recompute>,
    pub dtype: Option<Dtype>,
    pub mfu: Option<f64>,
    pub site: Option<String>,
    pub pue: Option<f64>,
    pub grid_intensity: Option<f64>,
    pub electricity_price: Option<f64>,
    pub price_per_gpu_hour: Option<f64>,
    pub hours: Option<f64>,
    pub gpu_hours: Option<f64>,
    pub power_per_gpu: Option<f64>,
    pub total_power: Option<f64>,
    pub fine_tune: Option<FineTuneKind>,
    pub lora_rank: Option<u32>,
    pub embodied: Option<bool>,
    pub simulate: Option<bool>,
    pub calibration: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FineTuneKind {
    Full,
    Lora,
}

macro_rules! merge_fields {
    ($self:ident, $over:ident, $($f:ident),*) => {
        $( if $over.$f.is_some() { $self.$f = $over.$f.clone(); } )*
    };
}

impl ScenarioInput {
    /// Parses a scenario TOML.
    ///
    /// # Errors
    /// Malformed TOML or an unknown field, naming the file.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, ScenarioError> {
        toml::from_str(text).map_err(|e| ScenarioError::File { file: file.to_string(), message: e.to_string().trim_end().to_string() })
    }

    /// Reads a scenario TOML from disk.
    ///
    /// # Errors
    /// Unreadable or malformed file.
    pub fn from_path(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::File { file: file.clone(), message: e.to_string() })?;
        Self::from_toml(&file, &text)
    }

    /// The built-in default scenario.
    #[must_use]
    pub fn builtin() -> Self {
        Self::from_toml("src/default_scenario.toml", DEFAULT_SCENARIO).expect("the built-in scenario parses (tested)")
    }

    /// Lays `over` on top of `self`: every field set in `over` wins.
    pub fn merge(&mut self, over: &ScenarioInput) {
        merge_fields!(self, over, name, model, system, accelerator, nodes, gpus, tokens, seq_len, global_batch, micro_batch,
            tp, pp, interleave, sp, ep, zero, recompute, dtype, mfu, site, pue, grid_intensity, electricity_price,
            price_per_gpu_hour, hours, gpu_hours, power_per_gpu, total_power, fine_tune, lora_rank, embodied, simulate, calibration);
        // hardware given explicitly replaces the base's hardware as a whole,
        // cluster size included (nodes of one type say nothing of another)
        if over.accelerator.is_some() && over.system.is_none() {
            self.system = None;
        }
        if over.system.is_some() && over.accelerator.is_none() {
            self.accelerator = None;
        }
        if (over.system.is_some() || over.accelerator.is_some()) && over.nodes.is_none() && over.gpus.is_none() {
            self.nodes = None;
            self.gpus = None;
        }
        if over.gpus.is_some() && over.nodes.is_none() {
            self.nodes = None;
        }
        if over.nodes.is_some() && over.gpus.is_none() {
            self.gpus = None;
        }
        if over.hours.is_some() || over.gpu_hours.is_some() {
            if over.hours.is_none() {
                self.hours = None;
            }
            if over.gpu_hours.is_none() {
                self.gpu_hours = None;
            }
        }
        // a model given explicitly brings its own sequence length and batch
        if over.model.is_some() {
            if over.seq_len.is_none() {
                self.seq_len = None;
            }
            if over.global_batch.is_none() {
                self.global_batch = None;
            }
        }
        if over.power_per_gpu.is_some() && over.total_power.is_none() {
            self.total_power = None;
        }
        if over.total_power.is_some() && over.power_per_gpu.is_none() {
            self.power_per_gpu = None;
        }
    }
}

/// How the run's duration is known.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Predicted from FLOPs and throughput.
    Predict,
    /// Accounted from measured hours or GPU-hours.
    Account,
}

/// A resolved scenario: catalog data loaded, values validated.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: Option<String>,
    pub input: ScenarioInput,
    pub model: ModelSpec,
    pub accelerator: Accelerator,
    pub system: Option<System>,
    pub gpus: u64,
    pub nodes: Option<u64>,
    pub site: Site,
    pub tokens: Option<f64>,
    pub seq_len: u64,
    pub dtype: Dtype,
    pub fine_tune: FineTune,
    pub mode: Mode,
    /// Fields taken from the built-in default scenario.
    pub defaulted: Vec<String>,
    /// A measured calibration profile of the device (`--calibration`).
    pub calibration: Option<crate::calibrate::CalibrationProfile>,
}

fn check_range(flag: &str, v: f64, lo: f64, hi: f64, lo_inclusive: bool) -> Result<(), ScenarioError> {
    let ok = v.is_finite() && (if lo_inclusive { v >= lo } else { v > lo }) && v <= hi;
    if ok {
        Ok(())
    } else {
        let low = if lo_inclusive { format!("[{lo}") } else { format!("({lo}") };
        Err(ScenarioError::Value { flag: flag.to_string(), value: format!("{v}"), message: format!("must be a finite number in {low}, {hi}]") })
    }
}

fn check_int(flag: &str, v: Option<u64>, hi: u64) -> Result<(), ScenarioError> {
    if let Some(v) = v {
        if v == 0 || v > hi {
            return Err(ScenarioError::Value { flag: flag.to_string(), value: v.to_string(), message: format!("must be in 1..={hi}") });
        }
    }
    Ok(())
}

impl ScenarioInput {
    /// Validates ranges of every set field (no I/O).
    ///
    /// # Errors
    /// The first out-of-range value, naming its flag.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check_int("--nodes", self.nodes, 1_000_000)?;
        check_int("--gpus", self.gpus, 10_000_000)?;
        check_int("--seq-len", self.seq_len, 10_000_000)?;
        check_int("--global-batch", self.global_batch, 100_000_000)?;
        check_int("--micro-batch", self.micro_batch, 1_000_000)?;
        check_int("--tp", self.tp, 1024)?;
        check_int("--pp", self.pp, 4096)?;
        check_int("--interleave", self.interleave, 1024)?;
        check_int("--ep", self.ep, 65_536)?;
        if let Some(z) = self.zero {
            if z > 3 {
                return Err(ScenarioError::Value { flag: "--zero".into(), value: z.to_string(), message: "must be a ZeRO stage 0, 1, 2 or 3".into() });
            }
        }
        if let Some(t) = self.tokens {
            check_range("--tokens", t.0, 0.0, 1e17, false)?;
        }
        for (flag, v, lo, hi, inc) in [
            ("--mfu", self.mfu, 0.0, 1.0, false),
            ("--pue", self.pue, 1.0, 3.0, true),
            ("--grid-intensity", self.grid_intensity, 0.0, 2000.0, true),
            ("--electricity-price", self.electricity_price, 0.0, 10.0, true),
            ("--price-per-gpu-hour", self.price_per_gpu_hour, 0.0, 10_000.0, true),
            ("--hours", self.hours, 0.0, 1e6, false),
            ("--gpu-hours", self.gpu_hours, 0.0, 1e10, false),
            ("--power-per-gpu", self.power_per_gpu, 0.0, 1e5, false),
            ("--total-power", self.total_power, 0.0, 1e10, false),
        ] {
            if let Some(v) = v {
                check_range(flag, v, lo, hi, inc)?;
            }
        }
        if let Some(r) = self.lora_rank {
            if r == 0 || r > 65_536 {
                return Err(ScenarioError::Value { flag: "--lora-rank".into(), value: r.to_string(), message: "must be in 1..=65536".into() });
            }
        }
        if self.hours.is_some() && self.gpu_hours.is_some() {
            return Err(ScenarioError::Conflict("give --hours (wall clock) or --gpu-hours, not both".into()));
        }
        if self.power_per_gpu.is_some() && self.total_power.is_some() {
            return Err(ScenarioError::Conflict("give --power-per-gpu or --total-power, not both".into()));
        }
        Ok(())
    }

    /// Loads catalog data and resolves defaults.
    ///
    /// # Errors
    /// Missing essentials, unknown ids, inconsistent hardware.
    pub fn resolve(&self, defaulted: Vec<String>) -> Result<Scenario, ScenarioError> {
        self.validate()?;
        let model_id = self.model.as_deref().ok_or_else(|| ScenarioError::Missing("no model: give --model ID|PATH or `model = \"...\"` in the scenario file (see `flopprint list models`)".into()))?;
        let model = catalog::model(model_id)?;
        let calibration = self
            .calibration
            .as_deref()
            .map(crate::calibrate::local::load)
            .transpose()
            .map_err(|m| ScenarioError::Value { flag: "--calibration".into(), value: self.calibration.clone().unwrap_or_default(), message: m })?;
        let local = self.system.as_deref() == Some("local");
        if local && calibration.is_none() {
            return Err(ScenarioError::Missing("--system local needs --calibration FILE: measure this machine with `flopprint calibrate --out FILE` first".into()));
        }
        let system = if local { None } else { self.system.as_deref().map(catalog::system).transpose()? };
        let local_acc = match (&calibration, local) {
            (Some(p), true) => Some(crate::calibrate::local::accelerator(p).map_err(|m| ScenarioError::Value { flag: "--calibration".into(), value: self.calibration.clone().unwrap_or_default(), message: m })?),
            _ => None,
        };
        let accelerator = match (&system, self.accelerator.as_deref()) {
            _ if local_acc.is_some() => local_acc.clone().expect("checked"),
            (Some(s), Some(a)) if a != s.accelerator => {
                return Err(ScenarioError::Conflict(format!("--accelerator {a} conflicts with --system {} (which holds {}); give one of them", s.id, s.accelerator)))
            }
            (Some(s), _) => catalog::accelerator(&s.accelerator)?,
            (None, Some(a)) => catalog::accelerator(a)?,
            (None, None) => return Err(ScenarioError::Missing("no hardware: give --system ID (a node, e.g. dgx-a100-80gb) or --accelerator ID (see `flopprint list systems` / `list hardware`)".into())),
        };
        if let (Some(p), false) = (&calibration, local) {
            match &p.device.catalog_id {
                Some(id) if *id == accelerator.id => {}
                other => {
                    return Err(ScenarioError::Conflict(format!(
                        "--calibration measured `{}` ({}), but the scenario's accelerator is `{}`; use the profile with `--system local`, or with the matching --accelerator/--system",
                        p.device.name,
                        other.as_deref().unwrap_or("no catalog id"),
                        accelerator.id
                    )))
                }
            }
        }
        if local && (self.nodes.is_some()) {
            return Err(ScenarioError::Conflict("--system local is one machine: give --gpus (devices like the calibrated one), not --nodes".into()));
        }
        let (gpus, nodes) = match (&system, self.nodes, self.gpus) {
            (Some(s), Some(n), Some(g)) => {
                if n * u64::from(s.accelerators_per_node) != g {
                    return Err(ScenarioError::Conflict(format!("--nodes {n} x {} accelerators per {} node = {} but --gpus {g}; give one of them", s.accelerators_per_node, s.id, n * u64::from(s.accelerators_per_node))));
                }
                (g, Some(n))
            }
            (Some(s), Some(n), None) => (n * u64::from(s.accelerators_per_node), Some(n)),
            (Some(s), None, Some(g)) => (g, Some(g.div_ceil(u64::from(s.accelerators_per_node)))),
            (Some(s), None, None) => (u64::from(s.accelerators_per_node), Some(1)),
            (None, Some(_), _) => return Err(ScenarioError::Missing("--nodes needs --system (a node type); with --accelerator give --gpus".into())),
            (None, None, g) => (g.unwrap_or(1), None),
        };
        let site = catalog::site(self.site.as_deref().unwrap_or("world"))?;
        let tokens = self.tokens.map(|c| c.0);
        let mode = if self.hours.is_some() || self.gpu_hours.is_some() { Mode::Account } else { Mode::Predict };
        if mode == Mode::Predict && tokens.is_none() {
            return Err(ScenarioError::Missing("no --tokens: a prediction needs the number of training tokens (e.g. --tokens 300B); or give measured --hours / --gpu-hours to account a run".into()));
        }
        let seq_len = self.seq_len.or_else(|| model.training.as_ref().and_then(|t| t.seq_len)).unwrap_or(model.max_seq_len);
        if seq_len > model.max_seq_len && model.position == catalog::Position::Learned {
            return Err(ScenarioError::Value { flag: "--seq-len".into(), value: seq_len.to_string(), message: format!("exceeds the model's {} learned positions", model.max_seq_len) });
        }
        let dtype = self.dtype.unwrap_or(Dtype::Bf16);
        let dtype = if dtype == Dtype::Bf16 && self.dtype.is_none() && accelerator.peak(Dtype::Bf16).is_err() { Dtype::Fp16 } else { dtype };
        accelerator.peak(dtype).map_err(|m| ScenarioError::Value { flag: "--dtype".into(), value: dtype.to_string(), message: m })?;
        let fine_tune = match (self.fine_tune, self.lora_rank) {
            (Some(FineTuneKind::Lora), r) => FineTune::Lora { rank: r.unwrap_or(8) },
            (_, Some(_)) => return Err(ScenarioError::Conflict("--lora-rank needs --fine-tune lora".into())),
            _ => FineTune::Full,
        };
        Ok(Scenario {
            name: self.name.clone(),
            input: self.clone(),
            model,
            accelerator,
            system,
            gpus,
            nodes,
            site,
            tokens,
            seq_len,
            dtype,
            fine_tune,
            mode,
            defaulted,
            calibration,
        })
    }
}

/// Names of the fields set in `input` (for "taken from the default" notes).
#[must_use]
pub fn set_fields(input: &ScenarioInput) -> Vec<String> {
    let v = toml::Value::try_from(input).unwrap_or(toml::Value::Table(toml::map::Map::new()));
    v.as_table().map(|t| t.keys().cloned().collect()).unwrap_or_default()
}
