//! Invariants that must hold for every input, checked with proptest.

use flopprint::catalog;
use flopprint::flops::{training_per_token, FineTune, Recompute};
use flopprint::footprint::{compute, FootprintInputs, PowerModel};
use flopprint::scenario::parse_count;
use flopprint::units::{GramsPerKwh, Joules, KgCo2e, Seconds, Usd, UsdPerGpuHour, UsdPerKwh, Watts};
use proptest::prelude::*;

/// Relative tolerance for identities that hold up to floating-point rounding.
const REL: f64 = 1e-9;

fn inputs(hours: f64, gpus: f64, watts: f64, pue: f64, grid: f64) -> FootprintInputs {
    FootprintInputs {
        wall_time: Seconds::from_hours(hours),
        gpus,
        power_total: Watts::new(watts),
        power_accelerators: None,
        pue,
        grid: GramsPerKwh::new(grid),
        electricity: UsdPerKwh::new(0.1),
        embodied: KgCo2e::new(1000.0),
        lifetime_years: 5.0,
        include_embodied: true,
        rental: Some(UsdPerGpuHour::new(2.0)),
        capex: Some(Usd::new(1e6)),
    }
}

proptest! {
    #[test]
    fn energy_is_power_times_time(h in 1e-3f64..1e5, g in 1f64..1e5, w in 1f64..1e8, pue in 1f64..3.0, grid in 0f64..2000.0) {
        let f = compute(&inputs(h, g, w, pue, grid));
        let e = (Watts::new(w) * Seconds::from_hours(h)).kwh();
        prop_assert!((f.energy_it.kwh() - e).abs() <= REL * e);
        prop_assert!((f.energy_facility.kwh() - pue * e).abs() <= REL * pue * e);
        prop_assert!(f.energy_facility >= f.energy_it);
        let co2 = pue * e * grid / 1000.0;
        prop_assert!((f.co2e_operational.value() - co2).abs() <= REL * co2.max(1e-12));
    }

    #[test]
    fn longer_runs_never_cost_or_emit_less(h in 1e-3f64..1e5, extra in 1e-3f64..1e5, w in 1f64..1e7, grid in 0f64..2000.0) {
        let a = compute(&inputs(h, 8.0, w, 1.2, grid));
        let b = compute(&inputs(h + extra, 8.0, w, 1.2, grid));
        prop_assert!(b.co2e_total() >= a.co2e_total());
        prop_assert!(b.cost_rental.unwrap() >= a.cost_rental.unwrap());
        prop_assert!(b.energy_facility >= a.energy_facility);
    }

    #[test]
    fn node_power_is_monotone_in_utilisation_and_bounded(u1 in 0f64..1.0, u2 in 0f64..1.0, n in 1u32..16) {
        let m = PowerModel { acc_idle: Watts::new(60.0), acc_tdp: Watts::new(400.0), node: Some((Watts::new(60.0 * f64::from(n) + 500.0), Watts::new(400.0 * f64::from(n) + 3000.0), n)) };
        let (lo, hi) = if u1 <= u2 { (u1, u2) } else { (u2, u1) };
        prop_assert!(m.at(lo).total() <= m.at(hi).total());
        let full = m.at(1.0).total().value() * f64::from(n);
        prop_assert!((full - (400.0 * f64::from(n) + 3000.0)).abs() < 1e-6);
    }

    #[test]
    fn more_tokens_never_need_fewer_flops(seq in 128u64..4096, r in 0usize..3, lora in proptest::bool::ANY) {
        let m = catalog::model("llama2-7b").unwrap();
        let rec = [Recompute::None, Recompute::Selective, Recompute::Full][r];
        let ft = if lora { FineTune::Lora { rank: 8 } } else { FineTune::Full };
        let t = training_per_token(&m, seq, rec, ft);
        // recomputation only adds work; hardware >= model > 0
        prop_assert!(t.hardware >= t.model);
        prop_assert!(t.model.value() > 0.0);
        // attention grows with s: per-token FLOPs are non-decreasing in seq len
        let t2 = training_per_token(&m, seq + 1, rec, ft);
        prop_assert!(t2.model >= t.model);
    }

    #[test]
    fn token_counts_round_trip(v in 1u64..1_000_000u64) {
        let plain = format!("{v}");
        let giga = format!("{v}B");
        let exp = format!("{v}e3");
        prop_assert_eq!(parse_count(&plain).unwrap(), v as f64);
        prop_assert!((parse_count(&giga).unwrap() - v as f64 * 1e9).abs() < 1.0);
        prop_assert!((parse_count(&exp).unwrap() - v as f64 * 1e3).abs() < 1e-6);
    }

    #[test]
    fn energy_units_round_trip(kwh in 0f64..1e12) {
        let j = Joules::from_kwh(kwh);
        prop_assert!((j.kwh() - kwh).abs() <= REL * kwh.max(1.0));
        let lbs = KgCo2e::new(kwh).lbs();
        prop_assert!((KgCo2e::from_lbs(lbs).value() - kwh).abs() <= REL * kwh.max(1.0));
    }
}
