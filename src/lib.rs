//! flopprint: what training a neural network will cost before you pay for
//! it — time, GPU-hours, money, energy and CO2e — and the same accounting
//! after the run. See README.md for the methodology and sources.
//!
//! Modules follow the data flow (DESIGN): [`scenario`] resolves what the
//! user asked ([`catalog`] data loaded) → [`estimate`] runs the stages
//! compute ([`flops`], [`parallel`], [`search`], [`memory`], [`workload`])
//! → timing ([`simulator`], [`default_mfu`]) → power → footprint
//! ([`footprint`]) → uncertainty ([`uncertainty`]) → [`report`].
//! [`planner`] ranks plans (`flopprint plan`); [`calibrate`] measures the
//! local device. The command line lives in the binary (src/cli.rs).

pub mod calibrate;
pub mod catalog;
pub mod default_mfu;
pub mod dtype;
pub mod estimate;
pub mod flops;
pub mod footprint;
pub mod goodput;
pub mod memory;
pub mod notes;
pub mod parallel;
pub mod planner;
pub mod power;
pub mod report;
pub mod scenario;
pub mod search;
pub mod simulator;
pub mod sizing;
pub mod sweep;
pub mod uncertainty;
pub mod units;
pub mod validate;
pub mod workload;
