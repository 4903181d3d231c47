//! The command-line surface (clap derive), in the binary: parse, call the
//! library, print. Errors go to stderr with a non-zero exit; a file given
//! with `--out` is written whole or not at all.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use flopprint::catalog::Kind;
use flopprint::dtype::Dtype;
use flopprint::report::{self, Format};
use flopprint::scenario::{self, ScenarioInput};
use flopprint::search::Objective;
use flopprint::{estimate, planner};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Parser)]
#[command(name = "flopprint", version, about = "What training a neural network will cost before you pay for it: time, GPU-hours, money, energy and CO2e.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// The examples each subcommand's --help ends with. tests/it/help_examples.rs
// runs every line that starts with `  flopprint ` (in a temporary directory,
// in order), so they must stay real and working.
const ESTIMATE_EXAMPLES: &str = "Examples:
  flopprint estimate --model llama2-7b --system dgx-a100-80gb --nodes 4 --tokens 100B
  flopprint estimate reports/seed/strubell-bert-base.toml --format json
  flopprint estimate --system dgx-h100 --nodes 64 --site france --format xlsx --out plan.xlsx";
const PLAN_EXAMPLES: &str = "Examples:
  flopprint plan --model mixtral-8x7b --system dgx-h100 --gpus 64 --top 3 --megatron-schedule
  flopprint plan --deadline 60 --objective cost --max-gpus 4096
  flopprint plan --model llama2-7b --system dgx-h100 --tokens 200B --budget 5e4 --plot front.svg";
const SWEEP_EXAMPLES: &str = "Examples:
  flopprint sweep --nodes 8..256x2 --site france,poland,us-east-1-virginia --mfu 0.4
  flopprint sweep --model llama2-7b,llama3-8b --nodes 4,16 --tokens 1T --out sweep/";
const REPORT_EXAMPLES: &str = "Examples:
  flopprint report --model llama2-7b --system dgx-h100 --nodes 4 --tokens 100B --out report/
  flopprint report reports/seed/mt-nlg-530b.toml --out mt-nlg-report/";
const CALIBRATE_EXAMPLES: &str = "Examples:
  flopprint calibrate --dtypes fp64 --budget 2 --out cpu.json
  flopprint calibrate --dtypes fp64 --threads 1 --budget 2 --format json";
const LIST_EXAMPLES: &str = "Examples:
  flopprint list systems
  flopprint list models";
const VALIDATE_EXAMPLES: &str = "Examples:
  flopprint validate
  flopprint validate --format json --out validation.json";
const SHOW_EXAMPLES: &str = "Examples:
  flopprint show dgx-h100
  flopprint show llama2-70b";
const COMPLETIONS_EXAMPLES: &str = "Examples:
  flopprint completions bash > flopprint.bash
  flopprint completions zsh > _flopprint
  flopprint completions fish > flopprint.fish";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Estimate (or account) a training run: FLOPs, time, energy, CO2e, cost.
    #[command(after_help = ESTIMATE_EXAMPLES)]
    Estimate(EstimateArgs),
    /// Search parallelisation plans (TP x PP x interleave x micro-batch x
    /// recompute x SP x ZeRO x EP) for a fixed cluster and global batch,
    /// simulate each, and rank the ones that fit in memory. With --deadline
    /// or --budget, search the cluster size too and print the Pareto front
    /// of time, cost and CO2e.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Estimate the cross product of lists of inputs (--nodes 8..256x2 --site france,poland ...) in parallel: one row per scenario, failed ones with their error; --out DIR writes sweep.csv, sweep.parquet, sweep.json, sweep.xlsx.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(SweepArgs),
    /// Write a report directory: report.md (scenario, results, method, sources) with plots as SVG and PNG (scaling, CO2e by site, energy and cost breakdowns, memory, uncertainty, tornado).
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Measure this machine: time real GEMMs on the CPU (and NVIDIA GPU), sample power, write a calibration profile.
    #[command(after_help = CALIBRATE_EXAMPLES)]
    Calibrate(CalibrateArgs),
    /// List catalog entries.
    #[command(after_help = LIST_EXAMPLES)]
    List {
        /// What to list.
        what: ListWhat,
    },
    /// Compare predictions with published training runs (step time, TFLOP/s, MFU, GPU-hours, energy) and the 6ND@40% rule of thumb.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Show one catalog entry (accelerator, system, site or model) with its sources.
    #[command(after_help = SHOW_EXAMPLES)]
    Show {
        /// The id, e.g. a100-sxm4-80gb, dgx-h100, france, gpt3-175b.
        id: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ListWhat {
    Hardware,
    Systems,
    Sites,
    Models,
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
    /// Deterministic fake backend for tests: no kernel runs.
    #[arg(long, hide = true)]
    pub fake_backend: bool,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct EstimateArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScenarioInput,
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

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Dataset TOML (default: the embedded tests/data/published_runs.toml).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Table)]
    pub format: PlanFormat,
    /// Write to this file instead of stdout (written whole or not at all).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct ReportArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScenarioInput,
    /// The directory to write report.md and the plots into (each file written whole or not at all).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: flopprint::sweep::SweepInput,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    pub format: SweepFormat,
    /// Write sweep.csv, sweep.parquet, sweep.json and sweep.xlsx into this directory (each written whole or not at all).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
#[command(allow_negative_numbers = true)]
pub struct PlanArgs {
    /// Scenario TOML (fields as the flags); flags override it.
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub flags: ScenarioInput,
    /// What to minimise. With --deadline/--budget: time = the fastest size within them, cost = the cheapest (rental), co2e = the lowest CO2e.
    #[arg(long, value_enum, default_value_t = Objective::Time)]
    pub objective: Objective,
    /// How many ranked plans (or cluster sizes) to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Search the cluster size too: the run (wall clock, goodput included) must finish within DAYS.
    #[arg(long, value_name = "DAYS", help_heading = "Cluster size")]
    pub deadline: Option<f64>,
    /// Search the cluster size too: the rental cost must stay within USD (needs a rental price).
    #[arg(long, value_name = "USD", help_heading = "Cluster size")]
    pub budget: Option<f64>,
    /// The largest cluster the size search tries, in GPUs (default 16384).
    #[arg(long, value_name = "N", help_heading = "Cluster size")]
    pub max_gpus: Option<u64>,
    /// With --deadline/--budget: draw the Pareto plot (time vs cost and CO2e) to this .svg or .png file; repeat for both.
    #[arg(long, value_name = "FILE", help_heading = "Cluster size")]
    pub plot: Vec<PathBuf>,
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
            let (input, defaulted) = scenario::input_with_defaults(a.scenario.as_deref(), &a.flags)?;
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
        Command::Sweep(a) => sweep(&a),
        Command::Report(a) => {
            let r = report::full::run(a.scenario.as_deref(), &a.flags).map_err(anyhow::Error::msg)?;
            let files = report::full::files(&r).map_err(anyhow::Error::msg)?;
            std::fs::create_dir_all(&a.out).with_context(|| format!("--out {}: cannot create the directory", a.out.display()))?;
            for (name, bytes) in &files {
                emit(bytes, Some(&a.out.join(name)))?;
            }
            eprintln!("wrote {} files to {}", files.len(), a.out.display());
            Ok(())
        }
        Command::Plan(a) if a.deadline.is_some() || a.budget.is_some() => plan_sizes(&a),
        Command::Plan(a) => {
            if a.max_gpus.is_some() || !a.plot.is_empty() {
                anyhow::bail!("--max-gpus and --plot belong to the cluster-size search: give --deadline DAYS or --budget USD");
            }
            let (mut input, defaulted) = scenario::input_with_defaults(a.scenario.as_deref(), &a.flags)?;
            let tokens_given = input.tokens.is_some();
            if !tokens_given {
                // a plan needs no token count
                input.tokens = Some(scenario::Count(1.0));
            }
            let mut sc = input.resolve(defaulted)?;
            if !tokens_given {
                sc.tokens = None;
            }
            let r = planner::rank_plans(&sc, a.objective, a.top, a.megatron_schedule)?;
            let bytes = match a.format {
                PlanFormat::Json => {
                    let mut v = serde_json::to_vec_pretty(&r).context("serializing the plan report")?;
                    v.push(b'\n');
                    v
                }
                PlanFormat::Table => planner::plan_table(&r).into_bytes(),
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
            emit(report::catalog::list(kind)?.as_bytes(), None)
        }
        Command::Validate(a) => {
            let v = match &a.data {
                Some(p) => {
                    let text = std::fs::read_to_string(p).with_context(|| format!("--data {}: cannot read", p.display()))?;
                    flopprint::validate::run(&p.display().to_string(), &text)
                }
                None => flopprint::validate::run_embedded(),
            }
            .map_err(|e| anyhow::anyhow!("--data: {e}"))?;
            let bytes = match a.format {
                PlanFormat::Json => {
                    let mut b = serde_json::to_vec_pretty(&v).context("serializing the validation")?;
                    b.push(b'\n');
                    b
                }
                PlanFormat::Table => flopprint::validate::table(&v).into_bytes(),
            };
            emit(&bytes, a.out.as_deref())
        }
        Command::Show { id } => emit(report::catalog::show(&id)?.as_bytes(), None),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "flopprint", &mut script);
            emit(&script, None)
        }
    }
}

fn plan_sizes(a: &PlanArgs) -> Result<()> {
    use flopprint::sizing;
    let req = sizing::SizingRequest::new(a.deadline, a.budget, a.objective, a.max_gpus, a.top)?;
    if a.megatron_schedule {
        anyhow::bail!("--megatron-schedule applies to a fixed cluster's plan ranking: drop it with --deadline/--budget (each size's plan is estimate's, Megatron-LM's schedule)");
    }
    let plots =
        a.plot.iter().map(|p| report::plot::PlotFormat::from_path(p).map(|f| (p, f))).collect::<Result<Vec<_>, String>>().map_err(anyhow::Error::msg)?;
    let r = sizing::run(a.scenario.as_deref(), &a.flags, &req)?;
    let bytes = match a.format {
        PlanFormat::Json => {
            let mut v = serde_json::to_vec_pretty(&r).context("serializing the plan report")?;
            v.push(b'\n');
            v
        }
        PlanFormat::Table => sizing::table(&r).into_bytes(),
    };
    // render everything before writing anything: no partial outputs
    let chart = sizing::chart(&r);
    let rendered =
        plots.into_iter().map(|(p, f)| report::charts::render(&chart, f).map(|b| (b, p))).collect::<Result<Vec<_>, String>>().map_err(anyhow::Error::msg)?;
    emit(&bytes, a.out.as_deref())?;
    for (b, p) in rendered {
        emit(&b, Some(p))?;
    }
    Ok(())
}

fn sweep(a: &SweepArgs) -> Result<()> {
    use flopprint::sweep;
    let scenarios = sweep::scenarios(&a.flags.axes).map_err(anyhow::Error::msg)?;
    let progress = sweep::Progress::new(scenarios.len());
    let outcomes = sweep::run(a.scenario.as_deref(), &a.flags.flags, scenarios, &|| progress.inc());
    progress.finish();
    // render everything before writing anything: no partial outputs
    let files = match &a.out {
        Some(_) => sweep::render_files(&outcomes).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let shown = match a.format {
        SweepFormat::Table => sweep::table(&outcomes).into_bytes(),
        SweepFormat::Csv => {
            flopprint::report::export::render_frame(&sweep::frame(&outcomes).map_err(anyhow::Error::msg)?, flopprint::report::export::Sheet::Csv)
                .map_err(anyhow::Error::msg)?
        }
        SweepFormat::Json => sweep::json(&sweep::frame(&outcomes).map_err(anyhow::Error::msg)?).map_err(anyhow::Error::msg)?,
    };
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}: cannot create the directory", dir.display()))?;
        for (name, bytes) in &files {
            emit(bytes, Some(&dir.join(name)))?;
        }
    }
    emit(&shown, None)
}

fn calibrate(a: &CalibrateArgs) -> Result<()> {
    use flopprint::calibrate::{self as cal, DeviceKind};
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
    let extra_shapes = match &a.model {
        Some(id) => {
            let spec = flopprint::catalog::model(id)?;
            let seq = a.seq_len.unwrap_or(spec.max_seq_len.min(2048));
            cal::model_shapes(&spec, a.tp, seq, a.micro_batch)?
        }
        None => Vec::new(),
    };
    let defaults = cal::CalibrateOptions::default();
    let opts = cal::CalibrateOptions {
        devices,
        quick: !a.full,
        full: a.full,
        dtypes: a.dtypes.clone(),
        extra_shapes,
        time_budget_s: a.budget.unwrap_or(if a.full { 60.0 } else { defaults.time_budget_s }),
        threads: a.threads,
        progress: !a.fake_backend,
        fake: a.fake_backend,
    };
    let run = cal::run_all(&opts)?;
    for (d, why) in &run.skipped {
        eprintln!("note: {d:?} skipped: {why}");
    }
    let profiles = run.profiles;
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
        CalFormat::Table => report::calibration::table(&profiles, &checks),
    };
    if let Some(out) = &a.out {
        emit(format!("{json}\n").as_bytes(), Some(out))?;
    }
    emit(shown.as_bytes(), None)
}
