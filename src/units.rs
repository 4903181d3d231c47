//! Physical and economic quantities as types.
//!
//! Every quantity that crosses a module boundary is one of these newtypes, so
//! that `Watts * Seconds` is `Joules` and adding watts to dollars does not
//! compile. Each wraps an `f64` in SI (or the named) unit; accessors convert to
//! the units people read (`kwh()`, `hours()`, `tflops()`), and serialized names
//! carry the unit (`energy_facility_kwh`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, Sub};

macro_rules! quantity {
    ($(#[$meta:meta])* $name:ident, $unit:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// Zero of this quantity.
            pub const ZERO: Self = Self(0.0);
            /// Wraps a raw value given in this type's base unit.
            #[must_use]
            pub const fn new(value: f64) -> Self {
                Self(value)
            }
            /// The raw value in this type's base unit.
            #[must_use]
            pub const fn value(self) -> f64 {
                self.0
            }
            /// True when the value is finite (not NaN or infinite).
            #[must_use]
            pub fn is_finite(self) -> bool {
                self.0.is_finite()
            }
            /// The larger of two quantities.
            #[must_use]
            pub fn max(self, other: Self) -> Self {
                Self(self.0.max(other.0))
            }
            /// The smaller of two quantities.
            #[must_use]
            pub fn min(self, other: Self) -> Self {
                Self(self.0.min(other.0))
            }
        }
        impl Add for $name {
            type Output = Self;
            fn add(self, rhs: Self) -> Self {
                Self(self.0 + rhs.0)
            }
        }
        impl AddAssign for $name {
            fn add_assign(&mut self, rhs: Self) {
                self.0 += rhs.0;
            }
        }
        impl Sub for $name {
            type Output = Self;
            fn sub(self, rhs: Self) -> Self {
                Self(self.0 - rhs.0)
            }
        }
        impl Mul<f64> for $name {
            type Output = Self;
            fn mul(self, rhs: f64) -> Self {
                Self(self.0 * rhs)
            }
        }
        impl Mul<$name> for f64 {
            type Output = $name;
            fn mul(self, rhs: $name) -> $name {
                $name(self * rhs.0)
            }
        }
        impl Div<f64> for $name {
            type Output = Self;
            fn div(self, rhs: f64) -> Self {
                Self(self.0 / rhs)
            }
        }
        /// Ratio of two like quantities is a plain number.
        impl Div for $name {
            type Output = f64;
            fn div(self, rhs: Self) -> f64 {
                self.0 / rhs.0
            }
        }
        impl Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|q| q.0).sum())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if let Some(p) = f.precision() {
                    write!(f, "{:.*} {}", p, self.0, $unit)
                } else {
                    write!(f, "{} {}", self.0, $unit)
                }
            }
        }
    };
}

quantity!(
    /// A count of floating-point operations (FLOP).
    Flop, "FLOP");
quantity!(
    /// Throughput in floating-point operations per second.
    FlopPerSec, "FLOP/s");
quantity!(
    /// A duration in seconds.
    Seconds, "s");
quantity!(
    /// Power in watts.
    Watts, "W");
quantity!(
    /// Energy in joules.
    Joules, "J");
quantity!(
    /// Mass of CO2-equivalent emissions in kilograms.
    KgCo2e, "kgCO2e");
quantity!(
    /// Money in US dollars.
    Usd, "USD");
quantity!(
    /// A size in bytes.
    Bytes, "B");
quantity!(
    /// Memory or link bandwidth in bytes per second.
    BytesPerSec, "B/s");
quantity!(
    /// Grid carbon intensity in grams CO2e per kilowatt-hour.
    GramsPerKwh, "gCO2e/kWh");
quantity!(
    /// Electricity price in US dollars per kilowatt-hour.
    UsdPerKwh, "USD/kWh");
quantity!(
    /// Rental price in US dollars per accelerator-hour.
    UsdPerGpuHour, "USD/GPU-h");
quantity!(
    /// Accelerator time: number of devices times hours.
    GpuHours, "GPU-h");

pub const SECONDS_PER_HOUR: f64 = 3600.0;
pub const JOULES_PER_KWH: f64 = 3.6e6;
pub const BYTES_PER_GIB: f64 = 1_073_741_824.0;
/// International avoirdupois pound in kilograms (exact by definition, 1959).
pub const KG_PER_LB: f64 = 0.453_592_37;

impl Flop {
    #[must_use]
    pub fn tera(self) -> f64 {
        self.0 / 1e12
    }
}
impl FlopPerSec {
    #[must_use]
    pub fn from_tflops(t: f64) -> Self {
        Self(t * 1e12)
    }
    #[must_use]
    pub fn tflops(self) -> f64 {
        self.0 / 1e12
    }
}
impl Seconds {
    #[must_use]
    pub fn from_hours(h: f64) -> Self {
        Self(h * SECONDS_PER_HOUR)
    }
    #[must_use]
    pub fn hours(self) -> f64 {
        self.0 / SECONDS_PER_HOUR
    }
    #[must_use]
    pub fn days(self) -> f64 {
        self.0 / 86_400.0
    }
}
impl Joules {
    #[must_use]
    pub fn from_kwh(kwh: f64) -> Self {
        Self(kwh * JOULES_PER_KWH)
    }
    #[must_use]
    pub fn kwh(self) -> f64 {
        self.0 / JOULES_PER_KWH
    }
}
impl KgCo2e {
    #[must_use]
    pub fn tonnes(self) -> f64 {
        self.0 / 1000.0
    }
    #[must_use]
    pub fn lbs(self) -> f64 {
        self.0 / KG_PER_LB
    }
    #[must_use]
    pub fn from_lbs(lbs: f64) -> Self {
        Self(lbs * KG_PER_LB)
    }
}
impl Bytes {
    #[must_use]
    pub fn from_gib(g: f64) -> Self {
        Self(g * BYTES_PER_GIB)
    }
    #[must_use]
    pub fn gib(self) -> f64 {
        self.0 / BYTES_PER_GIB
    }
}
impl BytesPerSec {
    #[must_use]
    pub fn from_gb_s(g: f64) -> Self {
        Self(g * 1e9)
    }
}
impl GpuHours {
    #[must_use]
    pub fn from_devices_time(devices: f64, t: Seconds) -> Self {
        Self(devices * t.hours())
    }
}

impl Div<FlopPerSec> for Flop {
    type Output = Seconds;
    fn div(self, rhs: FlopPerSec) -> Seconds {
        Seconds(self.0 / rhs.0)
    }
}
impl Div<Seconds> for Flop {
    type Output = FlopPerSec;
    fn div(self, rhs: Seconds) -> FlopPerSec {
        FlopPerSec(self.0 / rhs.0)
    }
}
impl Mul<Seconds> for FlopPerSec {
    type Output = Flop;
    fn mul(self, rhs: Seconds) -> Flop {
        Flop(self.0 * rhs.0)
    }
}
impl Div<BytesPerSec> for Bytes {
    type Output = Seconds;
    fn div(self, rhs: BytesPerSec) -> Seconds {
        Seconds(self.0 / rhs.0)
    }
}
impl Mul<Seconds> for Watts {
    type Output = Joules;
    fn mul(self, rhs: Seconds) -> Joules {
        Joules(self.0 * rhs.0)
    }
}
impl Div<Seconds> for Joules {
    type Output = Watts;
    fn div(self, rhs: Seconds) -> Watts {
        Watts(self.0 / rhs.0)
    }
}
impl Mul<GramsPerKwh> for Joules {
    type Output = KgCo2e;
    fn mul(self, rhs: GramsPerKwh) -> KgCo2e {
        KgCo2e(self.kwh() * rhs.0 / 1000.0)
    }
}
impl Mul<UsdPerKwh> for Joules {
    type Output = Usd;
    fn mul(self, rhs: UsdPerKwh) -> Usd {
        Usd(self.kwh() * rhs.0)
    }
}
impl Mul<UsdPerGpuHour> for GpuHours {
    type Output = Usd;
    fn mul(self, rhs: UsdPerGpuHour) -> Usd {
        Usd(self.0 * rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_times_time_is_energy() {
        let e = Watts::new(1000.0) * Seconds::from_hours(1.0);
        assert!((e.kwh() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn flop_over_throughput_is_time() {
        let t = Flop::new(1e15) / FlopPerSec::from_tflops(1000.0);
        assert!((t.value() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn energy_times_intensity_is_mass() {
        let m = Joules::from_kwh(1000.0) * GramsPerKwh::new(400.0);
        assert!((m.value() - 400.0).abs() < 1e-9);
    }

    #[test]
    fn pounds_round_trip() {
        let m = KgCo2e::from_lbs(1984.0);
        assert!((m.lbs() - 1984.0).abs() < 1e-9);
        assert!((m.value() - 899.927_6).abs() < 1e-3);
    }
}
