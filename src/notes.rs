//! Typed notes and provenance: what each stage tells the reader besides
//! its figures. A [`Note`] says what happened and, where the user can act,
//! the remedy; a [`Sourced`] value carries where it came from.

use serde::{Serialize, Serializer};
use std::fmt;

/// A value with the source it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Self { value, source: source.into() }
    }
}

/// Something a reader of an estimate should know. Printed as a sentence;
/// serialized as that sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// Fields taken from the built-in default scenario.
    Defaulted(Vec<String>),
    /// The default dtype is not supported by the accelerator.
    DtypeFallback { from: String, to: String, accelerator: String },
    /// A built-in default dropped because it does not apply.
    DefaultDropped { field: &'static str, why: &'static str },
    /// The global batch was given in tokens.
    BatchFromTokens { tokens: f64, seq_len: u64, sequences: u64 },
    /// The global batch was rounded to one the data-parallel split divides.
    BatchRounded { from: u64, to: u64, multiple: u64 },
    /// Accounting without a feasible plan.
    NoPlan { reason: String },
    /// Accounting with a plan that does not fit memory.
    DoesNotFitAccounting { need_gib: f64, have_gib: f64 },
    /// An accounting run without tokens has no MFU.
    NoTokensNoMfu,
    /// The MFU implied by measured time and tokens is above 1.
    ImpossibleMfu { mfu: f64 },
    /// No system: power counts the accelerators only.
    AcceleratorOnlyPower,
    /// No list price of the nodes.
    CapexAcceleratorsOnly { system: String, gpus: u64 },
    /// No rental price.
    NoRentalPrice { accelerator: String },
    /// Embodied carbon left out.
    EmbodiedExcluded,
    /// LoRA accounting.
    Lora { rank: u32, adapter_params: f64 },
    /// The site has no grid figure on the requested basis.
    GridBasisFallback { site: String, wanted: String, used: String },
    /// The plan's schedule assumptions.
    Plan(String),
    /// A free-form statement from a stage (rare; prefer a variant).
    Info(String),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Defaulted(v) => write!(f, "from the built-in default scenario: {}", v.join(", ")),
            Note::DtypeFallback { from, to, accelerator } => {
                write!(f, "dtype {to}: {accelerator} has no {from} (the default); give --dtype to choose another")
            }
            Note::DefaultDropped { field, why } => write!(f, "the built-in default's {field} is not used: {why}"),
            Note::BatchFromTokens { tokens, seq_len, sequences } => {
                write!(f, "global batch of {tokens:.4e} tokens = {sequences} sequences of {seq_len}")
            }
            Note::BatchRounded { from, to, multiple } => write!(
                f,
                "global batch {from} rounded to {to}, the nearest multiple of data-parallel size x micro-batch ({multiple}); give --global-batch {to} to silence this"
            ),
            Note::NoPlan { reason } => write!(
                f,
                "no parallel plan could be built ({reason}); accounting proceeds from the measured time without a simulated step (no memory check, power from the default phase mix)"
            ),
            Note::DoesNotFitAccounting { need_gib, have_gib } => {
                write!(f, "the plan does not fit in memory ({need_gib:.1} > {have_gib:.1} GiB); accounting proceeds from the measured time")
            }
            Note::NoTokensNoMfu => write!(f, "no --tokens: MFU and FLOPs are not reported for this accounted run; give --tokens to get them"),
            Note::ImpossibleMfu { mfu } => write!(
                f,
                "the measured time and --tokens imply an MFU of {mfu:.2}, above 1, which is impossible: MFU is not reported; check --tokens and --hours/--gpu-hours"
            ),
            Note::AcceleratorOnlyPower => {
                write!(f, "no --system: power counts the accelerators only (no host CPUs, memory, fans); give --system for node power")
            }
            Note::CapexAcceleratorsOnly { system, gpus } => {
                write!(f, "no list price for {system}: capex counts the {gpus} accelerators only, not the rest of the nodes")
            }
            Note::NoRentalPrice { accelerator } => {
                write!(f, "no public on-demand price for {accelerator}: give --price-per-gpu-hour for the rental cost")
            }
            Note::EmbodiedExcluded => write!(f, "embodied carbon excluded (--no-embodied / embodied = false)"),
            Note::Lora { rank, adapter_params } => write!(
                f,
                "LoRA rank {rank} on W_q, W_v: frozen weights skip weight gradients (training FLOPs 4N+ instead of 6N per token); gradients and Adam states only for the {adapter_params:.3e} adapter parameters"
            ),
            Note::GridBasisFallback { site, wanted, used } => write!(
                f,
                "site {site} publishes no {wanted} grid figure: its {used} figure is used; give --grid-intensity for another value"
            ),
            Note::Plan(s) | Note::Info(s) => f.write_str(s),
        }
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
