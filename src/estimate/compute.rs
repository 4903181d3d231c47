//! The compute stage: FLOPs per token, the parallel plan and the memory it
//! needs per device.
//!
//! The plan is the user's where `--tp` and `--pp` are given (other fields
//! default to Megatron-LM's large-model settings: SP with TP, selective
//! recomputation, ZeRO-1 with DP; Korthikanti et al. 2022); otherwise the
//! fastest feasible plan of [`search`](crate::search) with the given
//! fields held fixed. A global batch no data-parallel size divides is
//! rounded to the nearest multiple, with a note. An accounted run needs no
//! plan: when none can be built, the stage says so and later stages fall
//! back (no simulated step).

use super::EstimateError;
use crate::catalog::{AcceleratorKind, ModelSpec};
use crate::flops::{training_per_token, Recompute, TokenFlops};
use crate::memory::{self, MemoryBreakdown};
use crate::notes::Note;
use crate::parallel::{Plan, PlanError};
use crate::scenario::{BatchRequest, Mode, PlanRequest, Scenario};
use crate::search::{self, nearest_multiple, BatchRounding, Constraints, Problem};
use crate::simulator::device::Family;
use crate::simulator::{AnalyticDevice, AttentionKernel, DeviceModel, Network, SimOptions};
use crate::units::{Bytes, FlopPerSec};
use crate::workload::{self, Workload};

/// How the plan was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenBy {
    /// `--tp` and `--pp` given.
    User,
    /// The fastest feasible plan of the search under the framework rules.
    Auto,
    /// As `Auto`, under the TPU mesh rules.
    AutoMesh,
    /// One entry of `flopprint plan`.
    Search,
}

/// A plan with its schedule options and memory.
#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub plan: Plan,
    pub options: SimOptions,
    pub memory: MemoryBreakdown,
    pub chosen_by: ChosenBy,
    /// The step's ops (src/workload.rs).
    pub workload: Workload,
}

/// The machine the step runs on: the device and network models.
pub struct Machine {
    pub device: Box<dyn DeviceModel + Sync>,
    pub network: Network,
    /// Peak FLOP/s of one device in the scenario's dtype.
    pub peak: FlopPerSec,
}

/// What the compute stage found.
pub struct Compute {
    /// FLOPs per token (model and hardware; the latter with the plan's
    /// recomputation).
    pub flops: TokenFlops,
    /// The plan; `None` only for an accounted run none can be built for.
    pub step: Option<PlannedStep>,
    pub machine: Machine,
    pub sources: Vec<(String, String)>,
    pub notes: Vec<Note>,
}

/// The device model: measured GEMM throughput from a calibration profile,
/// else the analytic model of the accelerator's datasheet.
#[must_use]
pub fn device_model(sc: &Scenario) -> Box<dyn DeviceModel + Sync> {
    let analytic = AnalyticDevice::new(&sc.accelerator);
    match &sc.calibration {
        Some(p) => Box::new(crate::calibrate::local::device_model(p.clone(), analytic)),
        None => Box::new(analytic),
    }
}

/// The per-replica batch default: the model's published global batch, else
/// ~4M tokens per step (Touvron et al. 2023 §2.2 used 4M-token batches).
#[must_use]
pub fn default_global_batch(spec: &ModelSpec, seq_len: u64, dp_hint: u64) -> u64 {
    if let Some(g) = spec.training.as_ref().and_then(|t| t.global_batch) {
        return g;
    }
    let g = (4_194_304 / seq_len.max(1)).max(1).max(dp_hint);
    // round up to a multiple of the DP size so micro-batches divide it
    g.div_ceil(dp_hint.max(1)) * dp_hint.max(1)
}

/// The attention kernel a framework runs on this accelerator: fused
/// (FlashAttention-2/3, cuDNN) on Ampere and newer NVIDIA families, else
/// unfused.
#[must_use]
pub fn attention_kernel(sc: &Scenario) -> AttentionKernel {
    if let Some(k) = sc.plan.attention {
        return k;
    }
    if Family::from_name(&sc.accelerator.family).has_flash_attention() {
        AttentionKernel::Flash
    } else {
        AttentionKernel::Unfused
    }
}

/// The scenario's network: its system's two tiers, with the plan's
/// `--zero3-efficiency` where given.
#[must_use]
pub fn network(sc: &Scenario) -> Network {
    let mut n = Network::from_system(sc.system.as_ref(), sc.gpus);
    if let Some(e) = sc.plan.zero3_efficiency {
        n.zero3_efficiency = e;
    }
    n
}

/// The schedule options of a user-given plan.
#[must_use]
pub fn user_options(sc: &Scenario) -> SimOptions {
    SimOptions {
        attention: attention_kernel(sc),
        overlap: sc.plan.overlap.unwrap_or_default(),
        ep_overlap: sc.plan.ep_overlap.unwrap_or(false),
        ..SimOptions::default()
    }
}

/// What the plan assumes, for `Note::Plan`.
#[must_use]
pub fn plan_assumptions(s: &PlannedStep) -> String {
    let o = s.options;
    let attn = match o.attention {
        AttentionKernel::Flash => "fused FlashAttention-style attention",
        AttentionKernel::Unfused => "unfused attention (scores in HBM)",
    };
    let chosen = match s.chosen_by {
        ChosenBy::Auto => "chosen by framework rules (TP inside a node, the smallest PP that fits without full recomputation, or a smaller PP with it where that is faster, distributed optimizer ZeRO-1, SP with TP)",
        ChosenBy::AutoMesh => {
            "chosen by TPU mesh rules (model parallelism across the ICI mesh, no pipeline, full recomputation only when nothing else fits, ZeRO-1 else fully sharded weights)"
        }
        ChosenBy::User => "as given",
        ChosenBy::Search => "from the plan search",
    };
    let overlap = match o.overlap {
        crate::simulator::Overlap::Realistic => {
            "realistic overlap (DP gradient reduction behind the last micro-batch's backward only, ZeRO-3 gathers prefetched one layer ahead, no hidden cross-node TP)"
        }
        crate::simulator::Overlap::Ideal => "ideal overlap (DP collectives behind all compute)",
    };
    let tp = if o.tp_overlap == crate::simulator::TpOverlap::None { "synchronous TP collectives" } else { "TP communication overlapped with GEMMs" };
    let fp8 = if s.plan.dtype == crate::dtype::Dtype::Fp8 {
        "; FP8 linear layers (Transformer Engine), attention, router and logits in BF16, casts as memory-bound kernels"
    } else {
        ""
    };
    let ep = if s.plan.ep > 1 {
        if o.ep_overlap {
            "; expert all-to-all hidden behind another micro-batch's compute (DualPipe-style)"
        } else {
            "; expert all-to-all exposed (--ep-overlap hides it)"
        }
    } else {
        ""
    };
    format!("plan {chosen}; {overlap}; {tp}; {attn}{fp8}{ep}")
}

/// The search constraints from the plan request (schedule fixed at
/// Megatron-LM 2022's).
#[must_use]
pub fn constraints(r: &PlanRequest) -> Constraints {
    Constraints {
        tp: r.tp,
        pp: r.pp,
        interleave: r.interleave,
        sp: r.sp,
        ep: r.ep,
        zero: r.zero,
        recompute: r.recompute,
        micro_batch: r.micro_batch,
        cp: r.cp,
        ep_overlap: r.ep_overlap,
        dp_overlap: None,
        ..Constraints::default()
    }
    .megatron_schedule()
}

/// The requested global batch in sequences (`None`: the default).
fn requested_batch(sc: &Scenario, notes: &mut Vec<Note>) -> Option<u64> {
    let g = sc.batch.sequences(sc.seq_len);
    if let (BatchRequest::Tokens(t), Some(g)) = (sc.batch, g) {
        notes.push(Note::BatchFromTokens { tokens: t, seq_len: sc.seq_len, sequences: g });
    }
    g
}

fn breakdown_text(m: &MemoryBreakdown) -> String {
    format!(
        "weights {:.1} + gradients {:.1} + optimizer {:.1} + activations {:.1} + reserve {:.1} GiB",
        m.weights_gib, m.gradients_gib, m.optimizer_gib, m.activations_gib, m.reserve_gib
    )
}

/// Searched plans by everything the search depends on (model, hardware,
/// GPU count, sequence length, batch, dtype, fine-tuning, plan request), so
/// that scenarios sharing them — a sweep over prices, sites or token
/// counts — search once. Holds at most [`PlanCache::CAPACITY`] plans; not
/// used with a calibration profile.
#[derive(Default)]
pub struct PlanCache {
    map: std::sync::Mutex<std::collections::HashMap<String, PlanResult>>,
}

type PlanResult = Result<(PlannedStep, Vec<Note>), EstimateError>;

impl PlanCache {
    /// The most plans kept (a plan holds its step's op list). A design
    /// choice of this tool, no published source: it bounds the cache's memory
    /// while covering a sweep's distinct clusters (1,000 node counts in the
    /// 10⁵-scenario benchmark).
    pub const CAPACITY: usize = 4096;
    /// How many searches are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn get(&self, key: &str) -> Option<PlanResult> {
        self.map.lock().ok().and_then(|m| m.get(key).cloned())
    }
    fn put(&self, key: String, v: PlanResult) {
        if let Ok(mut m) = self.map.lock() {
            if m.len() < Self::CAPACITY {
                m.insert(key, v);
            }
        }
    }
}

/// The cache key of the plan search: the ids and sizes in clear, and a hash
/// of the full model, accelerator and system (a model file may reuse a
/// catalog id).
fn plan_key(sc: &Scenario, requested: Option<u64>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    format!("{:?}{:?}{:?}", sc.model, sc.accelerator, sc.system).hash(&mut h);
    format!(
        "{}|{}|{:?}|{}|{}|{requested:?}|{}|{:?}|{:?}|{:016x}",
        sc.model.id,
        sc.accelerator.id,
        sc.system.as_ref().map(|s| &s.id),
        sc.gpus,
        sc.seq_len,
        sc.dtype,
        sc.fine_tune,
        sc.plan,
        h.finish()
    )
}

/// The plan for the scenario.
fn choose_plan(sc: &Scenario, machine: &Machine, notes: &mut Vec<Note>, cache: Option<&PlanCache>) -> Result<PlannedStep, EstimateError> {
    let r = &sc.plan;
    let spec = &sc.model;
    let gpus = sc.gpus;
    let capacity = sc.accelerator.memory();
    let requested = requested_batch(sc, notes);
    if let Some(tp) = r.tp {
        if !spec.heads.is_multiple_of(tp) {
            return Err(PlanError::TpHeads { tp, heads: spec.heads }.into());
        }
    }
    let cp = r.cp.unwrap_or(1);
    if cp > 1 && !sc.seq_len.is_multiple_of(2 * cp) {
        return Err(PlanError::CpSeq { cp, seq_len: sc.seq_len }.into());
    }
    if let (Some(tp), Some(pp)) = (r.tp, r.pp) {
        let split = tp.checked_mul(pp).and_then(|s| s.checked_mul(cp)).filter(|s| gpus.is_multiple_of(*s)).ok_or(if cp > 1 {
            PlanError::GpusNotDivisibleCp { gpus, tp, cp, pp }
        } else {
            PlanError::GpusNotDivisible { gpus, tp, pp }
        })?;
        let dp = gpus / split;
        let micro = r.micro_batch.unwrap_or(1);
        let multiple = dp.checked_mul(micro).ok_or(PlanError::Batch { global: requested.unwrap_or(0), dp, micro })?;
        let global = match requested {
            Some(g) if !g.is_multiple_of(multiple) => {
                let to = nearest_multiple(g, multiple);
                notes.push(Note::BatchRounded { from: g, to, multiple });
                to
            }
            Some(g) => g,
            None => default_global_batch(spec, sc.seq_len, multiple),
        };
        let plan = Plan {
            tp,
            cp,
            pp,
            dp,
            interleave: r.interleave.unwrap_or(1),
            sp: r.sp.unwrap_or(tp > 1),
            ep: r.ep.unwrap_or(1),
            zero: r.zero.unwrap_or(u8::from(dp * cp > 1)),
            recompute: r.recompute.unwrap_or(Recompute::Selective),
            micro_batch: micro,
            global_batch: global,
            dtype: sc.dtype,
        };
        plan.validate(spec)?;
        let options = user_options(sc);
        let fused = options.attention == crate::simulator::AttentionKernel::Flash;
        let memory = memory::per_device_with(spec, &plan, sc.seq_len, sc.fine_tune, capacity, options.offload, options.sp_ag_redo, Bytes::new(0.0), fused);
        let workload = workload::build(spec, &plan, sc.seq_len)?;
        return Ok(PlannedStep { plan, options, memory, chosen_by: ChosenBy::User, workload });
    }
    let key = cache.filter(|_| sc.calibration.is_none()).map(|_| plan_key(sc, requested));
    if let (Some(c), Some(k)) = (cache, &key) {
        if let Some(hit) = c.get(k) {
            let (step, found_notes) = hit?;
            notes.extend(found_notes);
            return Ok(step);
        }
    }
    let mut found_notes = Vec::new();
    let result = search_plan(sc, machine, requested, &mut found_notes);
    if let (Some(c), Some(k)) = (cache, key) {
        c.put(k, result.clone().map(|s| (s, found_notes.clone())));
    }
    notes.extend(found_notes);
    result
}

/// The fastest feasible plan of the search under the framework rules.
fn search_plan(sc: &Scenario, machine: &Machine, requested: Option<u64>, notes: &mut Vec<Note>) -> Result<PlannedStep, EstimateError> {
    let r = &sc.plan;
    let spec = &sc.model;
    let gpus = sc.gpus;
    let capacity = sc.accelerator.memory();
    let global = requested.unwrap_or_else(|| default_global_batch(spec, sc.seq_len, gpus));
    let mesh = sc.accelerator.kind == AcceleratorKind::Tpu;
    let base = Constraints { attention: Some(attention_kernel(sc)), overlap: Some(r.overlap.unwrap_or_default()), ..constraints(r) };
    let problem = Problem {
        spec,
        seq_len: sc.seq_len,
        gpus,
        global_batch: global,
        round_batch: BatchRounding::Nearest,
        dtype: sc.dtype,
        fine_tune: sc.fine_tune,
        capacity,
        device: machine.device.as_ref(),
        network: &machine.network,
        constraints: if mesh { base.with_mesh_rules() } else { base.with_framework_rules() },
    };
    let mut found = search::search(&problem, 1);
    if found.top.is_empty() && r.zero.is_none() {
        // nothing fits with the distributed optimizer: shard the weights too
        // (ZeRO-3 / FSDP), as OPT-175B and many large runs did
        let fallback = Problem { constraints: Constraints { fsdp_fallback: true, ..problem.constraints }, ..problem };
        let again = search::search(&fallback, 1);
        if !again.top.is_empty() {
            notes.push(Note::Plan("no plan fits with the distributed optimizer (ZeRO-1): weights sharded as well (ZeRO-3 / FSDP)".into()));
            found = again;
        }
    }
    let best = found.top.into_iter().next().or(found.least_memory);
    match best {
        Some(c) => {
            if c.plan.global_batch != global {
                notes.push(Note::BatchRounded { from: global, to: c.plan.global_batch, multiple: c.plan.dp * c.plan.micro_batch });
            }
            let workload = workload::build(spec, &c.plan, sc.seq_len)?;
            Ok(PlannedStep { plan: c.plan, options: c.options, memory: c.memory, chosen_by: if mesh { ChosenBy::AutoMesh } else { ChosenBy::Auto }, workload })
        }
        None => Err(EstimateError::NoPlan { gpus, global, invalid: found.configs_invalid }),
    }
}

/// Runs the compute stage.
///
/// # Errors
/// In predict mode: no valid plan, or a plan that does not fit memory.
pub fn run(sc: &Scenario) -> Result<Compute, EstimateError> {
    run_with(sc, None)
}

/// [`run`], reusing (and filling) a cache of searched plans.
///
/// # Errors
/// As [`run`].
pub fn run_with(sc: &Scenario, cache: Option<&PlanCache>) -> Result<Compute, EstimateError> {
    let mut notes = Vec::new();
    let mut sources = Vec::new();
    if !sc.accelerator.memory_gib.is_finite() {
        return Err(EstimateError::Calibration("the calibration profile does not record the device's memory: rerun `flopprint calibrate`".into()));
    }
    let peak = sc.accelerator.peak(sc.dtype).map_err(|m| EstimateError::Calibration(format!("--dtype {}: {m}", sc.dtype)))?;
    let machine = Machine { device: device_model(sc), network: network(sc), peak };
    if let Some(p) = &sc.calibration {
        sources.push((
            "device_model".into(),
            format!(
                "calibration profile of {} ({} verified GEMM results, {} threads, {})",
                p.device.name,
                p.results.iter().filter(|r| r.verified).count(),
                p.device.threads,
                p.software.backend
            ),
        ));
    }
    sources.push(("model".into(), format!("{} ({})", sc.model.source, sc.model.source_year)));
    sources.push(("peak".into(), sc.accelerator.source_of("peak_tflops")));
    let step = match (choose_plan(sc, &machine, &mut notes, cache), sc.mode()) {
        (Ok(s), _) => Some(s),
        (Err(e), Mode::Account) => {
            notes.push(Note::NoPlan { reason: e.to_string() });
            None
        }
        (Err(e), Mode::Predict) => return Err(e),
    };
    if let Some(s) = &step {
        notes.push(Note::Plan(plan_assumptions(s)));
        let m = &s.memory;
        if !m.fits {
            if sc.mode() == Mode::Predict {
                let fix = if s.chosen_by == ChosenBy::User {
                    "raise --tp/--pp, use --recompute full, a smaller --micro-batch, --zero 1..3, or more GPUs"
                } else {
                    "no TP x PP split of these GPUs fits: use more GPUs, --recompute full, --zero 3, or hardware with more memory"
                };
                return Err(EstimateError::DoesNotFit { need: m.total_gib, have: m.capacity_gib, breakdown: breakdown_text(m), fix: fix.to_string() });
            }
            notes.push(Note::DoesNotFitAccounting { need_gib: m.total_gib, have_gib: m.capacity_gib });
        }
    }
    let recompute = step.as_ref().map_or_else(|| sc.plan.recompute.unwrap_or(Recompute::Selective), |s| s.plan.recompute);
    let flops = training_per_token(&sc.model, sc.seq_len, recompute, sc.fine_tune);
    if let crate::flops::FineTune::Lora { rank } = sc.fine_tune {
        notes.push(Note::Lora { rank, adapter_params: crate::flops::lora_params(&sc.model, rank) });
    }
    Ok(Compute { flops, step, machine, sources, notes })
}

/// Why nothing fits, for `flopprint plan`.
#[must_use]
pub fn does_not_fit_text(m: &MemoryBreakdown) -> String {
    format!("nothing fits in memory: the smallest plan needs {:.1} GiB per GPU ({})", m.total_gib, breakdown_text(m))
}
