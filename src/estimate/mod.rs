//! The estimate pipeline: a chain of stages with one job each,
//!
//! ```text
//! resolve (src/scenario) -> compute -> timing -> goodput -> power -> footprint -> uncertainty -> Estimate
//! ```
//!
//! each returning its result with its sources and notes. Predict and
//! account modes share it; only the timing stage's source of the wall
//! clock differs.

pub mod compute;
pub mod footprint;
pub mod goodput;
pub mod power;
pub mod timing;
pub mod uncertainty;

pub use compute::{constraints, default_global_batch, ChosenBy, PlanCache};
pub use uncertainty::{UNCERTAINTY_SAMPLES, UNCERTAINTY_SEED};

use crate::flops::{FineTune, Recompute};
use crate::memory::MemoryBreakdown;
use crate::notes::Note;
use crate::parallel::{Plan, PlanError};
use crate::scenario::{Mode, Scenario};
use crate::simulator::Breakdown;
use crate::uncertainty::Uncertainty;
use crate::units::{Flop, Usd, UsdPerGpuHour};
use serde::Serialize;
use std::collections::BTreeMap;

/// Errors of the estimate itself (after the scenario resolved).
#[derive(Debug, Clone, thiserror::Error)]
pub enum EstimateError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the plan does not fit in memory: {need:.1} GiB per GPU needed, {have:.1} GiB available ({breakdown}); {fix}")]
    DoesNotFit { need: f64, have: f64, breakdown: String, fix: String },
    #[error("no valid plan for {gpus} GPUs and global batch {global} ({invalid} candidate splits violate a constraint): give --tp/--pp explicitly, or a GPU count with more divisors")]
    NoPlan { gpus: u64, global: u64, invalid: u64 },
    #[error("{0}")]
    Calibration(String),
    #[error(transparent)]
    Workload(#[from] crate::workload::WorkloadError),
}

/// The plan echoed in the output.
#[derive(Debug, Clone, Serialize)]
pub struct PlanOut {
    pub tp: u64,
    /// Context-parallel size (1 = off).
    pub cp: u64,
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
    /// the search under the framework rules), `auto_mesh` (the same under
    /// the TPU mesh rules), `search` (an entry of `flopprint plan`).
    pub chosen_by: ChosenBy,
}

impl PlanOut {
    #[must_use]
    pub fn new(p: &Plan, chosen_by: ChosenBy) -> Self {
        Self {
            tp: p.tp,
            cp: p.cp,
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
            chosen_by,
        }
    }
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
    /// The run's wall clock: productive time / goodput in predict mode.
    pub wall_time_h: f64,
    /// Productive time only (the ideal run: no failures, checkpoints, evaluation).
    pub wall_time_ideal_h: f64,
    /// The production goodput applied (predict mode; null when accounted).
    pub goodput: Option<goodput::GoodputOut>,
    pub wall_time_days: f64,
    pub gpu_hours: f64,
    pub power_per_gpu_w: f64,
    pub power_total_w: f64,
    /// The nameplate upper bound per GPU (its share of the node maximum).
    pub power_nameplate_per_gpu_w: f64,
    pub power_source: String,
    /// The power model: accelerator power by phase, node remainder and
    /// network per GPU (also with measured power, for comparison).
    pub power: Option<crate::power::PowerEstimate>,
    pub energy_it_kwh: f64,
    pub energy_accelerators_kwh: Option<f64>,
    /// The rest of the nodes (CPUs, memory, NICs, fans, PSU losses).
    pub energy_node_rest_kwh: Option<f64>,
    /// The fabric switches' share (multi-node runs).
    pub energy_network_kwh: Option<f64>,
    pub energy_facility_kwh: f64,
    pub pue: f64,
    pub grid_gco2e_per_kwh: f64,
    /// `lifecycle`, `direct`, `market`, or `given` (--grid-intensity).
    pub grid_basis: String,
    pub co2e_operational_kg: f64,
    pub co2e_embodied_kg: f64,
    pub co2e_total_kg: f64,
    pub co2e_total_t: f64,
    pub price_per_gpu_hour_usd: Option<f64>,
    /// `given`, or the price tier and the year the price list was read.
    pub price_basis: Option<String>,
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
    /// Null for an accounted run no plan could be built for.
    pub memory_per_gpu_gib: Option<f64>,
    pub memory_capacity_gib: f64,
    pub fits_in_memory: Option<bool>,
    pub memory: Option<MemoryBreakdown>,
    pub plan: Option<PlanOut>,
    /// Where the simulated step time goes (null when no step could be
    /// simulated).
    pub breakdown: Option<Breakdown>,
    pub flights_ny_sf: f64,
    pub car_km: f64,
    /// P5/P50/P95 of the main outputs (Monte Carlo over uncertain inputs).
    pub uncertainty: Uncertainty,
    /// Where each input number came from.
    pub sources: BTreeMap<String, String>,
    /// Assumptions and notes a reader should know.
    pub notes: Vec<Note>,
}

/// Runs the pipeline on a resolved scenario.
///
/// # Errors
/// In predict mode: an invalid plan, or a plan that does not fit memory.
pub fn estimate(sc: &Scenario) -> Result<Estimate, EstimateError> {
    estimate_with(sc, None)
}

/// [`estimate`], reusing (and filling) a cache of searched plans: for many
/// scenarios that share their cluster (`flopprint sweep`).
///
/// # Errors
/// As [`estimate`].
pub fn estimate_with(sc: &Scenario, plans: Option<&PlanCache>) -> Result<Estimate, EstimateError> {
    let c = compute::run_with(sc, plans)?;
    let mut t = timing::run(sc, &c);
    let g = goodput::run(sc, &mut t);
    let p = power::run(sc, &c, &t)?;
    let f = footprint::run(sc, &t, &p);
    let u = uncertainty::run(sc, &t, &p, &f, g.response);
    Ok(assemble(sc, &c, &t, &g, &p, &f, u))
}

fn assemble(
    sc: &Scenario,
    c: &compute::Compute,
    t: &timing::Timing,
    g: &goodput::GoodputStage,
    p: &power::Power,
    f: &footprint::FootprintStage,
    uncertainty: Uncertainty,
) -> Estimate {
    let spec = &sc.model;
    let params = spec.params();
    let gpus = sc.gpus as f64;
    let fp = &f.footprint;
    let wall = t.wall;
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    sources.extend(c.sources.iter().cloned());
    sources.extend(f.sources.iter().cloned());
    let notes: Vec<Note> = sc.notes.iter().chain(&c.notes).chain(&t.notes).chain(&g.notes).chain(&p.notes).chain(&f.notes).cloned().collect();
    let per_gpu = |x: Option<Flop>| x.map(|x| (x / t.wall_ideal).tflops() / gpus).filter(|v| v.is_finite());
    let energy_it = fp.energy_it.kwh();
    let energy_acc = fp.energy_accelerators.map(crate::units::Joules::kwh);
    let energy_net = p.network.map(|w| (w * wall).kwh());
    let step = c.step.as_ref();
    Estimate {
        scenario: sc.name.clone(),
        mode: sc.mode(),
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
        params_trainable: match sc.fine_tune {
            FineTune::Full => params.total,
            FineTune::Lora { rank } => crate::flops::lora_params(spec, rank),
        },
        tokens: sc.tokens,
        seq_len: sc.seq_len,
        flops_per_token: c.flops.model.value(),
        flops_total: t.flops_model.map(Flop::value),
        flops_hardware_total: t.flops_hardware.map(Flop::value),
        steps: t.steps,
        step_time_s: t.steps.map(|s| t.wall_ideal.value() / s),
        mfu: t.mfu,
        hfu: t.hfu,
        mfu_source: t.source_text(),
        model_tflops_per_gpu: per_gpu(t.flops_model),
        hardware_tflops_per_gpu: per_gpu(t.flops_hardware),
        peak_tflops_per_gpu: c.machine.peak.tflops(),
        wall_time_h: wall.hours(),
        wall_time_ideal_h: t.wall_ideal.hours(),
        goodput: g.out.clone(),
        wall_time_days: wall.days(),
        gpu_hours: gpus * wall.hours(),
        power_per_gpu_w: p.total.value() / gpus,
        power_total_w: p.total.value(),
        power_nameplate_per_gpu_w: p.nameplate.value() / gpus,
        power_source: p.source.clone(),
        power: p.model.clone(),
        energy_it_kwh: energy_it,
        energy_accelerators_kwh: energy_acc,
        energy_node_rest_kwh: energy_acc.map(|a| energy_it - a - energy_net.unwrap_or(0.0)),
        energy_network_kwh: energy_net,
        energy_facility_kwh: fp.energy_facility.kwh(),
        pue: sc.site_values.pue.value,
        grid_gco2e_per_kwh: sc.site_values.grid.value.value(),
        grid_basis: sc.site_values.grid_basis.map_or_else(|| "given".to_string(), |b| b.to_string()),
        co2e_operational_kg: fp.co2e_operational.value(),
        co2e_embodied_kg: fp.co2e_embodied.value(),
        co2e_total_kg: fp.co2e_total().value(),
        co2e_total_t: fp.co2e_total().tonnes(),
        price_per_gpu_hour_usd: sc.price_per_gpu_hour.as_ref().map(|r| UsdPerGpuHour::value(r.value)),
        price_basis: sc.price_basis.clone(),
        cost_rental_usd: fp.cost_rental.map(Usd::value),
        capex_usd: fp.capex.map(Usd::value),
        electricity_price_usd_per_kwh: sc.site_values.electricity.value.value(),
        electricity_cost_usd: fp.electricity_cost.value(),
        cost_owned_usd: fp.cost_owned().map(Usd::value),
        cost_owned_amortised_usd: f.cost_owned_amortised.map(Usd::value),
        hardware_lifetime_years: f.lifetime_years,
        memory_per_gpu_gib: step.map(|s| s.memory.total_gib),
        memory_capacity_gib: sc.accelerator.memory_gib,
        fits_in_memory: step.map(|s| s.memory.fits),
        memory: step.map(|s| s.memory),
        plan: step.map(|s| PlanOut::new(&s.plan, s.chosen_by)),
        breakdown: t.phases,
        flights_ny_sf: fp.flights_ny_sf(),
        car_km: fp.car_km(),
        uncertainty,
        sources,
        notes,
    }
}
