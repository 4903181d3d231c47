//! The command-line surface (clap derive). Parsing only; [`run`] builds the
//! library objects and prints. Errors go to stderr with a non-zero exit; a
//! file given with `--out` is written whole or not at all.

use crate::catalog::{self, Kind};
use crate::estimate;
use crate::report::{self, Format};
use crate::scenario::{parse_count, set_fields, Count, FineTuneKind, ScenarioInput};
use crate::dtype::Dtype;
use crate::flops::Recompute;
use crate::search::Objective;
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(name = "flopprint", version, about = "What training a neural network will cost before you pay for it: time, GPU-hours, money, energy and CO2e.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Estimate (or account) a training run: FLOPs, time, energy, CO2e, cost.
    Estimate(EstimateArgs),
    /// Search parallelisation plans (TP x PP x interleave x micro-batch x
    /// recompute x SP x ZeRO x EP) for a fixed cluster and global batch,
    /// simulate each, and rank the ones that fit in memory.
    Plan(PlanArgs),
    /// Measure this machine: time real GEMMs on the CPU (and NVIDIA GPU), sample power, write a calibration profile.
    Calibrate(CalibrateArgs),
    /// List catalog entries.
    List {
        /// What to list.
        what: ListWhat,
    },
    /// Show one catalog entry (accelerator, system, site or model) with its sources.
    Show {
        /// The id, e.g. a100-sxm4-80gb, dgx-h100, france, gpt3-175b.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListWhat {
    Hardware,
    Systems,
    Sites,
    Models,
}

fn count(s: &str) -> Result<Count, String> {
    parse_count(s).map(Count)
}

#[derive(Debug, Args, Default)]
pub struct ScenarioFlags {
    /// Model: catalog id, a model TOML, or a Hugging Face config.json path.
    #[arg(long)]
    pub model: Option<String>,
    /// System (node type) id, e.g. dgx-a100-80gb.
    #[arg(long)]
    pub system: Option<String>,
    /// Accelerator id (when no system is given), e.g. rtx-4090.
    #[arg(long)]
    pub accelerator: Option<String>,
    /// Number of nodes of --system.
    #[arg(long)]
    pub nodes: Option<u64>,
    /// Number of accelerators.
    #[arg(long)]
    pub gpus: Option<u64>,
    /// Training tokens: 300e9, 300B, 1.4T.
    #[arg(long, value_parser = count)]
    pub tokens: Option<Count>,
    /// Sequence length.
    #[arg(long)]
    pub seq_len: Option<u64>,
    /// Global batch size in sequences.
    #[arg(long)]
    pub global_batch: Option<u64>,
    /// Micro-batch size in sequences.
    #[arg(long)]
    pub micro_batch: Option<u64>,
    /// Tensor-parallel size.
    #[arg(long)]
    pub tp: Option<u64>,
    /// Pipeline-parallel size.
    #[arg(long)]
    pub pp: Option<u64>,
    /// Virtual pipeline stages per device (interleaved 1F1B).
    #[arg(long)]
    pub interleave: Option<u64>,
    /// Sequence parallelism: `--sp` (= true) or `--sp false`.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub sp: Option<bool>,
    /// Expert-parallel size (MoE).
    #[arg(long)]
    pub ep: Option<u64>,
    /// ZeRO stage 0-3.
    #[arg(long)]
    pub zero: Option<u8>,
    /// Activation recomputation.
    #[arg(long, value_parser = |s: &str| s.parse::<Recompute>())]
    pub recompute: Option<Recompute>,
    /// Arithmetic: fp64, fp32, tf32, fp16, bf16, fp8.
    #[arg(long, value_parser = |s: &str| s.parse::<Dtype>())]
    pub dtype: Option<Dtype>,
    /// Model-FLOPs utilisation in (0, 1], overriding the default / simulator.
    #[arg(long)]
    pub mfu: Option<f64>,
    /// Site id (grid intensity, PUE, electricity price), e.g. france.
    #[arg(long)]
    pub site: Option<String>,
    /// Power usage effectiveness, overriding the site's.
    #[arg(long)]
    pub pue: Option<f64>,
    /// Grid carbon intensity in gCO2e/kWh, overriding the site's.
    #[arg(long)]
    pub grid_intensity: Option<f64>,
    /// Electricity price in USD/kWh, overriding the site's.
    #[arg(long)]
    pub electricity_price: Option<f64>,
    /// Rental price in USD per GPU-hour.
    #[arg(long)]
    pub price_per_gpu_hour: Option<f64>,
    /// Measured wall-clock hours (accounting mode).
    #[arg(long)]
    pub hours: Option<f64>,
    /// Measured GPU-hours (accounting mode).
    #[arg(long)]
    pub gpu_hours: Option<f64>,
    /// Average power per GPU in W, including its share of the node.
    #[arg(long)]
    pub power_per_gpu: Option<f64>,
    /// Average power of the whole job in W.
    #[arg(long)]
    pub total_power: Option<f64>,
    /// Fine-tuning: full or lora.
    #[arg(long)]
    pub fine_tune: Option<FineTuneArg>,
    /// LoRA rank (with --fine-tune lora; default 8).
    #[arg(long)]
    pub lora_rank: Option<u32>,
    /// Leave out embodied (manufacturing) carbon.
    #[arg(long)]
    pub no_embodied: bool,
    /// Calibration profile (from `flopprint calibrate --out FILE`): measured GEMM throughput (and power) for the device model; with `--system local` the profiled machine is the hardware.
    #[arg(long)]
    pub calibration: Option<String>,
    /// Skip the step-time simulator: time = FLOPs / (GPUs x peak x default MFU of the family).
    #[arg(long)]
    pub no_simulate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalDevice {
    Cpu,
    Cuda,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Which device(s) to calibrate.
    #[arg(long, value_enum, default_value_t = CalDevice::Cpu)]
    pub device: CalDevice,
    /// A short sweep (CPU: 256-1024 and fp32 2048; about 10-15 s). The default.
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// A full sweep (CPU 256-2048, GPU 256-8192).
    #[arg(long)]
    pub full: bool,
    /// Dtypes to measure, comma-separated (default: fp64,fp32 on CPU; fp32,tf32,fp16,bf16 on GPU).
    #[arg(long, value_delimiter = ',', value_parser = |s: &str| s.parse::<Dtype>())]
    pub dtypes: Vec<Dtype>,
    /// Also measure the exact GEMM shapes of this model's training step.
    #[arg(long)]
    pub model: Option<String>,
    /// Tensor-parallel size for --model shapes.
    #[arg(long, default_value_t = 1)]
    pub tp: u64,
    /// Sequence length for --model shapes (default: the model's).
    #[arg(long)]
    pub seq_len: Option<u64>,
    /// Micro-batch for --model shapes.
    #[arg(long, default_value_t = 1)]
    pub micro_batch: u64,
    /// CPU threads (default: all).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Time budget for the measurements in seconds.
    #[arg(long)]
    pub budget: Option<f64>,
    /// Close the loop: predict a small transformer step's GEMM sequence from the profile, run it, report the error.
    #[arg(long)]
    pub check: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CalFormat::Table)]
    pub format: CalFormat,
    /// Write the profile (JSON) to this file; stdout shows the chosen format.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FineTuneArg {
    Full,
    Lora,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EstimateArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScenarioFlags,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also draw the energy and CO2e plot to this .svg or .png file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScenarioFlags,
    /// What to minimise.
    #[arg(long, value_enum, default_value_t = Objective::Time)]
    pub objective: Objective,
    /// How many ranked plans to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Fix the schedule at Megatron-LM 2022's (no TP overlap, SP all-gather
    /// redo, no offload, tensor-fastest rank order) instead of searching it.
    #[arg(long)]
    pub megatron_schedule: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ScenarioFlags {
    #[must_use]
    pub fn to_input(&self) -> ScenarioInput {
        ScenarioInput {
            model: self.model.clone(),
            system: self.system.clone(),
            accelerator: self.accelerator.clone(),
            nodes: self.nodes,
            gpus: self.gpus,
            tokens: self.tokens,
            seq_len: self.seq_len,
            global_batch: self.global_batch,
            micro_batch: self.micro_batch,
            tp: self.tp,
            pp: self.pp,
            interleave: self.interleave,
            sp: self.sp,
            ep: self.ep,
            zero: self.zero,
            recompute: self.recompute,
            dtype: self.dtype,
            mfu: self.mfu,
            site: self.site.clone(),
            pue: self.pue,
            grid_intensity: self.grid_intensity,
            electricity_price: self.electricity_price,
            price_per_gpu_hour: self.price_per_gpu_hour,
            hours: self.hours,
            gpu_hours: self.gpu_hours,
            power_per_gpu: self.power_per_gpu,
            total_power: self.total_power,
            fine_tune: self.fine_tune.map(|f| match f {
                FineTuneArg::Full => FineTuneKind::Full,
                FineTuneArg::Lora => FineTuneKind::Lora,
            }),
            lora_rank: self.lora_rank,
            embodied: if self.no_embodied { Some(false) } else { None },
            simulate: if self.no_simulate { Some(false) } else { None },
            calibration: self.calibration.clone(),
            ..ScenarioInput::default()
        }
    }
}

/// Writes bytes to `out` atomically (temp file + rename), or to stdout.
///
/// # Errors
/// I/O failure, naming the path.
pub fn emit(bytes: &[u8], out: Option<&Path>) -> Result<()> {
    match out {
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(bytes).context("writing to stdout")?;
            Ok(())
        }
        Some(p) => {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp = dir.join(format!(".{}.tmp-{}", p.file_name().and_then(|n| n.to_str()).unwrap_or("out"), std::process::id()));
            std::fs::write(&tmp, bytes).with_context(|| format!("--out {}: cannot write", p.display()))?;
            std::fs::rename(&tmp, p).with_context(|| {
                let _ = std::fs::remove_file(&tmp);
                format!("--out {}: cannot move the finished file into place", p.display())
            })?;
            Ok(())
        }
    }
}

/// Builds the scenario input: the file (or the built-in default) with the
/// flags laid over it. Returns the input and the fields taken from the
/// built-in default.
///
/// # Errors
/// Unreadable or malformed scenario file.
pub fn scenario_input(file: Option<&Path>, flags: &ScenarioFlags) -> Result<(ScenarioInput, Vec<String>)> {
    let over = flags.to_input();
    match file {
        Some(p) => {
            let mut base = ScenarioInput::from_path(p)?;
            base.merge(&over);
            Ok((base, Vec::new()))
        }
        None => {
            let mut base = ScenarioInput::builtin();
            let given = set_fields(&over);
            base.merge(&over);
            if !given.is_empty() {
                base.name = None;
            }
            let defaulted: Vec<String> = set_fields(&base).into_iter().filter(|f| !given.contains(f) && f != "name").collect();
            Ok((base, defaulted))
        }
    }
}

/// Runs the CLI.
///
/// # Errors
/// Any user-facing error, with a message naming the flag/file and the fix.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Estimate(a) => {
            if report::is_binary(a.format) && a.out.is_none() {
                anyhow::bail!("--format {} is binary: give --out FILE", format!("{:?}", a.format).to_lowercase());
            }
            let plot_format = a.plot.as_deref().map(report::plot::PlotFormat::from_path).transpose().map_err(anyhow::Error::msg)?;
            let (input, defaulted) = scenario_input(a.scenario.as_deref(), &a.flags)?;
            let sc = input.resolve(defaulted)?;
            let e = estimate::estimate(&sc)?;
            let bytes = report::exporter(a.format).render(&e).map_err(anyhow::Error::msg)?;
            // render everything before writing anything: no partial outputs
            let plot = match (plot_format, a.plot.as_deref()) {
                (Some(f), Some(p)) => Some((report::plot::render(&e, f).map_err(anyhow::Error::msg)?, p)),
                _ => None,
            };
            emit(&bytes, a.out.as_deref())?;
            if let Some((b, p)) = plot {
                emit(&b, Some(p))?;
            }
            Ok(())
        }
        Command::Calibrate(a) => calibrate(&a),
        Command::Plan(a) => {
            let (mut input, defaulted) = scenario_input(a.scenario.as_deref(), &a.flags)?;
            let tokens_given = input.tokens.is_some();
            if !tokens_given {
                // a plan needs no token count; resolve with a placeholder
                input.tokens = Some(Count(1.0));
            }
            let sc = input.resolve(defaulted)?;
            let r = estimate::plan(&sc, tokens_given, a.objective, a.top, a.megatron_schedule)?;
            let bytes = match a.format {
                PlanFormat::Json => {
                    let mut v = serde_json::to_vec_pretty(&r).context("serializing the plan report")?;
                    v.push(b'\n');
                    v
                }
                PlanFormat::Table => estimate::plan_table(&r).into_bytes(),
            };
            emit(&bytes, a.out.as_deref())
        }
        Command::List { what } => {
            let kind = match what {
                ListWhat::Hardware => Kind::Accelerator,
                ListWhat::Systems => Kind::System,
                ListWhat::Sites => Kind::Site,
                ListWhat::Models => Kind::Model,
            };
            let mut out = String::new();
            for id in catalog::ids(kind) {
                let line = match kind {
                    Kind::Accelerator => catalog::accelerator(&id).map(|a| format!("{id:<22} {} ({} GiB, {} W)", a.name, a.memory_gib, a.tdp_w))?,
                    Kind::System => catalog::system(&id).map(|s| format!("{id:<22} {} ({} x {}, {} W max)", s.name, s.accelerators_per_node, s.accelerator, s.node_max_power_w))?,
                    Kind::Site => catalog::site(&id).map(|s| format!("{id:<32} {} ({} gCO2e/kWh, PUE {})", s.name, s.grid_gco2e_per_kwh, s.pue))?,
                    Kind::Model => catalog::model(&id).map(|m| format!("{id:<24} {} ({} params)", m.name, report::si(m.params().total)))?,
                };
                out.push_str(&line);
                out.push('\n');
            }
            emit(out.as_bytes(), None)
        }
        Command::Show { id } => {
            let text = show(&id)?;
            emit(text.as_bytes(), None)
        }
    }
}

fn show(id: &str) -> Result<String> {
    for kind in [Kind::Accelerator, Kind::System, Kind::Site, Kind::Model] {
        if catalog::ids(kind).iter().any(|i| i == id) {
            let body = match kind {
                Kind::Accelerator => toml::to_string_pretty(&catalog::accelerator(id)?)?,
                Kind::System => toml::to_string_pretty(&catalog::system(id)?)?,
                Kind::Site => toml::to_string_pretty(&catalog::site(id)?)?,
                Kind::Model => {
                    let m = catalog::model(id)?;
                    let p = m.params();
                    format!("{}\n# computed: params_total = {:.4e}, params_active = {:.4e}\n", toml::to_string_pretty(&m)?, p.total, p.active)
                }
            };
            return Ok(format!("# {}/{id}.toml\n{body}", kind.prefix()));
        }
    }
    anyhow::bail!("unknown id `{id}`: not an accelerator, system, site or model; run `flopprint list hardware|systems|sites|models`")
}

/// The exact GEMM shapes (m, n, k) of a model's training step under TP
/// (batched attention GEMMs left out: the profile times single GEMMs).
fn model_shapes(a: &CalibrateArgs) -> Result<Vec<crate::calibrate::GemmShape>> {
    let Some(id) = &a.model else { return Ok(Vec::new()) };
    let spec = catalog::model(id)?;
    let seq = a.seq_len.unwrap_or(spec.max_seq_len.min(2048));
    let plan = crate::plan::Plan {
        tp: a.tp,
        pp: 1,
        dp: 1,
        interleave: 1,
        sp: a.tp > 1,
        ep: 1,
        zero: 0,
        recompute: crate::flops::Recompute::None,
        micro_batch: a.micro_batch,
        global_batch: a.micro_batch,
        dtype: Dtype::Fp32,
    };
    plan.validate(&spec).map_err(|e| anyhow::anyhow!("calibrate --model {id}: {e}"))?;
    let w = crate::workload::build(&spec, &plan, seq);
    let mut shapes: Vec<crate::calibrate::GemmShape> = Vec::new();
    let ops = w.blocks.iter().flat_map(|b| b.forward.iter().chain(b.backward.iter())).chain(w.head_forward.iter()).chain(w.head_backward.iter());
    for op in ops {
        if let crate::workload::Op::Gemm { m, n, k, batch: 1, .. } = op {
            let sh = crate::calibrate::GemmShape::new(usize::try_from(*m)?, usize::try_from(*n)?, usize::try_from(*k)?);
            if !shapes.contains(&sh) {
                shapes.push(sh);
            }
        }
    }
    Ok(shapes)
}

fn calibrate(a: &CalibrateArgs) -> Result<()> {
    use crate::calibrate::{self as cal, DeviceKind};
    let devices = match a.device {
        CalDevice::Cpu => vec![DeviceKind::Cpu],
        CalDevice::Cuda => vec![DeviceKind::Cuda],
        CalDevice::All => vec![DeviceKind::Cpu, DeviceKind::Cuda],
    };
    if let Some(b) = a.budget {
        if !(b.is_finite() && b > 0.0 && b <= 86_400.0) {
            anyhow::bail!("--budget {b}: must be a number of seconds in (0, 86400]");
        }
    }
    if a.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let defaults = cal::CalibrateOptions::default();
    let opts = cal::CalibrateOptions {
        devices: devices.clone(),
        quick: !a.full,
        full: a.full,
        dtypes: a.dtypes.clone(),
        extra_shapes: model_shapes(a)?,
        time_budget_s: a.budget.unwrap_or(if a.full { 60.0 } else { defaults.time_budget_s }),
        threads: a.threads,
        progress: true,
    };
    let mut profiles = Vec::new();
    for d in devices {
        match cal::run(&cal::CalibrateOptions { devices: vec![d], ..opts.clone() }) {
            Ok(p) => profiles.push(p),
            // with --device all, a machine without a GPU still calibrates its CPU
            Err(e) if a.device == CalDevice::All && d == DeviceKind::Cuda => eprintln!("note: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
    let mut checks = Vec::new();
    if a.check {
        for p in &profiles {
            let dtype = if p.results.iter().any(|r| r.dtype == Dtype::Fp32) { Dtype::Fp32 } else { p.results.first().map_or(Dtype::Fp32, |r| r.dtype) };
            for h in [512, 768, 1024] {
                let shapes = cal::transformer_step_shapes(h, 2048, dtype);
                checks.push((h, cal::check(p, &shapes)?));
            }
        }
    }
    let json = if profiles.len() == 1 { profiles[0].to_json() } else { serde_json::to_string_pretty(&profiles)? };
    let shown = match a.format {
        CalFormat::Json => format!("{json}\n"),
        CalFormat::Table => calibration_table(&profiles, &checks),
    };
    if let Some(out) = &a.out {
        emit(format!("{json}\n").as_bytes(), Some(out))?;
    }
    emit(shown.as_bytes(), None)
}

fn calibration_table(profiles: &[crate::calibrate::CalibrationProfile], checks: &[(usize, crate::calibrate::CheckReport)]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for p in profiles {
        let _ = writeln!(s, "device: {} ({:?}, {} threads){}", p.device.name, p.device.kind, p.device.threads, p.device.catalog_id.as_ref().map_or(String::new(), |c| format!(", catalog id {c}")));
        for pk in &p.device.peaks {
            let _ = writeln!(
                s,
                "peak {} [{}]: theoretical {} GFLOP/s, FMA loop {} GFLOP/s{}",
                pk.dtype,
                pk.isa,
                pk.theoretical_flops_per_s.map_or("n/a".into(), |v| format!("{:.1}", v / 1e9)),
                pk.measured_flops_per_s.map_or("n/a".into(), |v| format!("{:.1}", v / 1e9)),
                if pk.used_by_gemm_backend { " (used by the GEMM backend)" } else { "" }
            );
        }
        let _ = writeln!(s, "power: {:?} {}", p.power.source, p.power.note);
        let _ = writeln!(s, "{:<6} {:>6} {:>6} {:>6} {:>10} {:>12} {:>22} {:>6} {:>7} {:>8}", "dtype", "m", "n", "k", "GFLOP/s", "median ms", "95% CI ms", "CV %", "repeats", "verified");
        for r in &p.results {
            let _ = writeln!(
                s,
                "{:<6} {:>6} {:>6} {:>6} {:>10.1} {:>12.3} {:>10.3} - {:<10.3} {:>6.1} {:>7} {:>8}",
                r.dtype, r.m, r.n, r.k, r.flops_per_s / 1e9, r.seconds_median * 1e3, r.ci95_low * 1e3, r.ci95_high * 1e3, r.cv * 100.0, r.repeats, r.verified
            );
        }
        for w in &p.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
    }
    for (h, c) in checks {
        let _ = writeln!(s, "check h={h}, 2048 tokens ({} GEMMs, {:.2} GFLOP): predicted {:.2} ms, measured {:.2} ms (95% CI {:.2}-{:.2}), error {:+.1} %", c.items.len(), c.total_flops / 1e9, c.predicted_s * 1e3, c.measured_s * 1e3, c.measured_ci95_low * 1e3, c.measured_ci95_high * 1e3, c.rel_error * 100.0);
    }
    s
}
