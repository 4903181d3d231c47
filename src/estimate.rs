//! The pipeline from a resolved scenario to figures: FLOPs, plan and
//! memory, time, power, energy, CO2e and cost. Predict and account modes
//! share it; only the source of the wall-clock time differs.

use crate::catalog::ModelSpec;
use crate::device::default_mfu;
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
    /// `user` (all given), `auto` (chosen to fit memory).
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

fn divisors(n: u64) -> Vec<u64> {
    (1..=n).filter(|d| n % d == 0).collect()
}

/// Builds the plan: the user's flags where given; otherwise the smallest
/// model-parallel degree (TP within a node, then PP) whose memory fits, with
/// sequence parallelism, selective recomputation and ZeRO-1 as Megatron-LM's
/// defaults for large models (Korthikanti et al. 2022).
fn choose_plan(sc: &Scenario, global_batch_in: Option<u64>) -> Result<(Plan, MemoryBreakdown, &'static str), EstimateError> {
    let i = &sc.input;
    let spec = &sc.model;
    let gpus = sc.gpus;
    let per_node = sc.system.as_ref().map_or(1, |s| u64::from(s.accelerators_per_node));
    let capacity = sc.accelerator.memory();
    let all_given = i.tp.is_some() && i.pp.is_some();
    let tps: Vec<u64> = match i.tp {
        Some(t) => vec![t],
        None => [1, 2, 4, 8, 16].into_iter().filter(|t| *t <= per_node.max(1) && gpus % t == 0 && spec.heads % t == 0).collect(),
    };
    let pps: Vec<u64> = match i.pp {
        Some(p) => vec![p],
        None => divisors(spec.total_layers()).into_iter().filter(|p| *p <= 128).collect(),
    };
    if let Some(tp) = i.tp {
        if tp > 0 && spec.heads % tp != 0 {
            return Err(PlanError::TpHeads { tp, heads: spec.heads }.into());
        }
    }
    let mut first_err = None;
    let mut best: Option<(Plan, MemoryBreakdown)> = None;
    for &tp in &tps {
        for &pp in &pps {
            if gpus % (tp * pp) != 0 {
                if all_given {
                    return Err(PlanError::GpusNotDivisible { gpus, tp, pp }.into());
                }
                continue;
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
            if let Err(e) = plan.validate(spec) {
                if all_given {
                    return Err(e.into());
                }
                first_err.get_or_insert(e);
                continue;
            }
            let mem = memory::per_device(spec, &plan, sc.seq_len, sc.fine_tune, capacity);
            if mem.fits || all_given {
                return Ok((plan, mem, if all_given { "user" } else { "auto" }));
            }
            if best.as_ref().is_none_or(|(_, m)| mem.total_gib < m.total_gib) {
                best = Some((plan, mem));
            }
        }
    }
    match (best, first_err) {
        (Some((p, m)), _) => Ok((p, m, "auto")),
        (None, Some(e)) => Err(e.into()),
        (None, None) => Err(EstimateError::Other(format!("no valid plan for {gpus} GPUs: give --tp and --pp explicitly"))),
    }
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
    let (plan, mem, chosen_by) = choose_plan(sc, i.global_batch)?;
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
    let dm = default_mfu(&sc.accelerator);
    let (wall, mfu, mfu_source): (Seconds, Option<f64>, String) = match sc.mode {
        Mode::Predict => {
            let (mfu, src) = match i.mfu {
                Some(m) => (m, "--mfu".to_string()),
                None => (dm.mfu, format!("default for {} ({}): {}", sc.accelerator.family, sc.accelerator.id, dm.source)),
            };
            let f = flops_total.unwrap_or(Flop::ZERO);
            (f / (peak_cluster * mfu), Some(mfu), src)
        }
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
            (Mode::Predict, None) => Spreads::DEFAULT_MFU_LOG_SIGMA,
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
        flights_ny_sf: fp.flights_ny_sf(),
        car_km: fp.car_km(),
        uncertainty,
        sources,
        notes,
    })
}
