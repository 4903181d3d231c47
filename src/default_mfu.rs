//! Device throughput: how fast an accelerator runs the training FLOPs.
//!
//! Until a step-time simulation or a calibration profile is given, the time
//! of a run is `model FLOPs / (devices x peak(dtype) x MFU)`, with a default
//! model-FLOPs utilisation per hardware family taken from a published
//! large-scale run on that family (below). `--mfu` overrides it.

use crate::catalog::Accelerator;

/// A default MFU and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultMfu {
    pub mfu: f64,
    pub source: &'static str,
}

/// Default MFU for an accelerator's family.
#[must_use]
pub fn default_mfu(acc: &Accelerator) -> DefaultMfu {
    match acc.family.as_str() {
        "pascal" | "volta" => DefaultMfu { mfu: 0.30, source: "Shoeybi et al. 2019 (Megatron-LM): 15.1 PFLOP/s sustained on 512 V100 = 30% of peak" },
        "ampere" => DefaultMfu { mfu: 0.47, source: "Zhang et al. 2022 (OPT-175B): 147 TFLOP/s per A100-80GB = 47% of the 312 TFLOP/s bf16 peak" },
        "hopper" => DefaultMfu { mfu: 0.40, source: "Dubey et al. 2024 (Llama 3) Table 4: 38-43% bf16 MFU on 8,192-16,384 H100" },
        "tpu" => DefaultMfu { mfu: 0.462, source: "Chowdhery et al. 2022 (PaLM) Table 3: 46.2% MFU on 6,144 TPU v4" },
        "blackwell" | "cdna3" | "cdna4" | "ada" => {
            DefaultMfu { mfu: 0.40, source: "assumption: no published large-scale MFU for this family; Hopper's 40% (Dubey et al. 2024) is used" }
        }
        "trainium" => {
            DefaultMfu { mfu: 0.30, source: "assumption: no published large-scale training MFU for AWS Trainium2 read; the generic 30% default is used" }
        }
        "gaudi" => {
            DefaultMfu { mfu: 0.30, source: "assumption: no published large-scale training MFU for Intel Gaudi 3 read; the generic 30% default is used" }
        }
        _ => DefaultMfu {
            mfu: 0.30,
            source: "assumption: no published large-scale training MFU; calibrate the device (`flopprint calibrate`) for a measured figure",
        },
    }
}
