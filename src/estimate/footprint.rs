//! The footprint stage: energy, CO2e and cost from power x time, with the
//! site's (or the user's) PUE, grid intensity and prices, and the
//! hardware's embodied carbon and purchase price (formulas in
//! src/footprint.rs).

use super::power::Power;
use super::timing::Timing;
use crate::footprint::{self as fp, Footprint, FootprintInputs};
use crate::notes::Note;
use crate::scenario::Scenario;
use crate::units::{KgCo2e, Usd};

/// What the footprint stage found.
#[derive(Debug, Clone)]
pub struct FootprintStage {
    pub footprint: Footprint,
    pub embodied_hardware: KgCo2e,
    pub lifetime_years: f64,
    /// Capex amortised over the hardware lifetime for this run plus
    /// electricity (Epoch AI's owned-hardware accounting, Cottier et al. 2024).
    pub cost_owned_amortised: Option<Usd>,
    pub sources: Vec<(String, String)>,
    pub notes: Vec<Note>,
}

/// Runs the footprint stage.
#[must_use]
pub fn run(sc: &Scenario, t: &Timing, p: &Power) -> FootprintStage {
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    let gpus = sc.gpus as f64;
    let sv = &sc.site_values;
    sources.push(("pue".into(), sv.pue.source.clone()));
    sources.push(("grid_gco2e_per_kwh".into(), sv.grid.source.clone()));
    sources.push(("electricity_price_usd_per_kwh".into(), sv.electricity.source.clone()));
    let nodes_f = sc.nodes.map_or(0.0, |n| n as f64);
    let embodied = sc.accelerator.embodied() * gpus + sc.system.as_ref().map_or(KgCo2e::ZERO, |s| s.embodied_non_accelerator() * nodes_f);
    let lifetime = sc.system.as_ref().and_then(|s| s.lifetime_years).unwrap_or_else(|| sc.accelerator.lifetime_years());
    sources.push(("embodied".into(), format!("{}: {}", sc.accelerator.id, sc.accelerator.embodied_method)));
    let capex = match (&sc.system, sc.nodes) {
        (Some(s), Some(n)) if s.price().is_some() => {
            sources.push(("capex".into(), format!("{} x {}: {}", n, s.id, s.source_of("price_usd"))));
            s.price().map(|p| p * n as f64)
        }
        _ => sc.accelerator.purchase().map(|p| {
            if let Some(s) = &sc.system {
                notes.push(Note::CapexAcceleratorsOnly { system: s.id.clone(), gpus: sc.gpus });
            }
            sources.push(("capex".into(), format!("{} x {}: {}", sc.gpus, sc.accelerator.id, sc.accelerator.source_of("purchase_usd"))));
            p * gpus
        }),
    };
    match &sc.price_per_gpu_hour {
        Some(r) => sources.push(("price_per_gpu_hour".into(), r.source.clone())),
        None => notes.push(Note::NoRentalPrice { accelerator: sc.accelerator.id.clone() }),
    }
    if !sc.embodied {
        notes.push(Note::EmbodiedExcluded);
    }
    sources.push(("power".into(), p.source.clone()));
    let footprint = fp::compute(&FootprintInputs {
        wall_time: t.wall,
        gpus,
        power_total: p.total,
        power_accelerators: p.accelerators,
        pue: sv.pue.value,
        grid: sv.grid.value,
        electricity: sv.electricity.value,
        embodied,
        lifetime_years: lifetime,
        include_embodied: sc.embodied,
        rental: sc.price_per_gpu_hour.as_ref().map(|r| r.value),
        capex,
    });
    let cost_owned_amortised = footprint.capex.map(|c| c * (t.wall.value() / (lifetime * fp::SECONDS_PER_YEAR)) + footprint.electricity_cost);
    FootprintStage { footprint, embodied_hardware: embodied, lifetime_years: lifetime, cost_owned_amortised, sources, notes }
}
