//! The pipeline from a resolved scenario to figures: FLOPs, plan and
//! memory, time, power, energy, CO2e and cost. Predict and account modes
//! share it; only the source of the wall-clock time differs.

use crate::catalog::ModelSpec;
use crate::search::{self, Constraints, Objective, Problem};
use crate::simulator::{AnalyticDevice, Breakdown, DeviceModel, Network, Offload, SimOptions, Simulator, TpOverlap};
use crate::workload;
use crate::flops::{training_per_token, FineTune, Recompute, TokenFlops};
use crate::footprint::{self, FootprintInputs, PowerModel};
use crate::memory::{self, MemoryBreakdown};
use crate::plan::{Plan, PlanError};
use crate::scenario::{Mode, Scenario};
use crate::uncertainty::{monte_carlo, Point, Spreads, Uncertainty};
use crate::units::{Flop, GramsPerKwh, Seconds, Usd, UsdPerGpuHour, UsdPerKwh, Watts};
use serde::Serialize;
use std::collections::BTreeMap;

/// Errors of the estimate itself (after the scenario resolved).
#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the plan does not fit in memory: {need:.1} GiB per GPU needed, {have:.1} GiB available ({breakdown}); {fix}")]
    DoesNotFit { need: f64, have: f64, breakdown: String, fix: String },
    #[error("{0}")]
    Other(String),
}

/// The plan echoed in the output.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOut {
    pub tp: u64,
    pub pp: u64,
    pub dp: u64,
    pub interleave: u64,
    pub sp: bool,
    pub ep: u64,
    pub zero: u8,
    pub recompute: Recompute,
    pub micro_batch: u64,
    pub global_batch: u64,
    pub micro_batches_per_step: u64,
    /// `user` (--tp and --pp given), `auto` (the fastest feasible plan of
    /// the search).
    pub chosen_by: &'static str,
}

/// Everything `estimate` prints. Field names carry units.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub scenario: Option<String>,
    pub mode: Mode,
    pub model: String,
    pub model_name: String,
    pub accelerator: String,
    pub system: Option<String>,
    pub site: String,
    pub gpus: u64,
    pub nodes: Option<u64>,
    pub dtype: String,
    pub fine_tune: String,
    pub params_total: f64,
    pub params_active: f64,
    pub params_trainable: f64,
    pub tokens: Option<f64>,
    pub seq_len: u64,
    pub flops_per_token: f64,
    pub flops_total: Option<f64>,
    pub flops_hardware_total: Option<f64>,
    pub steps: Option<f64>,
    pub step_time_s: Option<f64>,
    pub mfu: Option<f64>,
    pub hfu: Option<f64>,
    pub mfu_source: String,
    pub model_tflops_per_gpu: Option<f64>,
    pub hardware_tflops_per_gpu: Option<f64>,
    pub peak_tflops_per_gpu: f64,
    pub wall_time_h: f64,
    pub wall_time_days: f64,
    pub gpu_hours: f64,
    pub power_per_gpu_w: f64,
    pub power_total_w: f64,
    pub power_source: String,
    pub energy_it_kwh: f64,
    pub energy_accelerators_kwh: Option<f64>,
    pub energy_node_rest_kwh: Option<f64>,
    pub energy_facility_kwh: f64,
    pub pue: f64,
    pub grid_gco2e_per_kwh: f64,
    pub co2e_operational_kg: f64,
    pub co2e_embodied_kg: f64,
    pub co2e_total_kg: f64,
    pub co2e_total_t: f64,
    pub price_per_gpu_hour_usd: Option<f64>,
    pub cost_rental_usd: Option<f64>,
    pub capex_usd: Option<f64>,
    pub electricity_price_usd_per_kwh: f64,
    pub electricity_cost_usd: f64,
    pub cost_owned_usd: Option<f64>,
    /// Capex amortised over the hardware lifetime for this run's duration,
    /// plus electricity (Epoch AI's "owned hardware" accounting, Cottier et
    /// al. 2024, amortises hardware cost over its useful life).
    pub cost_owned_amortised_usd: Option<f64>,
    pub hardware_lifetime_years: f64,
    pub memory_per_gpu_gib: f64,
    pub memory_capacity_gib: f64,
    pub fits_in_memory: bool,
    pub memory: MemoryBreakdown,
    pub plan: PlanOut,
    /// Where the simulated step time goes (null when the time is not
    /// simulated: `--mfu` or accounting mode).
    pub breakdown: Option<Breakdown>,
    pub flights_ny_sf: f64,
    pub car_km: f64,
    /// P5/P50/P95 of the main outputs (Monte Carlo over uncertain inputs).
    pub uncertainty: Uncertainty,
    /// Where each input number came from.
    pub sources: BTreeMap<String, String>,
    /// Assumptions and notes a reader should know.
    pub notes: Vec<String>,
}

/// Monte Carlo samples per estimate (P5/P95 stable to ~1 % at 4,000).
pub const UNCERTAINTY_SAMPLES: usize = 4000;
/// Fixed seed: the same scenario always prints the same ranges.
pub const UNCERTAINTY_SEED: u64 = 0x666c_6f70_7072_696e;

/// The per-replica batch default: the model's published global batch, else
/// ~4M tokens per step (Touvron et al. 2023 §2.2 used 4M-token batches).
fn default_global_batch(spec: &ModelSpec, seq_len: u64, dp_hint: u64) -> u64 {
    if let Some(g) = spec.training.as_ref().and_then(|t| t.global_batch) {
        return g;
    }
    let g = ((4_194_304 / seq_len.max(1)).max(1)).max(dp_hint);
    // round up to a multiple of the DP size so micro-batches divide it
    g.div_ceil(dp_hint.max(1)) * dp_hint.max(1)
}

/// The search constraints from the user's flags.
#[must_use]
pub fn constraints(i: &crate::scenario::ScenarioInput) -> Constraints {
    Constraints {
        tp: i.tp,
        pp: i.pp,
        interleave: i.interleave,
        sp: i.sp,
        ep: i.ep,
        zero: i.zero,
        recompute: i.recompute,
        micro_batch: i.micro_batch,
        dp_overlap: None,
        ..Constraints::default()
    }
    .megatron_schedule()
}

/// Builds the plan: the user's flags where `--tp` and `--pp` are given
/// (other fields default to Megatron-LM's large-model settings: SP with TP,
/// selective recomputation, ZeRO-1 with DP; Korthikanti et al. 2022);
/// otherwise the fastest feasible plan of [`search`](crate::search) with
/// the given flags held fixed.
fn choose_plan(sc: &Scenario, global_batch_in: Option<u64>, device: &(dyn DeviceModel + Sync), network: &Network) -> Result<(Plan, SimOptions, MemoryBreakdown, &'static str), EstimateError> {
    let i = &sc.input;
    let spec = &sc.model;
    let gpus = sc.gpus;
    let capacity = sc.accelerator.memory();
    if let Some(tp) = i.tp {
        if tp > 0 && !spec.heads.is_multiple_of(tp) {
            return Err(PlanError::TpHeads { tp, heads: spec.heads }.into());
        }
    }
    if let (Some(tp), Some(pp)) = (i.tp, i.pp) {
        if tp == 0 || pp == 0 || !gpus.is_multiple_of(tp * pp) {
            return Err(PlanError::GpusNotDivisible { gpus, tp, pp }.into());
        }
        let dp = gpus / (tp * pp);
        let micro = i.micro_batch.unwrap_or(1);
        let global = global_batch_in.unwrap_or_else(|| default_global_batch(spec, sc.seq_len, dp * micro));
        let plan = Plan {
            tp,
            pp,
            dp,
            interleave: i.interleave.unwrap_or(1),
            sp: i.sp.unwrap_or(tp > 1),
            ep: i.ep.unwrap_or(1),
            zero: i.zero.unwrap_or(u8::from(dp > 1)),
            recompute: i.recompute.unwrap_or(Recompute::Selective),
            micro_batch: micro,
            global_batch: global,
            dtype: sc.dtype,
        };
        plan.validate(spec)?;
        let mem = memory::per_device(spec, &plan, sc.seq_len, sc.fine_tune, capacity);
        return Ok((plan, SimOptions::default(), mem, "user"));
    }
    let global = global_batch_in.unwrap_or_else(|| default_global_batch(spec, sc.seq_len, gpus));
    let problem = Problem {
        spec,
        seq_len: sc.seq_len,
        gpus,
        global_batch: global,
        round_batch: false,
        dtype: sc.dtype,
        fine_tune: sc.fine_tune,
        capacity,
        device,
        network,
        constraints: constraints(i),
    };
    let r = search::search(&problem, 1);
    if let Some(best) = r.top.into_iter().next() {
        return Ok((best.plan, best.options, best.memory, "auto"));
    }
    if let Some(l) = r.least_memory {
        return Ok((l.plan, l.options, l.memory, "auto"));
    }
    Err(EstimateError::Other(format!(
        "no valid plan for {gpus} GPUs and global batch {global} ({} candidate splits violate a constraint): give a --global-batch divisible by the data-parallel size, or --tp/--pp explicitly",
        r.configs_invalid
    )))
}

fn breakdown_text(m: &MemoryBreakdown) -> String {
    format!(
        "weights {:.1} + gradients {:.1} + optimizer {:.1} + activations {:.1} + reserve {:.1} GiB",
        m.weights_gib, m.gradients_gib, m.optimizer_gib, m.activations_gib, m.reserve_gib
    )
}

/// Runs the pipeline.
///
/// # Errors
/// An invalid plan, or (in predict mode) a plan that does not fit memory.
#[allow(clippy::too_many_lines)]
pub fn estimate(sc: &Scenario) -> Result<Estimate, EstimateError> {
    let i = &sc.input;
    let spec = &sc.model;
    let mut notes: Vec<String> = Vec::new();
    let mut sources = BTreeMap::new();
    let params = spec.params();
    if !sc.accelerator.tdp_w.is_finite() && i.power_per_gpu.is_none() && i.total_power.is_none() {
        return Err(EstimateError::Other(format!(
            "the calibration profile of `{}` has no measured power (RAPL/NVML were not readable when it was made): give --power-per-gpu W or --total-power W",
            sc.accelerator.name
        )));
    }
    if !sc.accelerator.memory_gib.is_finite() {
        return Err(EstimateError::Other("the calibration profile does not record the device's memory: rerun `flopprint calibrate`".into()));
    }
    let device = device_model(sc);
    let device: &(dyn DeviceModel + Sync) = device.as_ref();
    if let Some(p) = &sc.calibration {
        sources.insert("device_model".into(), format!("calibration profile of {} ({} verified GEMM results, {} threads, {})", p.device.name, p.results.iter().filter(|r| r.verified).count(), p.device.threads, p.software.backend));
    }
    let network = Network::from_system(sc.system.as_ref(), sc.gpus);
    let (plan, sim_options, mem, chosen_by) = choose_plan(sc, i.global_batch, device, &network)?;
    if !mem.fits && sc.mode == Mode::Predict {
        let fix = if chosen_by == "user" {
            "raise --tp/--pp, use --recompute full, a smaller --micro-batch, --zero 1..3, or more GPUs"
        } else {
            "no TP x PP split of these GPUs fits: use more GPUs, --recompute full, --zero 3, or hardware with more memory"
        };
        return Err(EstimateError::DoesNotFit { need: mem.total_gib, have: mem.capacity_gib, breakdown: breakdown_text(&mem), fix: fix.to_string() });
    }
    if !mem.fits {
        notes.push(format!("the plan does not fit in memory ({:.1} > {:.1} GiB); accounting proceeds from the measured time", mem.total_gib, mem.capacity_gib));
    }
    let tf: TokenFlops = training_per_token(spec, sc.seq_len, plan.recompute, sc.fine_tune);
    let gpus = sc.gpus as f64;
    let peak = sc.accelerator.peak(sc.dtype).map_err(EstimateError::Other)?;
    let peak_cluster = peak * gpus;
    let tokens = sc.tokens;
    let flops_total = tokens.map(|t| tf.model * t);
    let flops_hw = tokens.map(|t| tf.hardware * t);
    let mut breakdown = None;
    let (wall, mfu, mfu_source): (Seconds, Option<f64>, String) = match sc.mode {
        Mode::Predict => match i.mfu {
            Some(m) => {
                let f = flops_total.unwrap_or(Flop::ZERO);
                (f / (peak_cluster * m), Some(m), "--mfu".to_string())
            }
            None if i.simulate == Some(false) => {
                let dm = crate::device::default_mfu(&sc.accelerator);
                let f = flops_total.unwrap_or(Flop::ZERO);
                (f / (peak_cluster * dm.mfu), Some(dm.mfu), format!("default for {} ({}): {}", sc.accelerator.family, sc.accelerator.id, dm.source))
            }
            None => {
                let w = workload::build(spec, &plan, sc.seq_len);
                let b = Simulator { device, network: &network, options: sim_options }.step(&w);
                breakdown = Some(b);
                let steps = tokens.unwrap_or(0.0) / (plan.global_batch as f64 * sc.seq_len as f64);
                let wall = Seconds::new(b.step_time_s * steps);
                let mfu = flops_total.map(|f| f / (peak_cluster * wall));
                (wall, mfu, "simulated: step time from the workload, device and network models (src/simulator); MFU = model FLOPs / (GPUs x peak x time)".to_string())
            }
        },
        Mode::Account => {
            let wall = match (i.hours, i.gpu_hours) {
                (Some(h), _) => Seconds::from_hours(h),
                (None, Some(gh)) => Seconds::from_hours(gh / gpus),
                _ => unreachable!("account mode has hours or gpu-hours"),
            };
            let mfu = flops_total.map(|f| f / (peak_cluster * wall));
            (wall, mfu, "measured: model FLOPs / (GPUs x peak x measured time)".to_string())
        }
    };
    let hfu = flops_hw.map(|f| f / (peak_cluster * wall));
    let steps = tokens.map(|t| t / (plan.global_batch as f64 * sc.seq_len as f64));
    let step_time = steps.map(|s| wall.value() / s);
    let per_gpu = |f: Option<Flop>| f.map(|f| (f / wall).tflops() / gpus);

    // power
    let pm = PowerModel {
        acc_idle: sc.accelerator.idle(),
        acc_tdp: sc.accelerator.tdp(),
        node: sc.system.as_ref().map(|s| (s.idle_power(), s.max_power(), s.accelerators_per_node)),
    };
    let split = pm.at(1.0);
    let (power_total, power_acc, power_source) = match (i.power_per_gpu, i.total_power) {
        (Some(w), _) => (Watts::new(w) * gpus, None, "--power-per-gpu (measured, incl. node share)".to_string()),
        (None, Some(w)) => (Watts::new(w), None, "--total-power (measured, whole job)".to_string()),
        (None, None) => {
            let src = match &sc.system {
                Some(s) => format!("model: {} at TDP {} W plus its 1/{} share of the {} node remainder ({} W max node power)", sc.accelerator.id, sc.accelerator.tdp_w, s.accelerators_per_node, s.id, s.node_max_power_w),
                None => {
                    notes.push("no --system: power counts the accelerators only (no host CPUs, memory, fans); give --system for node power".into());
                    format!("model: {} at TDP {} W (accelerator only)", sc.accelerator.id, sc.accelerator.tdp_w)
                }
            };
            (split.total() * gpus, Some(split.accelerator * gpus), src)
        }
    };

    // site
    let pue = i.pue.unwrap_or(sc.site.pue);
    let grid = i.grid_intensity.map_or_else(|| sc.site.grid(), GramsPerKwh::new);
    let elec = i.electricity_price.map_or_else(|| sc.site.price(), UsdPerKwh::new);
    sources.insert("pue".into(), if i.pue.is_some() { "--pue".into() } else { format!("site {}: {}", sc.site.id, sc.site.pue_source) });
    sources.insert("grid_gco2e_per_kwh".into(), if i.grid_intensity.is_some() { "--grid-intensity".into() } else { format!("site {}: {} ({}; licence {})", sc.site.id, sc.site.grid_source, sc.site.grid_year, sc.site.grid_licence) });
    sources.insert("electricity_price_usd_per_kwh".into(), if i.electricity_price.is_some() { "--electricity-price".into() } else { format!("site {}: {}", sc.site.id, sc.site.electricity_source) });

    // embodied + capex
    let nodes_f = sc.nodes.map(|n| n as f64);
    let embodied = sc.accelerator.embodied() * gpus + sc.system.as_ref().map_or(crate::units::KgCo2e::ZERO, |s| s.embodied_non_accelerator() * nodes_f.unwrap_or(0.0));
    let lifetime = sc.system.as_ref().and_then(|s| s.lifetime_years).unwrap_or_else(|| sc.accelerator.lifetime_years());
    sources.insert("embodied".into(), format!("{}: {}", sc.accelerator.id, sc.accelerator.embodied_method));
    let capex = match (&sc.system, sc.nodes) {
        (Some(s), Some(n)) if s.price().is_some() => {
            sources.insert("capex".into(), format!("{} x {}: {}", n, s.id, s.source_of("price_usd")));
            s.price().map(|p| p * n as f64)
        }
        _ => sc.accelerator.purchase().map(|p| {
            if let Some(s) = &sc.system {
                notes.push(format!("no list price for {}: capex counts the {} accelerators only, not the rest of the nodes", s.id, sc.gpus));
            }
            sources.insert("capex".into(), format!("{} x {}: {}", sc.gpus, sc.accelerator.id, sc.accelerator.source_of("purchase_usd")));
            p * gpus
        }),
    };
    let rental = match i.price_per_gpu_hour {
        Some(p) => {
            sources.insert("price_per_gpu_hour".into(), "--price-per-gpu-hour".into());
            Some(UsdPerGpuHour::new(p))
        }
        None => sc.accelerator.rental().inspect(|_| {
            sources.insert("price_per_gpu_hour".into(), sc.accelerator.source_of("rental_usd_per_gpu_hour"));
        }),
    };
    if rental.is_none() {
        notes.push(format!("no public on-demand price for {}: give --price-per-gpu-hour for the rental cost", sc.accelerator.id));
    }
    let include_embodied = i.embodied.unwrap_or(true);
    let fp = footprint::compute(&FootprintInputs {
        wall_time: wall,
        gpus,
        power_total,
        power_accelerators: power_acc,
        pue,
        grid,
        electricity: elec,
        embodied,
        lifetime_years: lifetime,
        include_embodied,
        rental,
        capex,
    });
    if !include_embodied {
        notes.push("embodied carbon excluded (embodied = false)".into());
    }
    if !sc.defaulted.is_empty() {
        notes.push(format!("from the built-in default scenario: {}", sc.defaulted.join(", ")));
    }
    if let FineTune::Lora { rank } = sc.fine_tune {
        notes.push(format!("LoRA rank {rank} on W_q, W_v: frozen weights skip weight gradients (training FLOPs 4N+ instead of 6N per token); gradients and Adam states only for the {:.3e} adapter parameters", crate::flops::lora_params(spec, rank)));
    }
    sources.insert("model".into(), format!("{} ({})", spec.source, spec.source_year));
    sources.insert("peak".into(), sc.accelerator.source_of("peak_tflops"));
    sources.insert("power".into(), power_source.clone());
    let trainable = match sc.fine_tune {
        FineTune::Full => params.total,
        FineTune::Lora { rank } => crate::flops::lora_params(spec, rank),
    };
    let energy_it = fp.energy_it.kwh();
    let measured_power = i.power_per_gpu.is_some() || i.total_power.is_some();
    let spreads = Spreads {
        throughput_log_sigma: match (sc.mode, i.mfu) {
            (Mode::Account, _) | (_, Some(_)) => 0.0,
            (Mode::Predict, None) if i.simulate == Some(false) => Spreads::DEFAULT_MFU_LOG_SIGMA,
            (Mode::Predict, None) if sc.calibration.is_some() => Spreads::CALIBRATED_LOG_SIGMA,
            // simulated: the device model is validated on A100 (Korthikanti
            // Table 5); other families run on scaled A100 curves
            (Mode::Predict, None) if sc.accelerator.family == "ampere" => Spreads::SIMULATED_LOG_SIGMA,
            (Mode::Predict, None) => Spreads::SIMULATED_OTHER_LOG_SIGMA,
        },
        power_low: if measured_power { 1.0 } else { Spreads::POWER_LOW },
        pue_rel_sigma: if i.pue.is_some() { 0.0 } else { Spreads::PUE_REL_SIGMA },
        grid_rel_sigma: if i.grid_intensity.is_some() { 0.0 } else { Spreads::GRID_REL_SIGMA },
        embodied_log_sigma: Spreads::EMBODIED_LOG_SIGMA,
        price_log_sigma: if i.price_per_gpu_hour.is_some() { 0.0 } else { Spreads::PRICE_LOG_SIGMA },
    };
    let uncertainty = monte_carlo(
        &Point {
            wall_time_h: wall.hours(),
            gpus,
            energy_it_kwh: energy_it,
            pue,
            grid_g_per_kwh: grid.value(),
            embodied_kg: fp.co2e_embodied.value(),
            price_per_gpu_hour: rental.map(UsdPerGpuHour::value),
        },
        &spreads,
        UNCERTAINTY_SAMPLES,
        UNCERTAINTY_SEED,
    );
    let energy_acc = fp.energy_accelerators.map(crate::units::Joules::kwh);
    Ok(Estimate {
        scenario: sc.name.clone(),
        mode: sc.mode,
        model: spec.id.clone(),
        model_name: spec.name.clone(),
        accelerator: sc.accelerator.id.clone(),
        system: sc.system.as_ref().map(|s| s.id.clone()),
        site: sc.site.id.clone(),
        gpus: sc.gpus,
        nodes: sc.nodes,
        dtype: sc.dtype.to_string(),
        fine_tune: match sc.fine_tune {
            FineTune::Full => "full".into(),
            FineTune::Lora { rank } => format!("lora(r={rank})"),
        },
        params_total: params.total,
        params_active: params.active,
        params_trainable: trainable,
        tokens,
        seq_len: sc.seq_len,
        flops_per_token: tf.model.value(),
        flops_total: flops_total.map(Flop::value),
        flops_hardware_total: flops_hw.map(Flop::value),
        steps,
        step_time_s: step_time,
        mfu,
        hfu,
        mfu_source,
        model_tflops_per_gpu: per_gpu(flops_total),
        hardware_tflops_per_gpu: per_gpu(flops_hw),
        peak_tflops_per_gpu: peak.tflops(),
        wall_time_h: wall.hours(),
        wall_time_days: wall.days(),
        gpu_hours: gpus * wall.hours(),
        power_per_gpu_w: power_total.value() / gpus,
        power_total_w: power_total.value(),
        power_source,
        energy_it_kwh: energy_it,
        energy_accelerators_kwh: energy_acc,
        energy_node_rest_kwh: energy_acc.map(|a| energy_it - a),
        energy_facility_kwh: fp.energy_facility.kwh(),
        pue,
        grid_gco2e_per_kwh: grid.value(),
        co2e_operational_kg: fp.co2e_operational.value(),
        co2e_embodied_kg: fp.co2e_embodied.value(),
        co2e_total_kg: fp.co2e_total().value(),
        co2e_total_t: fp.co2e_total().tonnes(),
        price_per_gpu_hour_usd: rental.map(UsdPerGpuHour::value),
        cost_rental_usd: fp.cost_rental.map(Usd::value),
        capex_usd: fp.capex.map(Usd::value),
        electricity_price_usd_per_kwh: elec.value(),
        electricity_cost_usd: fp.electricity_cost.value(),
        cost_owned_usd: fp.cost_owned().map(Usd::value),
        cost_owned_amortised_usd: fp.capex.map(|c| (c * (wall.value() / (lifetime * footprint::SECONDS_PER_YEAR)) + fp.electricity_cost).value()),
        hardware_lifetime_years: lifetime,
        memory_per_gpu_gib: mem.total_gib,
        memory_capacity_gib: mem.capacity_gib,
        fits_in_memory: mem.fits,
        memory: mem,
        plan: PlanOut {
            tp: plan.tp,
            pp: plan.pp,
            dp: plan.dp,
            interleave: plan.interleave,
            sp: plan.sp,
            ep: plan.ep,
            zero: plan.zero,
            recompute: plan.recompute,
            micro_batch: plan.micro_batch,
            global_batch: plan.global_batch,
            micro_batches_per_step: plan.micro_batches(),
            chosen_by,
        },
        breakdown,
        flights_ny_sf: fp.flights_ny_sf(),
        car_km: fp.car_km(),
        uncertainty,
        sources,
        notes,
    })
}

/// One ranked plan of `flopprint plan`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    pub rank: usize,
    pub plan: PlanOut,
    pub dp_overlap: bool,
    pub tp_overlap: TpOverlap,
    pub sp_ag_redo: bool,
    pub offload: Offload,
    /// Rank order data-fastest (else Megatron's tensor-fastest).
    pub dp_inner: bool,
    pub step_time_s: f64,
    pub samples_per_s: f64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub model_tflops_per_gpu: f64,
    pub hardware_tflops_per_gpu: f64,
    pub memory_per_gpu_gib: f64,
    pub breakdown: Breakdown,
    /// With `--tokens`: the whole run.
    pub wall_time_h: Option<f64>,
    pub cost_rental_usd: Option<f64>,
    pub co2e_total_t: Option<f64>,
}

/// What `flopprint plan` prints.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub model: String,
    pub accelerator: String,
    pub system: Option<String>,
    pub gpus: u64,
    pub seq_len: u64,
    pub dtype: String,
    pub global_batch: u64,
    pub objective: Objective,
    pub configs_evaluated: u64,
    pub configs_feasible: u64,
    pub configs_out_of_memory: u64,
    pub configs_invalid: u64,
    pub elapsed_s: f64,
    pub best: Option<PlanEntry>,
    pub top: Vec<PlanEntry>,
    pub notes: Vec<String>,
}

/// The device model: measured GEMM throughput from a calibration profile,
/// else the analytic model of the accelerator's datasheet.
fn device_model(sc: &Scenario) -> Box<dyn DeviceModel + Sync> {
    let analytic = AnalyticDevice::new(&sc.accelerator);
    match &sc.calibration {
        Some(p) => Box::new(crate::calibrate::local::device_model(p.clone(), analytic)),
        None => Box::new(analytic),
    }
}

/// Searches the plans of a scenario and ranks them by `objective`.
///
/// # Errors
/// No feasible plan, or a failure pricing the best one.
pub fn plan(sc: &Scenario, tokens_given: bool, objective: Objective, top: usize, megatron_schedule: bool) -> Result<PlanReport, EstimateError> {
    let spec = &sc.model;
    let device = device_model(sc);
    let network = Network::from_system(sc.system.as_ref(), sc.gpus);
    let global = sc.input.global_batch.unwrap_or_else(|| default_global_batch(spec, sc.seq_len, sc.gpus));
    let mut c = constraints(&sc.input);
    if !megatron_schedule {
        c = Constraints { tp_overlap: None, sp_ag_redo: None, offload: None, dp_inner: None, ..c };
    }
    let problem = Problem {
        spec,
        seq_len: sc.seq_len,
        gpus: sc.gpus,
        global_batch: global,
        round_batch: true,
        dtype: sc.dtype,
        fine_tune: sc.fine_tune,
        capacity: sc.accelerator.memory(),
        device: device.as_ref(),
        network: &network,
        constraints: c,
    };
    let r = search::search(&problem, top.max(1));
    let mut notes = vec![
        "global batch rounded down to a multiple of the data-parallel size where it does not divide (Calculon's rule); each plan shows its own".to_string(),
        "with a fixed GPU count, rental cost and CO2e are proportional to wall time, so the three objectives give the same order".to_string(),
    ];
    if megatron_schedule {
        notes.push("schedule fixed at Megatron-LM 2022's (no TP overlap, SP all-gather redo, no offload, tensor-fastest rank order)".into());
    } else if !network.has_host() {
        notes.push("offload not searched: the system profile gives no host_link_gb_s / host_memory_gib".into());
    }
    // cost and CO2e per hour of this cluster, from the full pipeline
    let rates = match r.top.first() {
        Some(best) if tokens_given => {
            let mut s2 = sc.clone();
            let p = &best.plan;
            s2.input.tp = Some(p.tp);
            s2.input.pp = Some(p.pp);
            s2.input.interleave = Some(p.interleave);
            s2.input.sp = Some(p.sp);
            s2.input.ep = Some(p.ep);
            s2.input.zero = Some(p.zero);
            s2.input.recompute = Some(p.recompute);
            s2.input.micro_batch = Some(p.micro_batch);
            s2.input.global_batch = Some(p.global_batch);
            s2.input.mfu = Some(0.5);
            let e = estimate(&s2)?;
            Some((e.cost_rental_usd.map(|c| c / e.wall_time_h), e.co2e_total_t / e.wall_time_h))
        }
        _ => None,
    };
    let peak = device.peak(sc.dtype).value();
    let entries: Vec<PlanEntry> = r
        .top
        .iter()
        .enumerate()
        .map(|(k, cand)| {
            let p = &cand.plan;
            let tokens_step = (p.global_batch * sc.seq_len) as f64;
            let wall_h = sc.tokens.filter(|_| tokens_given).map(|t| t / tokens_step * cand.step_time_s / 3600.0);
            PlanEntry {
                rank: k + 1,
                plan: PlanOut {
                    tp: p.tp,
                    pp: p.pp,
                    dp: p.dp,
                    interleave: p.interleave,
                    sp: p.sp,
                    ep: p.ep,
                    zero: p.zero,
                    recompute: p.recompute,
                    micro_batch: p.micro_batch,
                    global_batch: p.global_batch,
                    micro_batches_per_step: p.micro_batches(),
                    chosen_by: "search",
                },
                dp_overlap: cand.options.dp_overlap,
                tp_overlap: cand.options.tp_overlap,
                sp_ag_redo: cand.options.sp_ag_redo,
                offload: cand.options.offload,
                dp_inner: cand.options.dp_inner,
                step_time_s: cand.step_time_s,
                samples_per_s: cand.samples_per_s,
                tokens_per_s: cand.samples_per_s * sc.seq_len as f64,
                mfu: cand.mfu,
                hfu: cand.hfu,
                model_tflops_per_gpu: cand.mfu * peak / 1e12,
                hardware_tflops_per_gpu: cand.hfu * peak / 1e12,
                memory_per_gpu_gib: cand.memory_gib,
                breakdown: cand.breakdown,
                wall_time_h: wall_h,
                cost_rental_usd: wall_h.and_then(|w| rates.and_then(|(c, _)| c.map(|c| c * w))),
                co2e_total_t: wall_h.and_then(|w| rates.map(|(_, g)| g * w)),
            }
        })
        .collect();
    if entries.is_empty() {
        let why = r.least_memory.as_ref().map_or_else(
            || format!("no valid split of {} GPUs for global batch {global}", sc.gpus),
            |l| format!("nothing fits in memory: the smallest plan needs {:.1} GiB per GPU ({})", l.memory.total_gib, breakdown_text(&l.memory)),
        );
        notes.push(why);
    }
    Ok(PlanReport {
        model: spec.id.clone(),
        accelerator: sc.accelerator.id.clone(),
        system: sc.system.as_ref().map(|s| s.id.clone()),
        gpus: sc.gpus,
        seq_len: sc.seq_len,
        dtype: sc.dtype.to_string(),
        global_batch: global,
        objective,
        configs_evaluated: r.configs_evaluated,
        configs_feasible: r.configs_feasible,
        configs_out_of_memory: r.configs_out_of_memory,
        configs_invalid: r.configs_invalid,
        elapsed_s: r.elapsed_s,
        best: entries.first().cloned(),
        top: entries,
        notes,
    })
}

/// TP overlap, SP all-gather store (`ag-store`), offloads, rank order.
fn schedule_text(e: &PlanEntry) -> String {
    let mut v: Vec<&str> = Vec::new();
    match e.tp_overlap {
        TpOverlap::None => {}
        TpOverlap::Ring => v.push("ring"),
        TpOverlap::Pipe => v.push("pipe"),
    }
    if !e.sp_ag_redo {
        v.push("agst");
    }
    let o = e.offload;
    let off: String = [(o.weights, 'w'), (o.activations, 'a'), (o.optimizer, 'o')].iter().filter(|x| x.0).map(|x| x.1).collect();
    let off = if off.is_empty() { String::new() } else { format!("off:{off}") };
    if !off.is_empty() {
        v.push(&off);
    }
    if e.dp_inner {
        v.push("dp-in");
    }
    if v.is_empty() { "-".into() } else { v.join(",") }
}

/// A table of a plan report.
#[must_use]
pub fn plan_table(r: &PlanReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{} on {} x {} ({}), global batch {}, seq {}: {} configs evaluated, {} feasible, {} out of memory, {} invalid, {:.3} s", r.model, r.gpus, r.accelerator, r.dtype, r.global_batch, r.seq_len, r.configs_evaluated, r.configs_feasible, r.configs_out_of_memory, r.configs_invalid, r.elapsed_s);
    let _ = writeln!(s, "{:>4} {:>3} {:>3} {:>5} {:>2} {:>3} {:>3} {:>4} {:>9} {:>3} {:>4} {:>6} {:>14} {:>9} {:>6} {:>6} {:>8} {:>10} {:>8}", "rank", "tp", "pp", "dp", "v", "sp", "ep", "zero", "recompute", "mb", "gb", "dp-ov", "schedule", "step s", "MFU%", "HFU%", "mem GiB", "wall h", "tCO2e");
    for e in &r.top {
        let p = &e.plan;
        let _ = writeln!(
            s,
            "{:>4} {:>3} {:>3} {:>5} {:>2} {:>3} {:>3} {:>4} {:>9} {:>3} {:>4} {:>6} {:>14} {:>9.3} {:>6.1} {:>6.1} {:>8.1} {:>10} {:>8}",
            e.rank, p.tp, p.pp, p.dp, p.interleave, if p.sp { "y" } else { "n" }, p.ep, p.zero, p.recompute.to_string(), p.micro_batch, p.global_batch, if e.dp_overlap { "y" } else { "n" }, schedule_text(e),
            e.step_time_s, e.mfu * 100.0, e.hfu * 100.0, e.memory_per_gpu_gib,
            e.wall_time_h.map_or("-".into(), |w| format!("{w:.1}")), e.co2e_total_t.map_or("-".into(), |c| format!("{c:.1}"))
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
