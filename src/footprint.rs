//! Power, energy, CO2e and cost of a run.
//!
//! * Power per accelerator: `P_idle + (P_tdp − P_idle)·u`, with `u` the
//!   fraction of the run the devices compute (1 for a training run:
//!   accelerators draw close to TDP during large-model training; Patterson
//!   et al. 2021 Table 4 measured 330 W per V100 for GPT-3 with host share,
//!   Luccioni et al. 2022 ~400 W per A100 for BLOOM). The node's non-accelerator
//!   remainder (CPUs, DRAM, NICs, fans) goes from `node_idle − n·P_idle` to
//!   `node_max − n·P_tdp` the same way, so a fully loaded DGX A100 draws
//!   its 6.5 kW. Overrides: `--power-per-gpu` (average per accelerator with its
//!   share of the node, as Patterson et al. 2021) and `--total-power` (whole
//!   job, as Strubell et al. 2019).
//! * Energy: `E_IT = P·t`, `E_facility = PUE·E_IT`.
//! * CO2e: operational `E_facility x grid intensity`; embodied
//!   `(n_acc·C_acc + n_nodes·C_node) x t / lifetime` (Faiz et al. 2024,
//!   LLMCarbon, eq. for embodied carbon amortised over hardware lifetime).
//! * Cost: rental `GPU-hours x $/GPU-hour`; owned: capex of the nodes (or
//!   devices) bought plus electricity `E_facility x $/kWh`.
//! * Equivalents: one passenger NY↔SF round trip emits 1,984 lbs CO2e
//!   (Strubell et al. 2019, Table 1); a typical US passenger car emits
//!   400 g CO2/mile = 248.5 g/km (US EPA 2023, "Greenhouse Gas Emissions from a
//!   Typical Passenger Vehicle", EPA-420-F-23-014).

use crate::units::{GpuHours, GramsPerKwh, Joules, KgCo2e, Seconds, Usd, UsdPerGpuHour, UsdPerKwh, Watts};
use serde::Serialize;

/// kg CO2e of one passenger NY↔SF round trip (Strubell et al. 2019 Table 1).
pub const FLIGHT_NY_SF_KG: f64 = 1984.0 * crate::units::KG_PER_LB;
/// kg CO2 per km of a typical US passenger car (US EPA 2023: 400 g/mile).
pub const CAR_KG_PER_KM: f64 = 0.400 / 1.609_344;
/// Seconds in a (Julian) year, for hardware lifetimes.
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// Power of one accelerator plus its share of the node at utilisation `u`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerSplit {
    /// Accelerator board power, W.
    pub accelerator: Watts,
    /// Its share of the node's non-accelerator remainder, W.
    pub node_rest: Watts,
}

impl PowerSplit {
    #[must_use]
    pub fn total(&self) -> Watts {
        self.accelerator + self.node_rest
    }
}

/// The inputs of the power model for one accelerator slot.
#[derive(Debug, Clone, Copy)]
pub struct PowerModel {
    pub acc_idle: Watts,
    pub acc_tdp: Watts,
    /// Node idle and max power and accelerators per node, when the
    /// accelerators sit in a known system.
    pub node: Option<(Watts, Watts, u32)>,
}

impl PowerModel {
    /// Power at utilisation `u` in [0, 1].
    #[must_use]
    pub fn at(&self, u: f64) -> PowerSplit {
        let u = u.clamp(0.0, 1.0);
        let acc = self.acc_idle + (self.acc_tdp - self.acc_idle) * u;
        let rest = match self.node {
            Some((idle, max, n)) => {
                let n = f64::from(n);
                let rest_idle = (idle - self.acc_idle * n).max(Watts::ZERO);
                let rest_max = (max - self.acc_tdp * n).max(rest_idle);
                (rest_idle + (rest_max - rest_idle) * u) / n
            }
            None => Watts::ZERO,
        };
        PowerSplit { accelerator: acc, node_rest: rest }
    }
}

/// What a run consumed and emitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Footprint {
    pub power_total: Watts,
    pub energy_it: Joules,
    pub energy_accelerators: Option<Joules>,
    pub energy_facility: Joules,
    pub co2e_operational: KgCo2e,
    pub co2e_embodied: KgCo2e,
    pub cost_rental: Option<Usd>,
    pub capex: Option<Usd>,
    pub electricity_cost: Usd,
}

impl Footprint {
    #[must_use]
    pub fn co2e_total(&self) -> KgCo2e {
        self.co2e_operational + self.co2e_embodied
    }
    #[must_use]
    pub fn cost_owned(&self) -> Option<Usd> {
        self.capex.map(|c| c + self.electricity_cost)
    }
    #[must_use]
    pub fn flights_ny_sf(&self) -> f64 {
        self.co2e_total().value() / FLIGHT_NY_SF_KG
    }
    #[must_use]
    pub fn car_km(&self) -> f64 {
        self.co2e_total().value() / CAR_KG_PER_KM
    }
}

/// Inputs of [`compute`].
#[derive(Debug, Clone, Copy)]
pub struct FootprintInputs {
    pub wall_time: Seconds,
    pub gpus: f64,
    pub power_total: Watts,
    /// Accelerator-only power (for the node share), when modelled.
    pub power_accelerators: Option<Watts>,
    pub pue: f64,
    pub grid: GramsPerKwh,
    pub electricity: UsdPerKwh,
    /// Embodied carbon of the hardware used and its lifetime in years.
    pub embodied: KgCo2e,
    pub lifetime_years: f64,
    pub include_embodied: bool,
    pub rental: Option<UsdPerGpuHour>,
    pub capex: Option<Usd>,
}

/// Energy, CO2e and cost.
#[must_use]
pub fn compute(i: &FootprintInputs) -> Footprint {
    let energy_it = i.power_total * i.wall_time;
    let energy_facility = energy_it * i.pue;
    let share = i.wall_time.value() / (i.lifetime_years * SECONDS_PER_YEAR);
    let embodied = if i.include_embodied { i.embodied * share } else { KgCo2e::ZERO };
    let gpu_hours = GpuHours::from_devices_time(i.gpus, i.wall_time);
    Footprint {
        power_total: i.power_total,
        energy_it,
        energy_accelerators: i.power_accelerators.map(|p| p * i.wall_time),
        energy_facility,
        co2e_operational: energy_facility * i.grid,
        co2e_embodied: embodied,
        cost_rental: i.rental.map(|r| gpu_hours * r),
        capex: i.capex,
        electricity_cost: energy_facility * i.electricity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dgx_a100_full_load_is_its_rated_power() {
        let m = PowerModel { acc_idle: Watts::new(50.0), acc_tdp: Watts::new(400.0), node: Some((Watts::new(1800.0), Watts::new(6500.0), 8)) };
        let p = m.at(1.0).total() * 8.0;
        assert!((p.value() - 6500.0).abs() < 1e-9);
        let idle = m.at(0.0).total() * 8.0;
        assert!((idle.value() - 1800.0).abs() < 1e-9);
    }

    #[test]
    fn strubell_bert_reproduces_1438_lbs() {
        // Strubell et al. 2019 Table 3: BERT-base, 64 V100, 79.2 h, 12,041.51 W,
        // PUE 1.58, 0.954 lbs/kWh -> 1,438 lbs CO2e.
        let f = compute(&FootprintInputs {
            wall_time: Seconds::from_hours(79.2),
            gpus: 64.0,
            power_total: Watts::new(12_041.51),
            power_accelerators: None,
            pue: 1.58,
            grid: GramsPerKwh::new(0.954 * crate::units::KG_PER_LB * 1000.0),
            electricity: UsdPerKwh::new(0.1),
            embodied: KgCo2e::ZERO,
            lifetime_years: 5.0,
            include_embodied: false,
            rental: None,
            capex: None,
        });
        let lbs = f.co2e_operational.lbs();
        assert!((lbs - 1438.0).abs() / 1438.0 < 0.01, "{lbs}");
        assert!((f.flights_ny_sf() - 0.72).abs() < 0.01);
    }
}
