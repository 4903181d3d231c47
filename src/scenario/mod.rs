//! The resolve stage: a scenario from a TOML file and/or flags, with every
//! default and override settled.
//!
//! [`ScenarioInput`] is what was typed (one definition for TOML and flags,
//! in `input.rs`); [`Scenario`] is the resolved one with catalog data
//! loaded and values validated. Flags override the file; with no file,
//! flags override the built-in default scenario
//! (`src/default_scenario.toml`), and the estimate lists which fields came
//! from it. Nothing after this stage reads the raw input.

mod count;
mod input;

pub use count::{count_arg, parse_count, Count};
pub use input::{
    known_keys, FineTuneKind, HardwareSection, MeasuredSection, ModelSection, PlanSection, PricingSection, ScenarioInput, SiteSection, UncertaintySection,
};

use crate::catalog::{self, Accelerator, CatalogError, GridBasis, ModelSpec, PriceTier, Site, System};
use crate::dtype::Dtype;
use crate::flops::{FineTune, Recompute};
use crate::notes::{Note, Sourced};
use crate::units::{GramsPerKwh, UsdPerGpuHour, UsdPerKwh, Watts};
use serde::Serialize;
use std::path::Path;

/// The built-in default scenario.
pub const DEFAULT_SCENARIO: &str = include_str!("../default_scenario.toml");

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

/// How the run's duration is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Predicted from FLOPs and throughput.
    Predict,
    /// Accounted from measured hours or GPU-hours.
    Account,
}

/// A measured duration (accounting mode).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeasuredTime {
    Hours(f64),
    GpuHours(f64),
}

/// A measured average power.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MeasuredPower {
    /// Per GPU, with its share of the node (Patterson et al. 2021).
    PerGpu(Watts),
    /// The whole job (Strubell et al. 2019).
    Total(Watts),
}

/// The global batch as requested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchRequest {
    /// Not given: the model's published batch, else ~4M tokens.
    Default,
    Sequences(u64),
    Tokens(f64),
}

impl BatchRequest {
    /// The requested batch in sequences of `seq_len` (`None`: the default);
    /// a batch in tokens is rounded to whole sequences, at least one.
    #[must_use]
    pub fn sequences(self, seq_len: u64) -> Option<u64> {
        match self {
            BatchRequest::Default => None,
            BatchRequest::Sequences(g) => Some(g),
            BatchRequest::Tokens(t) => Some(((t / seq_len.max(1) as f64).round() as u64).max(1)),
        }
    }
}

/// The parallel plan as requested: fixed fields, the rest searched.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PlanRequest {
    pub tp: Option<u64>,
    /// Context-parallel size (`None`: 1).
    pub cp: Option<u64>,
    pub pp: Option<u64>,
    pub interleave: Option<u64>,
    pub sp: Option<bool>,
    pub ep: Option<u64>,
    /// Expert all-to-all hidden behind another micro-batch (`None`: no).
    pub ep_overlap: Option<bool>,
    pub zero: Option<u8>,
    pub recompute: Option<Recompute>,
    pub micro_batch: Option<u64>,
    /// Overlap assumptions (`None`: realistic).
    pub overlap: Option<crate::simulator::Overlap>,
    /// Attention kernel (`None`: fused where the family has it).
    pub attention: Option<crate::simulator::AttentionKernel>,
    /// Fraction of the NIC share ZeRO-3's collectives reach (`None`:
    /// `simulator::network::ZERO3_COLLECTIVE_EFFICIENCY`).
    pub zero3_efficiency: Option<f64>,
}

/// Where the throughput comes from in predict mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Throughput {
    /// The step-time simulator.
    Simulate,
    /// The family's default MFU (`--no-simulate`).
    DefaultMfu,
    /// `--mfu`.
    Mfu(f64),
}

/// Site figures with overrides applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteValues {
    pub pue: Sourced<f64>,
    pub grid: Sourced<GramsPerKwh>,
    pub electricity: Sourced<UsdPerKwh>,
    /// Whether each was given by the user (not varied by the uncertainty stage).
    pub pue_given: bool,
    pub grid_given: bool,
    /// The emission basis of `grid` (`None`: given by the user).
    pub grid_basis: Option<GridBasis>,
}

/// A resolved scenario: catalog data loaded, values validated, defaults
/// settled.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: Option<String>,
    pub model: ModelSpec,
    pub accelerator: Accelerator,
    pub system: Option<System>,
    pub gpus: u64,
    pub nodes: Option<u64>,
    pub site: Site,
    pub site_values: SiteValues,
    /// Training tokens, from the user (or, in predict mode, the default).
    pub tokens: Option<f64>,
    pub seq_len: u64,
    pub batch: BatchRequest,
    pub dtype: Dtype,
    pub fine_tune: FineTune,
    pub plan: PlanRequest,
    pub throughput: Throughput,
    pub measured_time: Option<MeasuredTime>,
    pub measured_power: Option<MeasuredPower>,
    /// Goodput overrides (`--goodput`, `--failure-rate`, `--checkpoint-bandwidth`).
    pub goodput: crate::goodput::GoodputRequest,
    pub price_per_gpu_hour: Option<Sourced<UsdPerGpuHour>>,
    /// Log-σ of the rental price's uncertainty: 0 when given, from the
    /// tier's sourced range when known (P5–P95 ≈ low–high), else `None`
    /// (the uncertainty stage's default).
    pub price_log_sigma: Option<f64>,
    /// How the price was set: `given`, or the tier and the year it was read.
    pub price_basis: Option<String>,
    pub embodied: bool,
    /// A measured calibration profile of the device (`--calibration`).
    pub calibration: Option<crate::calibrate::CalibrationProfile>,
    /// `--system local`: the calibrated machine itself is the hardware.
    pub local_machine: bool,
    /// Monte Carlo samples, seed and spread overrides.
    pub uncertainty: crate::uncertainty::Options,
    /// Fields taken from the built-in default scenario.
    pub defaulted: Vec<String>,
    /// What resolution decided that the reader should know.
    pub notes: Vec<Note>,
}

impl Scenario {
    #[must_use]
    pub fn mode(&self) -> Mode {
        if self.measured_time.is_some() {
            Mode::Account
        } else {
            Mode::Predict
        }
    }
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

/// Builds the scenario input: the file (or the built-in default) with the
/// flags laid over it. Returns the input and the fields taken from the
/// built-in default.
///
/// # Errors
/// Unreadable or malformed scenario file.
pub fn input_with_defaults(file: Option<&Path>, over: &ScenarioInput) -> Result<(ScenarioInput, Vec<String>), ScenarioError> {
    Ok(input_over(&Base::load(file)?, over))
}

/// What a scenario's flags are laid over: a scenario file (read once, for
/// many scenarios), or the built-in default.
#[derive(Debug, Clone)]
pub enum Base {
    File(Box<ScenarioInput>),
    Builtin,
}

impl Base {
    /// Reads the scenario file, if any.
    ///
    /// # Errors
    /// Unreadable or malformed scenario file.
    pub fn load(file: Option<&Path>) -> Result<Self, ScenarioError> {
        Ok(match file {
            Some(p) => Self::File(Box::new(ScenarioInput::from_path(p)?)),
            None => Self::Builtin,
        })
    }
}

/// [`input_with_defaults`] on a base already loaded.
#[must_use]
pub fn input_over(base: &Base, over: &ScenarioInput) -> (ScenarioInput, Vec<String>) {
    if let Base::File(f) = base {
        let mut base = (**f).clone();
        base.overlay(over);
        return (base, Vec::new());
    }
    let mut base = ScenarioInput::builtin();
    let given = over.set_fields();
    base.overlay(over);
    if !given.is_empty() {
        base.name = None;
    }
    let defaulted: Vec<String> = base.set_fields().into_iter().filter(|f| !given.contains(f) && f != "name").collect();
    (base, defaulted)
}

impl ScenarioInput {
    /// Validates ranges of every set field (no I/O).
    ///
    /// # Errors
    /// The first out-of-range value, naming its flag.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let (m, h, p, s, pr, me) = (&self.model, &self.hardware, &self.plan, &self.site, &self.pricing, &self.measured);
        check_int("--nodes", h.nodes, 1_000_000)?;
        check_int("--gpus", h.gpus, 10_000_000)?;
        check_int("--seq-len", m.seq_len, 10_000_000)?;
        check_int("--global-batch", m.global_batch, 100_000_000)?;
        check_int("--micro-batch", p.micro_batch, 1_000_000)?;
        check_int("--tp", p.tp, 1024)?;
        check_int("--pp", p.pp, 4096)?;
        check_int("--interleave", p.interleave, 1024)?;
        check_int("--ep", p.ep, 65_536)?;
        check_int("--cp", p.cp, 1024)?;
        if let Some(z) = p.zero {
            if z > 3 {
                return Err(ScenarioError::Value { flag: "--zero".into(), value: z.to_string(), message: "must be a ZeRO stage 0, 1, 2 or 3".into() });
            }
        }
        if let Some(t) = self.tokens {
            check_range("--tokens", t.0, 0.0, 1e17, false)?;
        }
        if let Some(t) = m.global_batch_tokens {
            check_range("--global-batch-tokens", t.0, 0.0, 1e12, false)?;
        }
        for (flag, v, lo, hi, inc) in [
            ("--mfu", p.mfu, 0.0, 1.0, false),
            ("--goodput", p.goodput, 0.0, 1.0, false),
            ("--failure-rate", p.failure_rate, 0.0, 1.0, true),
            ("--checkpoint-bandwidth", p.checkpoint_bandwidth, 0.0, 1e9, false),
            // 0.01: the lower end of `validate`'s refit grid (below it a step is effectively infinite)
            ("--zero3-efficiency", p.zero3_efficiency, 0.01, 1.0, true),
            ("--pue", s.pue, 1.0, 3.0, true),
            ("--grid-intensity", s.grid_intensity, 0.0, 2000.0, true),
            ("--electricity-price", s.electricity_price, 0.0, 10.0, true),
            ("--price-per-gpu-hour", pr.price_per_gpu_hour, 0.0, 10_000.0, true),
            ("--hours", me.hours, 0.0, 1e6, false),
            ("--gpu-hours", me.gpu_hours, 0.0, 1e10, false),
            ("--power-per-gpu", me.power_per_gpu, 0.0, 1e5, false),
            ("--total-power", me.total_power, 0.0, 1e10, false),
        ] {
            if let Some(v) = v {
                check_range(flag, v, lo, hi, inc)?;
            }
        }
        let u = &self.uncertainty;
        if let Some(n) = u.samples {
            if !(2..=10_000_000).contains(&n) {
                return Err(ScenarioError::Value { flag: "--samples".into(), value: n.to_string(), message: "must be in 2..=10000000".into() });
            }
        }
        for (flag, v) in [
            ("--spread-throughput", u.spread_throughput),
            ("--spread-power", u.spread_power),
            ("--spread-pue", u.spread_pue),
            ("--spread-grid", u.spread_grid),
            ("--spread-embodied", u.spread_embodied),
            ("--spread-price", u.spread_price),
        ] {
            if let Some(v) = v {
                check_range(flag, v, 0.0, 3.0, true)?;
            }
        }
        if let Some(r) = m.lora_rank {
            if r == 0 || r > 65_536 {
                return Err(ScenarioError::Value { flag: "--lora-rank".into(), value: r.to_string(), message: "must be in 1..=65536".into() });
            }
        }
        if me.hours.is_some() && me.gpu_hours.is_some() {
            return Err(ScenarioError::Conflict("give --hours (wall clock) or --gpu-hours, not both".into()));
        }
        if me.power_per_gpu.is_some() && me.total_power.is_some() {
            return Err(ScenarioError::Conflict("give --power-per-gpu or --total-power, not both".into()));
        }
        if m.global_batch.is_some() && m.global_batch_tokens.is_some() {
            return Err(ScenarioError::Conflict("give --global-batch (sequences) or --global-batch-tokens, not both".into()));
        }
        Ok(())
    }

    /// Loads catalog data and settles defaults. `defaulted` names the
    /// fields that came from the built-in default scenario: they never
    /// override what the hardware cannot do, and in accounting mode the
    /// default token count is dropped (tokens come only from the user).
    ///
    /// # Errors
    /// Missing essentials, unknown ids, inconsistent hardware.
    pub fn resolve(&self, defaulted: Vec<String>) -> Result<Scenario, ScenarioError> {
        self.validate()?;
        let mut notes = Vec::new();
        let mut defaulted = defaulted;
        let (m, h, p, s, pr, me) = (&self.model, &self.hardware, &self.plan, &self.site, &self.pricing, &self.measured);
        let model_id = m.model.as_deref().ok_or_else(|| {
            ScenarioError::Missing("no model: give --model ID|PATH or `model = \"...\"` in the scenario file (see `flopprint list models`)".into())
        })?;
        let model = catalog::model(model_id)?;
        let calibration = h.calibration.as_deref().map(crate::calibrate::local::load).transpose().map_err(|msg| ScenarioError::Value {
            flag: "--calibration".into(),
            value: h.calibration.clone().unwrap_or_default(),
            message: msg,
        })?;
        let local = h.system.as_deref() == Some("local");
        if local && calibration.is_none() {
            return Err(ScenarioError::Missing(
                "--system local needs --calibration FILE: measure this machine with `flopprint calibrate --out FILE` first".into(),
            ));
        }
        let system = if local { None } else { h.system.as_deref().map(catalog::system).transpose()? };
        let accelerator = match (&system, h.accelerator.as_deref(), &calibration) {
            (_, _, Some(p)) if local => crate::calibrate::local::accelerator(p).map_err(|msg| ScenarioError::Value {
                flag: "--calibration".into(),
                value: h.calibration.clone().unwrap_or_default(),
                message: msg,
            })?,
            (Some(s), Some(a), _) if a != s.accelerator => {
                return Err(ScenarioError::Conflict(format!(
                    "--accelerator {a} conflicts with --system {} (which holds {}); give one of them",
                    s.id, s.accelerator
                )))
            }
            (Some(s), _, _) => catalog::accelerator(&s.accelerator)?,
            (None, Some(a), _) => catalog::accelerator(a)?,
            (None, None, _) => {
                return Err(ScenarioError::Missing(
                    "no hardware: give --system ID (a node, e.g. dgx-a100-80gb) or --accelerator ID (see `flopprint list systems` / `list hardware`)".into(),
                ))
            }
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
        if local && h.nodes.is_some() {
            return Err(ScenarioError::Conflict("--system local is one machine: give --gpus (devices like the calibrated one), not --nodes".into()));
        }
        let (gpus, nodes) = match (&system, h.nodes, h.gpus) {
            (Some(s), Some(n), Some(g)) => {
                let per = u64::from(s.accelerators_per_node);
                if n.checked_mul(per) != Some(g) {
                    return Err(ScenarioError::Conflict(format!(
                        "--nodes {n} x {per} accelerators per {} node = {} but --gpus {g}; give one of them",
                        s.id,
                        n.saturating_mul(per)
                    )));
                }
                (g, Some(n))
            }
            (Some(s), Some(n), None) => (n * u64::from(s.accelerators_per_node), Some(n)),
            (Some(s), None, Some(g)) => (g, Some(g.div_ceil(u64::from(s.accelerators_per_node)))),
            (Some(s), None, None) => (u64::from(s.accelerators_per_node), Some(1)),
            (None, Some(_), _) => return Err(ScenarioError::Missing("--nodes needs --system (a node type); with --accelerator give --gpus".into())),
            (None, None, g) => (g.unwrap_or(1), None),
        };
        let site = catalog::site(s.site.as_deref().unwrap_or("world"))?;
        let measured_time = match (me.hours, me.gpu_hours) {
            (Some(x), _) => Some(MeasuredTime::Hours(x)),
            (None, Some(x)) => Some(MeasuredTime::GpuHours(x)),
            _ => None,
        };
        let measured_power = match (me.power_per_gpu, me.total_power) {
            (Some(w), _) => Some(MeasuredPower::PerGpu(Watts::new(w))),
            (None, Some(w)) => Some(MeasuredPower::Total(Watts::new(w))),
            _ => None,
        };
        // tokens: in accounting mode only the user's
        let mut tokens = self.tokens.map(|c| c.0);
        if measured_time.is_some() && defaulted.iter().any(|f| f == "tokens") {
            tokens = None;
            defaulted.retain(|f| f != "tokens");
            notes.push(Note::DefaultDropped { field: "tokens", why: "an accounted run's tokens come only from the user (give --tokens for FLOPs and MFU)" });
        }
        if measured_time.is_none() && tokens.is_none() {
            return Err(ScenarioError::Missing(
                "no --tokens: a prediction needs the number of training tokens (e.g. --tokens 300B); or give measured --hours / --gpu-hours to account a run"
                    .into(),
            ));
        }
        let seq_len = m.seq_len.or_else(|| model.training.as_ref().and_then(|t| t.seq_len)).unwrap_or(model.max_seq_len);
        if seq_len > model.max_seq_len && model.position == catalog::Position::Learned {
            return Err(ScenarioError::Value {
                flag: "--seq-len".into(),
                value: seq_len.to_string(),
                message: format!("exceeds the model's {} learned positions", model.max_seq_len),
            });
        }
        // dtype: the user's must be supported; a default falls back
        let dtype_is_users = p.dtype.is_some() && !defaulted.iter().any(|f| f == "dtype");
        let dtype = match p.dtype {
            Some(d) if dtype_is_users => {
                accelerator.peak(d).map_err(|msg| ScenarioError::Value { flag: "--dtype".into(), value: d.to_string(), message: msg })?;
                d
            }
            d => {
                let want = d.unwrap_or(Dtype::Bf16);
                let chosen =
                    [want, Dtype::Bf16, Dtype::Fp16, Dtype::Fp32].into_iter().find(|d| accelerator.peak(*d).is_ok()).ok_or_else(|| ScenarioError::Value {
                        flag: "--dtype".into(),
                        value: want.to_string(),
                        message: format!("{} lists no bf16, fp16 or fp32 peak; give --dtype", accelerator.id),
                    })?;
                if chosen != want {
                    notes.push(Note::DtypeFallback { from: want.to_string(), to: chosen.to_string(), accelerator: accelerator.id.clone() });
                }
                chosen
            }
        };
        let fine_tune = match (m.fine_tune, m.lora_rank) {
            (Some(FineTuneKind::Lora), r) => FineTune::Lora { rank: r.unwrap_or(8) },
            (_, Some(_)) => return Err(ScenarioError::Conflict("--lora-rank needs --fine-tune lora".into())),
            _ => FineTune::Full,
        };
        let batch = match (m.global_batch, m.global_batch_tokens) {
            (Some(g), _) => BatchRequest::Sequences(g),
            (None, Some(t)) => BatchRequest::Tokens(t.0),
            (None, None) => BatchRequest::Default,
        };
        let throughput = match (p.mfu, p.simulate) {
            (Some(x), _) => Throughput::Mfu(x),
            (None, Some(false)) => Throughput::DefaultMfu,
            _ => Throughput::Simulate,
        };
        // the grid on one basis: lifecycle unless asked otherwise; a site
        // without a figure on that basis keeps its own, with a note
        let want_basis = s.grid_basis.unwrap_or(GridBasis::Lifecycle);
        let figure = site.grid_for(want_basis).unwrap_or_else(|| {
            let p = site.primary_grid();
            notes.push(Note::GridBasisFallback { site: site.id.clone(), wanted: want_basis.to_string(), used: p.basis.to_string() });
            p
        });
        let site_values = SiteValues {
            pue: match s.pue {
                Some(v) => Sourced::new(v, "--pue"),
                None => Sourced::new(site.pue, format!("site {}: {}", site.id, site.pue_source)),
            },
            grid: match s.grid_intensity {
                Some(v) => Sourced::new(GramsPerKwh::new(v), "--grid-intensity"),
                None => Sourced::new(
                    figure.grid(),
                    format!("site {}, {} basis: {} ({}; licence {})", site.id, figure.basis, figure.source, figure.year, site.grid_licence),
                ),
            },
            electricity: match s.electricity_price {
                Some(v) => Sourced::new(UsdPerKwh::new(v), "--electricity-price"),
                None => Sourced::new(site.price(), format!("site {}: {}", site.id, site.electricity_source)),
            },
            pue_given: s.pue.is_some(),
            grid_given: s.grid_intensity.is_some(),
            grid_basis: if s.grid_intensity.is_some() { None } else { Some(figure.basis) },
        };
        // rental price: the user's; else the tier's (on-demand: the catalog's
        // dated list price, ranged over providers; reserved/market: the
        // geometric middle of the tier's range)
        let tier = pr.price_tier.unwrap_or(PriceTier::OnDemand);
        let range = accelerator.rental_tier(tier);
        let sigma_of = |lo: UsdPerGpuHour, hi: UsdPerGpuHour| (hi.value() / lo.value()).ln() / (2.0 * 1.645);
        let (price_per_gpu_hour, price_log_sigma, price_basis) = match (pr.price_per_gpu_hour, tier, &range) {
            (Some(v), _, _) => (Some(Sourced::new(UsdPerGpuHour::new(v), "--price-per-gpu-hour")), Some(0.0), Some("given".to_string())),
            (None, PriceTier::OnDemand, r) => {
                let price = accelerator.rental().map(|p| Sourced::new(p, accelerator.source_of("rental_usd_per_gpu_hour")));
                let basis = price.as_ref().map(|_| format!("on-demand, {}", accelerator.rental_year.map_or_else(|| "year unknown".into(), |y| y.to_string())));
                (price, r.as_ref().map(|(lo, hi, _)| sigma_of(*lo, *hi)), basis)
            }
            (None, t, Some((lo, hi, src))) => {
                let mid = UsdPerGpuHour::new((lo.value() * hi.value()).sqrt());
                let year = accelerator.rental_tiers.get(t).map_or(0, |r| r.year);
                (
                    Some(Sourced::new(
                        mid,
                        format!("{t} tier of {}: geometric middle of ${:.2}-${:.2}/GPU-hour: {src}", accelerator.id, lo.value(), hi.value()),
                    )),
                    Some(sigma_of(*lo, *hi)),
                    Some(format!("{t} tier, {year}")),
                )
            }
            (None, t, None) => {
                return Err(ScenarioError::Value {
                    flag: "--price-tier".into(),
                    value: t.to_string(),
                    message: format!("{} has no sourced {t} price range; give --price-per-gpu-hour", accelerator.id),
                })
            }
        };
        if !defaulted.is_empty() {
            notes.insert(0, Note::Defaulted(defaulted.clone()));
        }
        Ok(Scenario {
            name: self.name.clone(),
            model,
            accelerator,
            system,
            gpus,
            nodes,
            site,
            site_values,
            tokens,
            seq_len,
            batch,
            dtype,
            fine_tune,
            plan: PlanRequest {
                tp: p.tp,
                cp: p.cp,
                pp: p.pp,
                interleave: p.interleave,
                sp: p.sp,
                ep: p.ep,
                ep_overlap: p.ep_overlap,
                zero: p.zero,
                recompute: p.recompute,
                micro_batch: p.micro_batch,
                overlap: p.overlap,
                attention: p.attention,
                zero3_efficiency: p.zero3_efficiency,
            },
            throughput,
            measured_time,
            measured_power,
            goodput: crate::goodput::GoodputRequest {
                factor: p.goodput,
                failure_rate_per_gpu_hour: p.failure_rate,
                checkpoint_gb_per_s: p.checkpoint_bandwidth,
            },
            price_per_gpu_hour,
            price_log_sigma,
            price_basis,
            embodied: pr.embodied.unwrap_or(true),
            calibration,
            local_machine: local,
            uncertainty: crate::uncertainty::Options {
                samples: self.uncertainty.samples.map_or(crate::uncertainty::DEFAULT_SAMPLES, |n| n as usize),
                seed: self.uncertainty.seed.unwrap_or(crate::uncertainty::DEFAULT_SEED),
                overrides: crate::uncertainty::SpreadOverrides {
                    throughput: self.uncertainty.spread_throughput,
                    power: self.uncertainty.spread_power,
                    pue: self.uncertainty.spread_pue,
                    grid: self.uncertainty.spread_grid,
                    embodied: self.uncertainty.spread_embodied,
                    price: self.uncertainty.spread_price,
                },
            },
            defaulted,
            notes,
        })
    }
}
