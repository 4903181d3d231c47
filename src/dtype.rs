//! Numeric formats of training arithmetic.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The arithmetic format of a training run's matrix multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Fp64,
    Fp32,
    Tf32,
    Fp16,
    Bf16,
    Fp8,
}

impl Dtype {
    pub const ALL: [Dtype; 6] = [Dtype::Fp64, Dtype::Fp32, Dtype::Tf32, Dtype::Fp16, Dtype::Bf16, Dtype::Fp8];

    /// Bytes of one stored element (weights/activations) in this format.
    /// TF32 is stored as FP32.
    #[must_use]
    pub fn bytes(self) -> f64 {
        match self {
            Dtype::Fp64 => 8.0,
            Dtype::Fp32 | Dtype::Tf32 => 4.0,
            Dtype::Fp16 | Dtype::Bf16 => 2.0,
            Dtype::Fp8 => 1.0,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Fp64 => "fp64",
            Dtype::Fp32 => "fp32",
            Dtype::Tf32 => "tf32",
            Dtype::Fp16 => "fp16",
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
        }
    }

    /// Same as [`Dtype::name`].
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.name()
    }

    /// Unit roundoff of the narrowest format a GEMM rounds through (inputs
    /// for tf32/fp8, output for fp16/bf16): IEEE 754 / OCP FP8 E4M3.
    #[must_use]
    pub fn unit_roundoff(self) -> f64 {
        match self {
            Dtype::Fp64 => f64::EPSILON / 2.0,
            Dtype::Fp32 => f64::from(f32::EPSILON) / 2.0,
            Dtype::Fp16 | Dtype::Tf32 => 2f64.powi(-11),
            Dtype::Bf16 => 2f64.powi(-8),
            Dtype::Fp8 => 2f64.powi(-4),
        }
    }

    /// Verification tolerance for a GEMM with inner dimension `k`: relative
    /// error against an f64 reference normalised by Σ|a||b|, using the
    /// probabilistic √k error growth of Higham & Mary (2019) with margin.
    #[must_use]
    pub fn tolerance(self, k: usize) -> f64 {
        self.unit_roundoff() * (4.0 + 2.0 * (k.max(1) as f64).sqrt())
    }

    /// Mixed-precision training (fp16/bf16/fp8 compute with fp32 master
    /// weights and Adam states).
    #[must_use]
    pub fn is_mixed_precision(self) -> bool {
        matches!(self, Dtype::Fp16 | Dtype::Bf16 | Dtype::Fp8)
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fp64" | "f64" | "float64" | "double" => Ok(Dtype::Fp64),
            "fp32" | "f32" | "float32" | "float" => Ok(Dtype::Fp32),
            "tf32" => Ok(Dtype::Tf32),
            "fp16" | "f16" | "float16" | "half" => Ok(Dtype::Fp16),
            "bf16" | "bfloat16" => Ok(Dtype::Bf16),
            "fp8" | "f8" | "float8" | "e4m3" => Ok(Dtype::Fp8),
            other => Err(format!("unknown dtype `{other}`; use one of fp64, fp32, tf32, fp16, bf16, fp8")),
        }
    }
}
