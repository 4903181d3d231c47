//! What the user typed: one definition of every scenario field, used both
//! for the scenario TOML (serde, flat keys) and for the command-line flags
//! (clap). Fields are grouped into sections; [`ScenarioInput::overlay`]
//! lays one input over another with one rule per section (below), which
//! replaces the hand-written reset rules of earlier versions.
//!
//! | section | fields | rule when laid over a base |
//! |---|---|---|
//! | model | model, seq_len, global_batch, global_batch_tokens, fine_tune, lora_rank | replaced whole when `model` is given (a model brings its own sequence length and batch); else field by field |
//! | hardware | system, accelerator, nodes, gpus, calibration | replaced whole when `system` or `accelerator` is given (nodes of one type say nothing of another); `nodes` and `gpus` are alternatives |
//! | plan | tp, cp, pp, interleave, sp, ep, ep_overlap, zero, recompute, micro_batch, dtype, mfu, simulate, overlap, attention, goodput, failure_rate, checkpoint_bandwidth, zero3_efficiency | field by field |
//! | site | site, pue, grid_intensity, grid_basis, electricity_price | replaced whole when `site` is given (a PUE measured at one site says nothing of another) |
//! | pricing | price_per_gpu_hour, price_tier, embodied | field by field |
//! | measured | hours, gpu_hours, power_per_gpu, total_power | `hours`/`gpu_hours` are alternatives, as are `power_per_gpu`/`total_power` |
//! | run | name, tokens | field by field |
//! | uncertainty | samples, seed, spread_throughput, spread_power, spread_pue, spread_grid, spread_embodied, spread_price | field by field |

use super::count::Count;
use super::ScenarioError;
use crate::catalog::{GridBasis, PriceTier};
use crate::dtype::Dtype;
use crate::flops::Recompute;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// Full or LoRA fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FineTuneKind {
    Full,
    Lora,
}

/// Lays `over` on `base` field by field: a field set in `over` wins.
macro_rules! overlay_fields {
    ($base:ident, $over:ident, $($f:ident),* $(,)?) => {
        $( if $over.$f.is_some() { $base.$f = $over.$f.clone(); } )*
    };
    // every field of the section: the pattern does not compile when a
    // field is added to the struct and not here
    (every $ty:ident, $base:ident, $over:ident, $($f:ident),* $(,)?) => {
        let $ty { $($f: _),* } = $over;
        overlay_fields!($base, $over, $($f),*);
    };
}

/// The model and what it is trained on per step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct ModelSection {
    /// Model: catalog id, a model TOML, or a Hugging Face config.json path.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Sequence length (default: the model's training sequence length).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq_len: Option<u64>,
    /// Global batch size in sequences; rounded to the nearest size the data-parallel split divides, with a note.
    #[arg(long, conflicts_with = "global_batch_tokens")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_batch: Option<u64>,
    /// Global batch in tokens, as papers give it (e.g. 4M): divided by --seq-len and rounded to a feasible batch, with a note.
    #[arg(long, value_parser = super::count::count_arg)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_batch_tokens: Option<Count>,
    /// Fine-tuning: full or lora.
    #[arg(long, value_enum)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tune: Option<FineTuneKind>,
    /// LoRA rank (with --fine-tune lora; default 8).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora_rank: Option<u32>,
}

/// The hardware and how much of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct HardwareSection {
    /// System (node type) id, e.g. dgx-a100-80gb; `local` with --calibration for this machine.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Accelerator id (when no system is given), e.g. rtx-4090.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<String>,
    /// Number of nodes of --system.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u64>,
    /// Number of accelerators.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u64>,
    /// Calibration profile (from `flopprint calibrate --out FILE`): measured GEMM throughput (and power) for the device model; with `--system local` the profiled machine is the hardware.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
}

/// How the step is split and computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct PlanSection {
    /// Tensor-parallel size.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tp: Option<u64>,
    /// Pipeline-parallel size.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pp: Option<u64>,
    /// Virtual pipeline stages per device (interleaved 1F1B).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleave: Option<u64>,
    /// Sequence parallelism: `--sp` (= true) or `--sp false`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp: Option<bool>,
    /// Context-parallel size: ranks that split every sequence, keys and
    /// values circulating in a ring (long sequences; default 1).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cp: Option<u64>,
    /// Expert-parallel size (MoE).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep: Option<u64>,
    /// Hide the expert all-to-all of one micro-batch behind another's
    /// compute (DeepSeek-V3's DualPipe; Megatron-core
    /// `--overlap-moe-expert-parallel-comm`): `--ep-overlap` or
    /// `--ep-overlap false` (default false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ep_overlap: Option<bool>,
    /// ZeRO stage 0-3.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero: Option<u8>,
    /// Activation recomputation: none, selective, full.
    #[arg(long, value_parser = |s: &str| s.parse::<Recompute>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recompute: Option<Recompute>,
    /// Micro-batch size in sequences.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_batch: Option<u64>,
    /// Arithmetic: fp64, fp32, tf32, fp16, bf16, fp8 (default bf16, fp16 where the accelerator has no bf16).
    #[arg(long, value_parser = |s: &str| s.parse::<Dtype>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<Dtype>,
    /// Model-FLOPs utilisation in (0, 1], overriding the simulator.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    /// Overlap assumptions of the simulated step: realistic (default: ZeRO-3 gathers prefetched one layer ahead, DP reduction behind the last backward only, no hidden cross-node TP) or ideal.
    #[arg(long, value_parser = |s: &str| s.parse::<crate::simulator::Overlap>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<crate::simulator::Overlap>,
    /// Attention kernel: flash (fused, FlashAttention-style; the default on NVIDIA Ampere, Hopper and Blackwell) or unfused (separate softmax kernels, Megatron-LM 2021/2022).
    #[arg(long, value_parser = |s: &str| s.parse::<crate::simulator::AttentionKernel>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<crate::simulator::AttentionKernel>,
    /// Skip the step-time simulator: time = FLOPs / (GPUs x peak x default MFU of the family). TOML: `simulate = false`.
    #[arg(long = "no-simulate", num_args = 0, default_missing_value = "false")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulate: Option<bool>,
    /// Production goodput in (0, 1]: productive time / wall time (failures, checkpoints, restarts, evaluation). Default: modelled (src/goodput.rs); 1 = the ideal run.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
    /// Unexpected job interruptions per GPU-hour for the goodput model (default 2.0e-5, Llama 3 2024 Section 3.3.4).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    /// Checkpoint write bandwidth available to the job in GB/s for the goodput model (default 273, Narayanan 2021 Section 5.10).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_bandwidth: Option<f64>,
    /// Fraction of each GPU's NIC share reached by ZeRO-3 parameter gathers and gradient reduce-scatters across nodes, in [0.01, 1] (default 0.70, fitted on Narayanan 2021 Table 2's DeepSpeed ZeRO-3 rows; 1 = the NIC share itself).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero3_efficiency: Option<f64>,
}

/// Where the run happens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct SiteSection {
    /// Site id (grid intensity, PUE, electricity price), e.g. france.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Power usage effectiveness, overriding the site's.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pue: Option<f64>,
    /// Grid carbon intensity in gCO2e/kWh, overriding the site's.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_intensity: Option<f64>,
    /// Emission basis of the site's grid figure: lifecycle (default; Ember, GHG Protocol location-based), direct (combustion only, e.g. eGRID) or market.
    #[arg(long, value_parser = |s: &str| s.parse::<GridBasis>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_basis: Option<GridBasis>,
    /// Electricity price in USD/kWh, overriding the site's.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electricity_price: Option<f64>,
}

/// Money and what is counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct PricingSection {
    /// Rental price in USD per GPU-hour.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_gpu_hour: Option<f64>,
    /// Rental price tier: on-demand (default: the catalog's dated on-demand price, ranged over providers), reserved or market (spot/specialist clouds); the tier's sourced range feeds the uncertainty.
    #[arg(long, value_parser = |s: &str| s.parse::<PriceTier>())]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_tier: Option<PriceTier>,
    /// Leave out embodied (manufacturing) carbon. TOML: `embodied = false`.
    #[arg(long = "no-embodied", num_args = 0, default_missing_value = "false")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embodied: Option<bool>,
}

/// What was measured on a finished run (accounting mode).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct MeasuredSection {
    /// Measured wall-clock hours (accounting mode).
    #[arg(long, conflicts_with = "gpu_hours")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    /// Measured GPU-hours (accounting mode).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_hours: Option<f64>,
    /// Average power per GPU in W, including its share of the node.
    #[arg(long, conflicts_with = "total_power")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_per_gpu: Option<f64>,
    /// Average power of the whole job in W.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_power: Option<f64>,
}

/// How the Monte Carlo runs and how wide each uncertain input is (see
/// src/uncertainty.rs for the defaults and their evidence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct UncertaintySection {
    /// Monte Carlo samples for the P5-P95 ranges (default 4000).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Seed of the Monte Carlo: the same seed gives the same ranges (default fixed).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// σ of ln(throughput), overriding the default for this scenario's time source (0 fixes it).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_throughput: Option<f64>,
    /// Scale on the σ of the power model's constants (1 = as stated, 0 fixes power).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_power: Option<f64>,
    /// Relative σ of the PUE (default 0.03; 0 when --pue is given).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_pue: Option<f64>,
    /// Relative σ of the grid intensity (default 0.10; 0 when --grid-intensity is given).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_grid: Option<f64>,
    /// σ of ln(embodied carbon) (default 0.5).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_embodied: Option<f64>,
    /// σ of ln(rental price) (default 0.25; 0 when --price-per-gpu-hour is given).
    #[arg(long, help_heading = "Uncertainty")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_price: Option<f64>,
}

impl UncertaintySection {
    fn overlay(&mut self, over: &Self) {
        overlay_fields!(self, over, samples, seed, spread_throughput, spread_power, spread_pue, spread_grid, spread_embodied, spread_price);
    }
}

/// A scenario as typed: the scenario TOML's keys and the flags are the same
/// fields (TOML flat, e.g. `model = "gpt3-175b"`, `nodes = 128`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Args)]
pub struct ScenarioInput {
    /// A title for the scenario (TOML only).
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Training tokens: 300e9, 300B, 1.4T.
    #[arg(long, value_parser = super::count::count_arg)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Count>,
    #[command(flatten)]
    #[serde(flatten)]
    pub model: ModelSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub hardware: HardwareSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub plan: PlanSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub site: SiteSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub pricing: PricingSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub measured: MeasuredSection,
    #[command(flatten)]
    #[serde(flatten)]
    pub uncertainty: UncertaintySection,
}

/// The TOML keys a scenario may hold: the clap ids of the fields (one
/// definition), plus `name`.
#[must_use]
pub fn known_keys() -> Vec<String> {
    let cmd = ScenarioInput::augment_args(clap::Command::new("scenario"));
    let mut keys: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    keys.push("name".into());
    keys.sort();
    keys
}

impl ScenarioInput {
    /// Parses a scenario TOML.
    ///
    /// # Errors
    /// Malformed TOML, an unknown key (with the closest known one), or a
    /// value of the wrong type, naming the file.
    pub fn from_toml(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let err = |message: String| ScenarioError::File { file: file.to_string(), message };
        let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
        let keys = known_keys();
        for k in table.keys() {
            if !keys.contains(k) {
                return Err(err(format!(
                    "unknown field `{k}`{}; the fields are the estimate flags without `--`, in snake_case (see `flopprint estimate --help`)",
                    crate::catalog::suggest(k, &keys)
                )));
            }
        }
        toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))
    }

    /// Reads a scenario TOML from disk.
    ///
    /// # Errors
    /// Unreadable or malformed file.
    pub fn from_path(path: &std::path::Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::File { file: file.clone(), message: e.to_string() })?;
        Self::from_toml(&file, &text)
    }

    /// The built-in default scenario (`src/default_scenario.toml`).
    #[must_use]
    pub fn builtin() -> Self {
        static BUILTIN: std::sync::OnceLock<ScenarioInput> = std::sync::OnceLock::new();
        BUILTIN.get_or_init(|| Self::from_toml("src/default_scenario.toml", super::DEFAULT_SCENARIO).expect("the built-in scenario parses (tested)")).clone()
    }

    /// Lays `over` on top of `self` by the section rules in the module doc.
    pub fn overlay(&mut self, over: &ScenarioInput) {
        overlay_fields!(self, over, name, tokens);
        self.model.overlay(&over.model);
        self.hardware.overlay(&over.hardware);
        self.plan.overlay(&over.plan);
        self.site.overlay(&over.site);
        self.pricing.overlay(&over.pricing);
        self.measured.overlay(&over.measured);
        self.uncertainty.overlay(&over.uncertainty);
    }

    /// Names of the fields that are set (for "taken from the default" notes).
    #[must_use]
    pub fn set_fields(&self) -> Vec<String> {
        let v = toml::Value::try_from(self).unwrap_or(toml::Value::Table(toml::map::Map::new()));
        v.as_table().map(|t| t.keys().cloned().collect()).unwrap_or_default()
    }
}

impl ModelSection {
    fn overlay(&mut self, over: &Self) {
        if over.model.is_some() {
            *self = over.clone();
            return;
        }
        if over.global_batch.is_some() || over.global_batch_tokens.is_some() {
            self.global_batch = over.global_batch;
            self.global_batch_tokens = over.global_batch_tokens;
        }
        overlay_fields!(self, over, seq_len, fine_tune, lora_rank);
    }
}

impl HardwareSection {
    fn overlay(&mut self, over: &Self) {
        if over.system.is_some() || over.accelerator.is_some() {
            *self = over.clone();
            return;
        }
        if over.nodes.is_some() || over.gpus.is_some() {
            self.nodes = over.nodes;
            self.gpus = over.gpus;
        }
        overlay_fields!(self, over, calibration);
    }
}

impl PlanSection {
    fn overlay(&mut self, over: &Self) {
        overlay_fields!(
            every PlanSection,
            self,
            over,
            tp,
            cp,
            pp,
            interleave,
            sp,
            ep,
            ep_overlap,
            zero,
            recompute,
            micro_batch,
            dtype,
            mfu,
            simulate,
            overlap,
            attention,
            goodput,
            failure_rate,
            checkpoint_bandwidth,
            zero3_efficiency
        );
    }
}

impl SiteSection {
    fn overlay(&mut self, over: &Self) {
        if over.site.is_some() {
            *self = over.clone();
            return;
        }
        overlay_fields!(self, over, pue, grid_intensity, grid_basis, electricity_price);
    }
}

impl PricingSection {
    fn overlay(&mut self, over: &Self) {
        overlay_fields!(self, over, price_per_gpu_hour, price_tier, embodied);
    }
}

impl MeasuredSection {
    fn overlay(&mut self, over: &Self) {
        if over.hours.is_some() || over.gpu_hours.is_some() {
            self.hours = over.hours;
            self.gpu_hours = over.gpu_hours;
        }
        if over.power_per_gpu.is_some() || over.total_power.is_some() {
            self.power_per_gpu = over.power_per_gpu;
            self.total_power = over.total_power;
        }
    }
}
