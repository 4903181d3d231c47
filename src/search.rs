//! Plan search: enumerate TP x PP x interleave x micro-batch x recompute x
//! SP x ZeRO (x EP for MoE) x schedule options for a global batch on a
//! fixed number of devices, drop what is invalid or does not fit, simulate
//! the rest and rank them. The space contains Calculon's (Isaev et al.
//! 2023, `llm-optimal-execution`): TP/PP/DP split, interleaving,
//! micro-batch, recompute {full, attention only, none}, optimizer sharding
//! (here ZeRO 0–3), TP comm type {all-reduce, RS/AG (SP)}, SP all-gather
//! redo, DP overlap, TP overlap {none, ring, pipe}, weight / activation /
//! optimizer offload (when the system profile has a host link and host
//! memory), and the network tier of each group (here the rank order,
//! tensor- or data-fastest, which decides it). Calculon's third TP comm
//! type, `p2p_rs_ag` (all-reduce inside blocks, scatter/gather at pipeline
//! boundaries), is what this simulator's all-reduce mode already does
//! (Narayanan 2021 §4.1), so it is not a separate point. Activation offload
//! is also searched with full recomputation (the checkpoints, ZeRO-R
//! "CPU checkpointing"), which Calculon excludes. Every counted point is a
//! distinct simulated configuration. Candidates are independent, so the
//! search runs in parallel (rayon).

use crate::catalog::ModelSpec;
use crate::dtype::Dtype;
use crate::flops::{training_per_token, FineTune, Recompute};
use crate::memory::{self, MemoryBreakdown, Offload, OFFLOAD_RESIDENT_BLOCKS};
use crate::parallel::Plan;
use crate::simulator::{AttentionKernel, Breakdown, DeviceModel, Network, Overlap, SimOptions, Simulator, TpOverlap};
use crate::units::Bytes;
use crate::workload;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// What to minimise. With a fixed device count, rental cost and CO2e are
/// proportional to wall time, so the three agree on the order and differ
/// in the figures reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    #[default]
    Time,
    Cost,
    Co2e,
}

/// Dimensions the user fixed (`None` = search it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Constraints {
    pub tp: Option<u64>,
    /// Context-parallel size (not searched; `None` = 1).
    pub cp: Option<u64>,
    pub pp: Option<u64>,
    pub interleave: Option<u64>,
    pub sp: Option<bool>,
    pub ep: Option<u64>,
    pub zero: Option<u8>,
    pub recompute: Option<Recompute>,
    pub micro_batch: Option<u64>,
    pub dp_overlap: Option<bool>,
    pub tp_overlap: Option<TpOverlap>,
    pub sp_ag_redo: Option<bool>,
    pub offload: Option<Offload>,
    pub dp_inner: Option<bool>,
    /// Attention kernel (not searched; `None` = unfused).
    pub attention: Option<AttentionKernel>,
    /// Overlap assumptions (not searched; `None` = realistic).
    pub overlap: Option<Overlap>,
    /// Expert all-to-all overlap (not searched; `None` = off).
    pub ep_overlap: Option<bool>,
    /// Restrict the space to what a Megatron-LM / NeMo user picks
    /// ([`Constraints::framework_rules`]).
    pub framework_rules: bool,
    /// Under the framework rules, shard weights too (ZeRO-3 / FSDP): what a
    /// user does when no plan fits with the distributed optimizer.
    pub fsdp_fallback: bool,
    /// Under the framework rules, the accelerators form one mesh (TPU ICI):
    /// tensor parallelism is not bounded by the host's accelerator count
    /// (see [`Constraints::with_mesh_rules`]).
    pub mesh: bool,
}

impl Constraints {
    /// The plan rules of a Megatron-LM / NeMo user (Narayanan et al. 2021
    /// §3.3 "takeaways"; NeMo performance recipes), applied by the search
    /// when `framework_rules` is set and the user did not fix the field:
    ///
    /// 1. tensor parallelism stays inside a node (TP ≤ GPUs per node;
    ///    Narayanan 2021 takeaway #1);
    /// 2. pipeline parallelism only when the model does not fit: the
    ///    smallest PP with a feasible plan is used (takeaway #2: PP across
    ///    nodes to scale to larger models), where a plan that recomputes
    ///    whole layers is the fallback (Korthikanti et al. 2022, Table 4:
    ///    full recomputation adds 39 % to a 22B layer's forward and backward
    ///    time, selective recomputation with SP 4 %): at a given PP it
    ///    counts only when nothing else fits; with PP searched, the
    ///    smallest PP with full recomputation is kept instead of the
    ///    smallest PP without it only where it is faster (a pipeline made
    ///    deep enough to avoid recomputation, with few micro-batches, can
    ///    lose more to its bubble, `(p−1)/m`, than recomputation costs);
    /// 3. the distributed optimizer (ZeRO-1) whenever DP > 1, never ZeRO-2/3
    ///    (Megatron-core `--use-distributed-optimizer`, on in every NeMo
    ///    recipe);
    /// 4. sequence parallelism with TP > 1 (Korthikanti 2022; NeMo recipes);
    /// 5. DP gradient reduction overlapped with backward;
    /// 6. the rest (micro-batch, interleave, recompute) is searched.
    #[must_use]
    pub fn with_framework_rules(self) -> Self {
        Self { framework_rules: true, dp_overlap: self.dp_overlap.or(Some(true)), ..self }
    }

    /// The plan rules of a JAX/GSPMD user on a TPU slice, where every chip
    /// reaches the others over ICI (Chowdhery et al. 2022, PaLM §4: 12-way
    /// model parallelism and fully sharded data parallelism inside each
    /// 3,072-chip pod, no pipeline parallelism): the framework rules with
    /// model parallelism bounded by the heads instead of the host, and no
    /// pipeline unless the user asks for one.
    #[must_use]
    pub fn with_mesh_rules(self) -> Self {
        Self { mesh: true, pp: self.pp.or(Some(1)), ..self.with_framework_rules() }
    }

    /// Fixes the schedule options at Megatron-LM 2022's ([`SimOptions`]
    /// default), leaving DP overlap searched.
    #[must_use]
    pub fn megatron_schedule(self) -> Self {
        let d = SimOptions::default();
        Self { tp_overlap: Some(d.tp_overlap), sp_ag_redo: Some(d.sp_ag_redo), offload: Some(d.offload), dp_inner: Some(d.dp_inner), ..self }
    }
}

/// What the search does with a global batch the data-parallel size does
/// not divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRounding {
    /// Skip such splits.
    Skip,
    /// Round down to a multiple (Calculon's rule).
    Down,
    /// Round to the nearest multiple, at least one per replica (what a
    /// user giving a paper's batch expects).
    Nearest,
}

/// [`BatchRounding::Nearest`] skips splits that would change the global
/// batch by more than this fraction: a batch is a training hyper-parameter,
/// and a plan that quadruples it is not the run the user described. A
/// design choice of this tool (no published source): it admits the rounding
/// papers imply (4M tokens = 1,953 sequences of 2,048 run as 2,048, +4.9 %).
pub const NEAREST_MAX_REL_CHANGE: f64 = 0.25;

/// The multiple of `m` nearest to `x` (ties up), at least `m`.
#[must_use]
pub fn nearest_multiple(x: u64, m: u64) -> u64 {
    let m = m.max(1);
    let down = x / m * m;
    let up = down.saturating_add(m);
    if down == 0 || x - down >= up - x {
        up
    } else {
        down
    }
}

/// A search problem.
pub struct Problem<'a> {
    pub spec: &'a ModelSpec,
    pub seq_len: u64,
    pub gpus: u64,
    pub global_batch: u64,
    /// What to do with a split whose data-parallel size does not divide
    /// the global batch.
    pub round_batch: BatchRounding,
    pub dtype: Dtype,
    pub fine_tune: FineTune,
    pub capacity: Bytes,
    pub device: &'a (dyn DeviceModel + Sync),
    pub network: &'a Network,
    pub constraints: Constraints,
}

/// One simulated candidate.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub plan: Plan,
    pub options: SimOptions,
    pub step_time_s: f64,
    pub samples_per_s: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub memory_gib: f64,
    pub breakdown: Breakdown,
    #[serde(skip)]
    pub memory: MemoryBreakdown,
}

impl Candidate {
    /// Seconds per trained sample: the ranking key (total time for a fixed
    /// number of tokens is proportional to it).
    #[must_use]
    pub fn time_per_sample(&self) -> f64 {
        self.step_time_s / self.plan.global_batch as f64
    }
}

/// The outcome of a search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    pub configs_evaluated: u64,
    pub configs_feasible: u64,
    /// Evaluated but over the memory capacity.
    pub configs_out_of_memory: u64,
    /// Skipped before simulation: violates a plan constraint (e.g. SP with
    /// TP 1, interleave not dividing the micro-batches).
    pub configs_invalid: u64,
    pub elapsed_s: f64,
    /// Feasible candidates, best first, at most `top`.
    pub top: Vec<Candidate>,
    /// The lowest-memory candidate when nothing fits (for the error message).
    #[serde(skip)]
    pub least_memory: Option<Candidate>,
}

fn divisors(n: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (1..=n.isqrt()).filter(|d| n.is_multiple_of(*d)).flat_map(|d| [d, n / d]).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn pick<T: Copy>(fixed: Option<T>, all: Vec<T>) -> Vec<T> {
    match fixed {
        Some(x) => vec![x],
        None => all,
    }
}

/// Memory of a plan under the options.
fn memory_of(p: &Problem<'_>, plan: &Plan, options: SimOptions) -> MemoryBreakdown {
    memory::per_device_with(
        p.spec,
        plan,
        p.seq_len,
        p.fine_tune,
        p.capacity,
        options.offload,
        options.sp_ag_redo,
        Bytes::new(p.network.host_memory_per_gpu),
        options.attention == crate::simulator::AttentionKernel::Flash,
    )
}

/// Evaluates one plan: `None` when invalid.
#[must_use]
pub fn evaluate(p: &Problem<'_>, plan: &Plan, options: SimOptions) -> Option<Candidate> {
    plan.validate(p.spec).ok()?;
    let mem = memory_of(p, plan, options);
    let w = workload::build(p.spec, plan, p.seq_len).ok()?;
    Some(simulate(p, plan, &w, options, mem))
}

fn simulate(p: &Problem<'_>, plan: &Plan, w: &workload::Workload, options: SimOptions, mem: MemoryBreakdown) -> Candidate {
    let sim = Simulator { device: p.device, network: p.network, options };
    let b = sim.step(w);
    let tf = training_per_token(p.spec, p.seq_len, plan.recompute, p.fine_tune);
    let tokens = (plan.global_batch * p.seq_len) as f64;
    let peak = p.device.peak(plan.dtype).value() * p.gpus as f64;
    Candidate {
        plan: plan.clone(),
        options,
        step_time_s: b.step_time_s,
        samples_per_s: plan.global_batch as f64 / b.step_time_s,
        mfu: tf.model.value() * tokens / (peak * b.step_time_s),
        hfu: tf.hardware.value() * tokens / (peak * b.step_time_s),
        memory_gib: mem.total_gib,
        breakdown: b,
        memory: mem,
    }
}

struct Outer {
    tp: u64,
    pp: u64,
    dp: u64,
    v: u64,
    micro: u64,
    batch: u64,
    ep: u64,
}

/// Runs the search and keeps the best `top` feasible candidates.
#[must_use]
pub fn search(p: &Problem<'_>, top: usize) -> SearchResult {
    let start = Instant::now();
    let c = p.constraints;
    let spec = p.spec;
    let layers = spec.total_layers().max(1);
    let experts = spec.moe.as_ref().map_or(1, |m| u64::from(m.experts));
    let kv = spec.kv_heads();
    // context parallelism is fixed by the request, never searched
    let cp = c.cp.unwrap_or(1).max(1);
    let mut outer = Vec::new();
    let tps = pick(
        c.tp,
        divisors(p.gpus).into_iter().filter(|t| spec.heads.is_multiple_of(*t) && (spec.mla.is_some() || kv.is_multiple_of(*t) || t % kv == 0)).collect(),
    );
    for &tp in &tps {
        // each context-parallel rank takes two chunks of every sequence
        if !p.gpus.is_multiple_of(tp * cp) || (cp > 1 && !p.seq_len.is_multiple_of(2 * cp)) {
            continue;
        }
        if c.framework_rules && !c.mesh && c.tp.is_none() && tp > p.network.gpus_per_node.max(1) {
            continue;
        }
        // stages may hold unequal layer counts (Megatron-core's uneven first /
        // last stages; Llama 3 405B ran 126 layers on PP 16): the most loaded
        // stage holds ceil(layers / pp), which memory and time use
        let pps = pick(c.pp, divisors(p.gpus / (tp * cp)).into_iter().filter(|q| *q <= layers).collect());
        for &pp in &pps {
            if !p.gpus.is_multiple_of(tp * cp * pp) {
                continue;
            }
            let dp = p.gpus / (tp * cp * pp);
            let batch = if p.global_batch.is_multiple_of(dp) {
                p.global_batch
            } else {
                match p.round_batch {
                    BatchRounding::Skip => continue,
                    BatchRounding::Down => p.global_batch / dp * dp,
                    BatchRounding::Nearest => {
                        let b = nearest_multiple(p.global_batch, dp);
                        if b.abs_diff(p.global_batch) as f64 > NEAREST_MAX_REL_CHANGE * p.global_batch as f64 {
                            continue;
                        }
                        b
                    }
                }
            };
            if batch == 0 {
                continue;
            }
            let local = batch / dp;
            let eps = pick(c.ep, if experts > 1 { divisors(experts).into_iter().filter(|e| (dp * cp).is_multiple_of(*e)).collect() } else { vec![1] });
            for micro in pick(c.micro_batch, divisors(local)) {
                let m = local / micro.max(1);
                let vs = pick(
                    c.interleave,
                    if pp == 1 {
                        vec![1]
                    } else {
                        // the most loaded stage's ceil(layers / pp) layers split
                        // into v equal chunks; lighter stages hold fewer (Llama 3
                        // 405B: 126 layers on PP 16, interleaved, one layer less
                        // on the first and last stages, Llama Team 2024 §3.3.2)
                        divisors(layers.div_ceil(pp)).into_iter().filter(|v| *v == 1 || m.is_multiple_of(pp)).collect()
                    },
                );
                for &v in &vs {
                    for &ep in &eps {
                        outer.push(Outer { tp, pp, dp, v, micro, batch, ep });
                    }
                }
            }
        }
    }
    let results: Vec<Tally> = outer
        .par_iter()
        .map(|o| {
            let mut t = Tally::default();
            // data-parallel collectives and ZeRO span the data x context ranks
            let recs = pick(c.recompute, vec![Recompute::Full, Recompute::Selective, Recompute::None]);
            let rules = c.framework_rules;
            let sps = pick(
                c.sp,
                if o.tp > 1 {
                    if rules {
                        vec![true]
                    } else {
                        vec![false, true]
                    }
                } else {
                    vec![false]
                },
            );
            let zeros = pick(
                c.zero,
                if o.dp * cp > 1 {
                    if rules && !c.fsdp_fallback {
                        vec![1]
                    } else if rules {
                        vec![3]
                    } else {
                        vec![0, 1, 2, 3]
                    }
                } else {
                    vec![0]
                },
            );
            let dpo = pick(c.dp_overlap, if o.dp * cp > 1 { vec![true, false] } else { vec![true] });
            let tpo = pick(c.tp_overlap, if o.tp > 1 { TpOverlap::ALL.to_vec() } else { vec![TpOverlap::None] });
            let orders = pick(c.dp_inner, if o.tp > 1 && o.dp * cp > 1 { vec![false, true] } else { vec![false] });
            // offloading needs a host link, host memory, and more blocks per
            // stage than stay resident (Calculon's rule)
            let can_offload = p.network.has_host() && (layers as f64 / o.pp as f64).ceil() > OFFLOAD_RESIDENT_BLOCKS;
            let offloads = pick(c.offload, if can_offload { Offload::all().to_vec() } else { vec![Offload::default()] });
            for &recompute in &recs {
                for &sp in &sps {
                    for &zero in &zeros {
                        let plan = Plan {
                            tp: o.tp,
                            cp,
                            pp: o.pp,
                            dp: o.dp,
                            interleave: o.v,
                            sp,
                            ep: o.ep,
                            zero,
                            recompute,
                            micro_batch: o.micro,
                            global_batch: o.batch,
                            dtype: p.dtype,
                        };
                        if plan.validate(spec).is_err() {
                            t.invalid += 1;
                            continue;
                        }
                        let Ok(w) = workload::build(spec, &plan, p.seq_len) else {
                            t.invalid += 1;
                            continue;
                        };
                        // the redo choice only exists with SP and without full recompute
                        let redos = pick(c.sp_ag_redo, if sp && o.tp > 1 && recompute != Recompute::Full { vec![true, false] } else { vec![true] });
                        for &sp_ag_redo in &redos {
                            for &offload in &offloads {
                                let base = SimOptions {
                                    sp_ag_redo,
                                    offload,
                                    attention: c.attention.unwrap_or_default(),
                                    overlap: c.overlap.unwrap_or_default(),
                                    ep_overlap: c.ep_overlap.unwrap_or(false),
                                    ..SimOptions::default()
                                };
                                // memory depends on the redo and offload choices only
                                let mem = memory_of(p, &plan, base);
                                for &dp_overlap in &dpo {
                                    for &tp_overlap in &tpo {
                                        for &dp_inner in &orders {
                                            t.evaluated += 1;
                                            let opts = SimOptions { dp_overlap, tp_overlap, dp_inner, ..base };
                                            if !mem.fits {
                                                t.oom += 1;
                                                if t.least.as_ref().is_none_or(|l| mem.total_gib < l.memory_gib) {
                                                    t.least = Some(simulate(p, &plan, &w, opts, mem));
                                                }
                                                continue;
                                            }
                                            t.feasible += 1;
                                            t.top.push(simulate(p, &plan, &w, opts, mem));
                                            if t.top.len() >= 4 * top.max(1) + 64 {
                                                t.top.sort_by(|a, b| a.time_per_sample().total_cmp(&b.time_per_sample()));
                                                t.top.truncate(top.max(1));
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // keep the local best few only
            t.top.sort_by(|a, b| a.time_per_sample().total_cmp(&b.time_per_sample()));
            t.top.truncate(top.max(1));
            t
        })
        .collect();
    let mut total = Tally::default();
    for t in results {
        total.evaluated += t.evaluated;
        total.feasible += t.feasible;
        total.oom += t.oom;
        total.invalid += t.invalid;
        total.top.extend(t.top);
        if let Some(l) = t.least {
            if total.least.as_ref().is_none_or(|x| l.memory_gib < x.memory_gib) {
                total.least = Some(l);
            }
        }
    }
    if c.framework_rules {
        // rule 2 (tallies keep each outer point's best plan, so every
        // feasible PP is represented; within a point a non-full plan slower
        // than a full one may not be, which the comparison below tolerates:
        // full recomputation wins only at a strictly smaller PP)
        if c.recompute.is_none() {
            let is_full = |x: &Candidate| x.plan.recompute == Recompute::Full;
            let keep_full = {
                let smallest_pp = |full: bool| total.top.iter().filter(|x| is_full(x) == full).map(|x| x.plan.pp).min();
                let fastest = |full: bool, pp: u64| {
                    total.top.iter().filter(|x| is_full(x) == full && x.plan.pp == pp).map(Candidate::time_per_sample).fold(f64::INFINITY, f64::min)
                };
                match (smallest_pp(false), smallest_pp(true)) {
                    // nothing fits without full recomputation
                    (None, _) => true,
                    // PP searched: the smallest PP with full recomputation
                    // where it is faster than the smallest PP without (a
                    // deep pipeline with few micro-batches can lose more to
                    // its bubble than recomputation costs); with PP fixed,
                    // full recomputation only when nothing else fits
                    (Some(a), Some(b)) if c.pp.is_none() => b < a && fastest(true, b) < fastest(false, a),
                    _ => false,
                }
            };
            total.top.retain(|x| is_full(x) == keep_full);
        }
        if c.pp.is_none() {
            // the smallest PP with a feasible plan
            if let Some(min_pp) = total.top.iter().map(|x| x.plan.pp).min() {
                total.top.retain(|x| x.plan.pp == min_pp);
            }
        }
    }
    total.top.sort_by(|a, b| a.time_per_sample().total_cmp(&b.time_per_sample()));
    total.top.truncate(top.max(1));
    SearchResult {
        configs_evaluated: total.evaluated,
        configs_feasible: total.feasible,
        configs_out_of_memory: total.oom,
        configs_invalid: total.invalid,
        elapsed_s: start.elapsed().as_secs_f64(),
        top: total.top,
        least_memory: total.least,
    }
}

#[derive(Default)]
struct Tally {
    evaluated: u64,
    feasible: u64,
    oom: u64,
    invalid: u64,
    top: Vec<Candidate>,
    least: Option<Candidate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;
    use crate::simulator::AnalyticDevice;

    /// Each new schedule dimension changes time or memory, and the MT-NLG
    /// example searches at least Calculon's 8,112 configurations.
    #[test]
    fn schedule_dimensions_are_modelled_and_the_space_covers_calculon() {
        let spec = catalog::model("mt-nlg-530b").unwrap();
        let sys = catalog::system("dgx-a100-80gb").unwrap();
        let acc = catalog::accelerator(&sys.accelerator).unwrap();
        let device = AnalyticDevice::new(&acc);
        let network = Network::from_system(Some(&sys), 5128);
        let p = Problem {
            spec: &spec,
            seq_len: 2048,
            gpus: 5128,
            global_batch: 2520,
            round_batch: BatchRounding::Down,
            dtype: Dtype::Fp16,
            fine_tune: FineTune::Full,
            capacity: acc.memory(),
            device: &device,
            network: &network,
            constraints: Constraints::default(),
        };
        let r = search(&p, 3);
        assert!(r.configs_evaluated >= 8112, "{}", r.configs_evaluated);
        assert!(r.configs_feasible > 0);
        let plan = Plan {
            tp: 8,
            cp: 1,
            pp: 1,
            dp: 641,
            interleave: 1,
            sp: true,
            ep: 1,
            zero: 2,
            recompute: Recompute::Selective,
            micro_batch: 3,
            global_batch: 1923,
            dtype: Dtype::Fp16,
        };
        let ev = |o: SimOptions| evaluate(&p, &plan, o).unwrap();
        let base = ev(SimOptions::default());
        // offload frees device memory, uses host memory, and costs time only when not hidden
        for off in Offload::all().into_iter().filter(Offload::any) {
            let c = ev(SimOptions { offload: off, ..SimOptions::default() });
            assert!(c.memory.total_gib < base.memory.total_gib, "{off:?}");
            assert!(c.memory.host_gib > 0.0);
            assert!(c.step_time_s >= base.step_time_s);
        }
        // TP overlap: ring hides more than pipe, both less exposed than none
        let tp = |t| ev(SimOptions { tp_overlap: t, ..SimOptions::default() }).breakdown.tp_comm_exposed_s;
        assert!(tp(TpOverlap::Ring) < tp(TpOverlap::Pipe) && tp(TpOverlap::Pipe) < tp(TpOverlap::None));
        // storing the gathered input: more memory, less TP communication
        let st = ev(SimOptions { sp_ag_redo: false, ..SimOptions::default() });
        assert!(st.memory.activations_gib > base.memory.activations_gib);
        assert!(st.breakdown.tp_comm_exposed_s < base.breakdown.tp_comm_exposed_s);
        // data-fastest rank order puts TP on the NICs
        let di = ev(SimOptions { dp_inner: true, ..SimOptions::default() });
        assert!(di.breakdown.tp_comm_exposed_s > base.breakdown.tp_comm_exposed_s);
        // the Megatron schedule fixes the schedule options: a narrower space
        // (456 points: 144 with PP dividing the layers, the rest with uneven
        // first/last stages)
        let m = search(&Problem { constraints: Constraints::default().megatron_schedule(), ..p }, 1);
        assert_eq!(m.configs_evaluated, 456);
    }

    /// Framework rules: full recomputation is not chosen at a small PP when
    /// a larger PP fits with selective recomputation, and a PP that does not
    /// divide the layer count may still interleave.
    #[test]
    fn framework_rules_avoid_full_recompute_and_interleave_uneven_stages() {
        let spec = catalog::model("gpt3-175b").unwrap();
        let acc = catalog::accelerator("v100-sxm2-32gb").unwrap();
        let device = AnalyticDevice::new(&acc);
        let network = Network::from_system(None, 10_000);
        let p = Problem {
            spec: &spec,
            seq_len: 2048,
            gpus: 10_000,
            global_batch: 1536,
            round_batch: BatchRounding::Nearest,
            dtype: Dtype::Fp16,
            fine_tune: FineTune::Full,
            capacity: acc.memory(),
            device: &device,
            network: &network,
            constraints: Constraints::default().with_framework_rules(),
        };
        let chosen = &search(&p, 1).top[0];
        let full = &search(&Problem { constraints: Constraints { recompute: Some(Recompute::Full), ..p.constraints }, ..p }, 1).top[0];
        assert_ne!(chosen.plan.recompute, Recompute::Full);
        assert!(full.plan.pp < chosen.plan.pp, "full recompute fits at PP {} (chosen PP {})", full.plan.pp, chosen.plan.pp);

        // Llama 3.1 405B: 126 layers on PP 4 (uneven) still interleaves,
        // which shrinks the bubble
        let spec = catalog::model("llama3.1-405b").unwrap();
        let sys = catalog::system("dgx-h100").unwrap();
        let acc = catalog::accelerator(&sys.accelerator).unwrap();
        let device = AnalyticDevice::new(&acc);
        let network = Network::from_system(Some(&sys), 16_384);
        let q = Problem {
            spec: &spec,
            seq_len: 8192,
            gpus: 16_384,
            global_batch: 2048,
            dtype: Dtype::Bf16,
            capacity: acc.memory(),
            device: &device,
            network: &network,
            constraints: Constraints { pp: Some(4), tp: Some(8), ..Constraints::default().with_framework_rules() },
            ..p
        };
        let inter = &search(&q, 1).top[0];
        let plain = &search(&Problem { constraints: Constraints { interleave: Some(1), ..q.constraints }, ..q }, 1).top[0];
        assert!(inter.plan.interleave > 1, "{:?}", inter.plan);
        assert!(inter.breakdown.bubble_s < 0.5 * plain.breakdown.bubble_s);
    }

    /// `ep_overlap` hides the expert all-to-all behind another micro-batch's
    /// compute: never more than the compute, and not at all with a single
    /// micro-batch.
    #[test]
    fn expert_all_to_all_overlap_hides_at_most_the_compute() {
        let spec = catalog::model("mixtral-8x7b").unwrap();
        let sys = catalog::system("dgx-h100").unwrap();
        let acc = catalog::accelerator(&sys.accelerator).unwrap();
        let device = AnalyticDevice::new(&acc);
        let network = Network::from_system(Some(&sys), 64);
        let p = Problem {
            spec: &spec,
            seq_len: 4096,
            gpus: 64,
            global_batch: 256,
            round_batch: BatchRounding::Skip,
            dtype: Dtype::Bf16,
            fine_tune: FineTune::Full,
            capacity: acc.memory(),
            device: &device,
            network: &network,
            constraints: Constraints::default(),
        };
        let plan = |global_batch| Plan {
            tp: 1,
            cp: 1,
            pp: 1,
            dp: 64,
            interleave: 1,
            sp: false,
            ep: 8,
            zero: 1,
            recompute: Recompute::Selective,
            micro_batch: 1,
            global_batch,
            dtype: Dtype::Bf16,
        };
        let run = |gb, ep_overlap| evaluate(&p, &plan(gb), SimOptions { ep_overlap, ..SimOptions::default() }).unwrap().breakdown;
        let (off, on) = (run(256, false), run(256, true));
        assert!(off.ep_comm_exposed_s > 0.0);
        let hidden = off.ep_comm_exposed_s - on.ep_comm_exposed_s;
        assert!(hidden > 0.0 && hidden <= off.compute_s * (1.0 + 1e-12), "hidden {hidden} of compute {}", off.compute_s);
        assert!((off.step_time_s - on.step_time_s - hidden).abs() < 1e-9 * off.step_time_s);
        // one micro-batch per step: nothing to overlap with
        assert_eq!(run(64, true).ep_comm_exposed_s, run(64, false).ep_comm_exposed_s);
    }
}
