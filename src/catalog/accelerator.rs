//! Accelerator profiles (`hardware/accelerators/*.toml`).

use super::{check_pos, check_source, validate_field_sources, CatalogError};
use crate::dtype::Dtype;
use crate::units::{Bytes, BytesPerSec, FlopPerSec, KgCo2e, Usd, UsdPerGpuHour, Watts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceleratorKind {
    Gpu,
    Tpu,
    Cpu,
    /// Other ML ASICs (AWS Trainium, Intel Gaudi).
    Asic,
}

/// Dense (no sparsity) peak throughput per dtype, TFLOP/s.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeakTflops {
    pub fp64: Option<f64>,
    pub fp32: Option<f64>,
    pub tf32: Option<f64>,
    pub fp16: Option<f64>,
    pub bf16: Option<f64>,
    pub fp8: Option<f64>,
}

impl PeakTflops {
    fn get(&self, d: Dtype) -> Option<f64> {
        match d {
            Dtype::Fp64 => self.fp64,
            Dtype::Fp32 => self.fp32,
            Dtype::Tf32 => self.tf32,
            Dtype::Fp16 => self.fp16,
            Dtype::Bf16 => self.bf16,
            Dtype::Fp8 => self.fp8,
        }
    }
}

/// Which kind of rental price: a provider's on-demand list price, a
/// committed (1-3 year reserved / savings-plan) price, or the spot and
/// specialist-cloud market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PriceTier {
    OnDemand,
    Reserved,
    Market,
}

impl PriceTier {
    pub const ALL: [PriceTier; 3] = [PriceTier::OnDemand, PriceTier::Reserved, PriceTier::Market];
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            PriceTier::OnDemand => "on-demand",
            PriceTier::Reserved => "reserved",
            PriceTier::Market => "market",
        }
    }
}

impl fmt::Display for PriceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PriceTier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "on-demand" | "ondemand" => Ok(PriceTier::OnDemand),
            "reserved" | "committed" => Ok(PriceTier::Reserved),
            "market" | "spot" => Ok(PriceTier::Market),
            other => Err(format!("unknown price tier `{other}`; use one of: on-demand, reserved, market")),
        }
    }
}

/// A range of $/GPU-hour prices for one tier, with where and when it was read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRange {
    pub low: f64,
    pub high: f64,
    /// Year the prices were read.
    pub year: u32,
    /// Providers, regions, products and the date read.
    pub source: String,
}

/// `[rental_tiers]`: price ranges per tier; each tier optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RentalTiers {
    pub on_demand: Option<PriceRange>,
    pub reserved: Option<PriceRange>,
    pub market: Option<PriceRange>,
}

impl RentalTiers {
    #[must_use]
    pub fn get(&self, tier: PriceTier) -> Option<&PriceRange> {
        match tier {
            PriceTier::OnDemand => self.on_demand.as_ref(),
            PriceTier::Reserved => self.reserved.as_ref(),
            PriceTier::Market => self.market.as_ref(),
        }
    }
    fn validate(&self, file: &str) -> Result<(), CatalogError> {
        for tier in PriceTier::ALL {
            let Some(r) = self.get(tier) else { continue };
            let field = format!("rental_tiers.{}", tier.name().replace('-', "_"));
            check_pos(file, &format!("{field}.low"), r.low, 1e4)?;
            check_pos(file, &format!("{field}.high"), r.high, 1e4)?;
            if r.low > r.high {
                return Err(CatalogError::invalid(file, &field, format!("low {} is above high {}", r.low, r.high)));
            }
            if !(1950..=2030).contains(&r.year) {
                return Err(CatalogError::invalid(file, &format!("{field}.year"), format!("{} is not a plausible year", r.year)));
            }
            if r.source.trim().is_empty() {
                return Err(CatalogError::invalid(file, &format!("{field}.source"), "name the providers and the date read"));
            }
        }
        Ok(())
    }
}

/// One accelerator (GPU, TPU chip, or CPU socket).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    #[serde(skip_deserializing)]
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub kind: AcceleratorKind,
    pub family: String,
    pub year: u32,
    pub source: String,
    pub source_year: u32,
    pub memory_gib: f64,
    pub memory_bandwidth_gb_s: f64,
    /// Rated board/chip power (vendor TDP or power limit), W: what the
    /// estimate uses as full-load power. Google publishes no TDP for TPUs, so
    /// TPU files put their *measured* maximum here and say so in
    /// `[field_sources].tdp_w`.
    pub tdp_w: f64,
    pub idle_w: f64,
    /// Highest power *measured* on real ML workloads (e.g. Google's
    /// "measured min/mean/max power" per TPU chip), W, where a source gives
    /// one. Kept apart from `tdp_w` so the two semantics are never mixed;
    /// informational, not used by the estimate.
    #[serde(default)]
    pub measured_max_w: Option<f64>,
    pub peak_tflops: PeakTflops,
    /// Maximum achievable matmul throughput, BF16, TFLOP/s: the best
    /// measured `matmul` over a sweep of large shapes (Bekman's
    /// `mamf-finder.py`); the device model's GEMM ceiling relative to
    /// A100's (src/simulator/device.rs).
    #[serde(default)]
    pub mamf_bf16_tflops: Option<f64>,
    /// The same measurement in FP8 (`float8_e4m3fn`): the large-GEMM FP8 /
    /// BF16 speed-up with `mamf_bf16_tflops`.
    #[serde(default)]
    pub mamf_fp8_tflops: Option<f64>,
    pub embodied_kgco2e: f64,
    pub embodied_method: String,
    pub lifetime_years: Option<f64>,
    pub purchase_usd: Option<f64>,
    pub purchase_year: Option<u32>,
    pub rental_usd_per_gpu_hour: Option<f64>,
    pub rental_year: Option<u32>,
    /// Price ranges per tier (`--price-tier`); `rental_usd_per_gpu_hour`
    /// stays the default on-demand figure.
    #[serde(default)]
    pub rental_tiers: RentalTiers,
    #[serde(default)]
    pub field_sources: BTreeMap<String, String>,
}

/// Default amortisation lifetime of hardware when a profile gives none:
/// 5 years (Faiz et al., LLMCarbon, ICLR 2024, §embodied carbon, assumes a
/// 5-year lifetime; Gupta et al. 2022 "ACT" uses 3–5 years).
pub const DEFAULT_LIFETIME_YEARS: f64 = 5.0;

const FIELDS: &[&str] = &[
    "name",
    "vendor",
    "kind",
    "family",
    "year",
    "memory_gib",
    "memory_bandwidth_gb_s",
    "tdp_w",
    "idle_w",
    "measured_max_w",
    "peak_tflops",
    "mamf_bf16_tflops",
    "mamf_fp8_tflops",
    "embodied_kgco2e",
    "embodied_method",
    "lifetime_years",
    "purchase_usd",
    "purchase_year",
    "rental_usd_per_gpu_hour",
    "rental_year",
    "rental_tiers",
];

impl Accelerator {
    pub(crate) fn validate(&self, file: &str) -> Result<(), CatalogError> {
        check_source(file, &self.source, self.source_year)?;
        check_pos(file, "memory_gib", self.memory_gib, 1e5)?;
        check_pos(file, "memory_bandwidth_gb_s", self.memory_bandwidth_gb_s, 1e6)?;
        check_pos(file, "tdp_w", self.tdp_w, 1e4)?;
        if !self.idle_w.is_finite() || self.idle_w < 0.0 || self.idle_w >= self.tdp_w {
            return Err(CatalogError::invalid(file, "idle_w", format!("{} must be in [0, tdp_w = {})", self.idle_w, self.tdp_w)));
        }
        if let Some(m) = self.measured_max_w {
            check_pos(file, "measured_max_w", m, 1e4)?;
            if m <= self.idle_w {
                return Err(CatalogError::invalid(file, "measured_max_w", "must be above idle_w"));
            }
        }
        let mut any = false;
        for d in Dtype::ALL {
            if let Some(v) = self.peak_tflops.get(d) {
                check_pos(file, &format!("peak_tflops.{d}"), v, 1e5)?;
                any = true;
            }
        }
        if !any {
            return Err(CatalogError::invalid(file, "peak_tflops", "give at least one dtype's dense peak"));
        }
        for (field, v, d) in [("mamf_bf16_tflops", self.mamf_bf16_tflops, Dtype::Bf16), ("mamf_fp8_tflops", self.mamf_fp8_tflops, Dtype::Fp8)] {
            let Some(v) = v else { continue };
            let Some(peak) = self.peak_tflops.get(d) else {
                return Err(CatalogError::invalid(file, field, format!("needs peak_tflops.{d} (the measurement is a fraction of it)")));
            };
            check_pos(file, field, v, peak)?;
            if !self.field_sources.contains_key(field) {
                return Err(CatalogError::invalid(file, field, format!("a measured value needs its source: add [field_sources].{field}")));
            }
        }
        if self.mamf_fp8_tflops.is_some() && self.mamf_bf16_tflops.is_none() {
            return Err(CatalogError::invalid(file, "mamf_fp8_tflops", "needs mamf_bf16_tflops (the FP8 speed-up is their ratio)"));
        }
        if !self.embodied_kgco2e.is_finite() || self.embodied_kgco2e < 0.0 {
            return Err(CatalogError::invalid(file, "embodied_kgco2e", "must be a finite number >= 0"));
        }
        if self.embodied_method.trim().is_empty() {
            return Err(CatalogError::invalid(file, "embodied_method", "state how the embodied carbon was obtained"));
        }
        if let Some(l) = self.lifetime_years {
            check_pos(file, "lifetime_years", l, 50.0)?;
        }
        if let Some(p) = self.purchase_usd {
            check_pos(file, "purchase_usd", p, 1e8)?;
            if self.purchase_year.is_none() {
                return Err(CatalogError::invalid(file, "purchase_year", "required with purchase_usd"));
            }
        }
        if let Some(p) = self.rental_usd_per_gpu_hour {
            check_pos(file, "rental_usd_per_gpu_hour", p, 1e4)?;
            if self.rental_year.is_none() {
                return Err(CatalogError::invalid(file, "rental_year", "required with rental_usd_per_gpu_hour"));
            }
        }
        self.rental_tiers.validate(file)?;
        validate_field_sources(file, &self.field_sources, FIELDS)
    }

    /// Dense peak for `dtype`.
    ///
    /// # Errors
    /// When the accelerator has no such arithmetic (e.g. bf16 on a V100).
    pub fn peak(&self, dtype: Dtype) -> Result<FlopPerSec, String> {
        self.peak_tflops.get(dtype).map(FlopPerSec::from_tflops).ok_or_else(|| {
            let have: Vec<&str> = Dtype::ALL.iter().filter(|d| self.peak_tflops.get(**d).is_some()).map(|d| d.name()).collect();
            format!("accelerator `{}` has no {dtype} arithmetic; use `--dtype` with one of: {}", self.id, have.join(", "))
        })
    }
    #[must_use]
    pub fn memory(&self) -> Bytes {
        Bytes::from_gib(self.memory_gib)
    }
    #[must_use]
    pub fn bandwidth(&self) -> BytesPerSec {
        BytesPerSec::from_gb_s(self.memory_bandwidth_gb_s)
    }
    #[must_use]
    pub fn tdp(&self) -> Watts {
        Watts::new(self.tdp_w)
    }
    #[must_use]
    pub fn idle(&self) -> Watts {
        Watts::new(self.idle_w)
    }
    #[must_use]
    pub fn embodied(&self) -> KgCo2e {
        KgCo2e::new(self.embodied_kgco2e)
    }
    #[must_use]
    pub fn lifetime_years(&self) -> f64 {
        self.lifetime_years.unwrap_or(DEFAULT_LIFETIME_YEARS)
    }
    #[must_use]
    pub fn purchase(&self) -> Option<Usd> {
        self.purchase_usd.map(Usd::new)
    }
    #[must_use]
    pub fn rental(&self) -> Option<UsdPerGpuHour> {
        self.rental_usd_per_gpu_hour.map(UsdPerGpuHour::new)
    }
    /// Price range of one tier: (low, high, "source (year)"), or `None`
    /// when the profile gives no such tier.
    #[must_use]
    pub fn rental_tier(&self, tier: PriceTier) -> Option<(UsdPerGpuHour, UsdPerGpuHour, String)> {
        self.rental_tiers.get(tier).map(|r| {
            let src = if super::has_year(&r.source) { r.source.clone() } else { format!("{} ({})", r.source, r.year) };
            (UsdPerGpuHour::new(r.low), UsdPerGpuHour::new(r.high), src)
        })
    }
    /// Source of a field: its `[field_sources]` entry, else the file's source.
    #[must_use]
    pub fn source_of(&self, field: &str) -> String {
        self.field_sources.get(field).cloned().unwrap_or_else(|| format!("{} ({})", self.source, self.source_year))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name = \"t\"\nvendor = \"v\"\nkind = \"gpu\"\nfamily = \"hopper\"\nyear = 2024\nsource = \"s\"\nsource_year = 2024\n\
        memory_gib = 80.0\nmemory_bandwidth_gb_s = 3000.0\ntdp_w = 700.0\nidle_w = 70.0\nembodied_kgco2e = 10.0\n\
        embodied_method = \"m\"\nlifetime_years = 5.0\npurchase_usd = 1.0\npurchase_year = 2024\n\
        rental_usd_per_gpu_hour = 3.0\nrental_year = 2025\n\n[peak_tflops]\nbf16 = 100.0\n";

    fn parse(extra: &str) -> Result<Accelerator, CatalogError> {
        let a: Accelerator = crate::catalog::parse_toml("t.toml", &format!("{BASE}{extra}"))?;
        a.validate("t.toml").map(|()| a)
    }

    #[test]
    fn a_measured_matmul_ceiling_needs_its_source_and_a_peak_above_it() {
        let with = |top: &str, sources: &str| -> Result<Accelerator, CatalogError> {
            let text = format!("{}{sources}", BASE.replace("\n[peak_tflops]", &format!("\n{top}\n[peak_tflops]")));
            let a: Accelerator = crate::catalog::parse_toml("t.toml", &text)?;
            a.validate("t.toml").map(|()| a)
        };
        let src = "\n[field_sources]\nmamf_bf16_tflops = \"mamf-finder (2025)\"\n";
        assert_eq!(with("mamf_bf16_tflops = 80.0", src).unwrap().mamf_bf16_tflops, Some(80.0));
        let e = with("mamf_bf16_tflops = 80.0", "").unwrap_err().to_string();
        assert!(e.contains("mamf_bf16_tflops") && e.contains("field_sources"), "{e}");
        assert!(with("mamf_bf16_tflops = 120.0", src).is_err(), "above the 100 TFLOP/s peak");
        assert!(with("mamf_fp8_tflops = 50.0", "\n[field_sources]\nmamf_fp8_tflops = \"x (2025)\"\n").is_err(), "no fp8 peak");
        // with an FP8 peak the FP8 measurement still needs the BF16 one (the speed-up is their ratio)
        let text = format!(
            "{}\nfp8 = 200.0\n[field_sources]\nmamf_fp8_tflops = \"x (2025)\"\n",
            BASE.replace("\n[peak_tflops]", "\nmamf_fp8_tflops = 150.0\n[peak_tflops]")
        );
        let a: Accelerator = crate::catalog::parse_toml("t.toml", &text).unwrap();
        let e = a.validate("t.toml").unwrap_err().to_string();
        assert!(e.contains("needs mamf_bf16_tflops"), "{e}");
    }

    #[test]
    fn price_tier_parses_and_prints() {
        for t in PriceTier::ALL {
            assert_eq!(t.name().parse::<PriceTier>().unwrap(), t);
        }
        assert_eq!("spot".parse::<PriceTier>().unwrap(), PriceTier::Market);
        assert_eq!("On_Demand".parse::<PriceTier>().unwrap(), PriceTier::OnDemand);
        assert!("cheap".parse::<PriceTier>().unwrap_err().contains("on-demand, reserved, market"));
    }

    #[test]
    fn rental_tiers_validate_and_read_back() {
        let a = parse("\n[rental_tiers.on_demand]\nlow = 2.0\nhigh = 6.0\nyear = 2026\nsource = \"x, read 2026-09-25\"\n").unwrap();
        let (lo, hi, src) = a.rental_tier(PriceTier::OnDemand).unwrap();
        assert!((lo.value() - 2.0).abs() < 1e-12 && (hi.value() - 6.0).abs() < 1e-12);
        assert!(src.contains("2026"));
        assert!(a.rental_tier(PriceTier::Reserved).is_none());
        let no_year_in_text = parse("\n[rental_tiers.market]\nlow = 1.0\nhigh = 1.0\nyear = 2026\nsource = \"x\"\n").unwrap();
        assert_eq!(no_year_in_text.rental_tier(PriceTier::Market).unwrap().2, "x (2026)");
        assert!(parse("\n[rental_tiers.on_demand]\nlow = 6.0\nhigh = 2.0\nyear = 2026\nsource = \"x\"\n").is_err(), "low > high");
        assert!(parse("\n[rental_tiers.on_demand]\nlow = 0.0\nhigh = 2.0\nyear = 2026\nsource = \"x\"\n").is_err(), "zero");
        assert!(parse("\n[rental_tiers.on_demand]\nlow = 1.0\nhigh = 2.0\nsource = \"x\"\n").is_err(), "no year");
        assert!(parse("\n[rental_tiers.on_demand]\nlow = 1.0\nhigh = 2.0\nyear = 2026\nsource = \" \"\n").is_err(), "no source");
        assert!(parse("\n[rental_tiers.weekly]\nlow = 1.0\nhigh = 2.0\nyear = 2026\nsource = \"x\"\n").is_err(), "unknown tier");
    }
}
