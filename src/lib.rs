//! flopprint: what training a neural network will cost before you pay for
//! it — time, GPU-hours, money, energy and CO2e — and the same accounting
//! after the run. See README.md for the methodology and sources.
//!
//! Modules follow the data flow: [`scenario`] → [`catalog`] → [`flops`] →
//! [`plan`]/[`memory`] → [`device`] → [`footprint`] → [`estimate`] → [`report`].

pub mod calibrate;
pub mod catalog;
pub mod cli;
pub mod device;
pub mod dtype;
pub mod estimate;
pub mod flops;
pub mod footprint;
pub mod memory;
pub mod plan;
pub mod power;
pub mod report;
pub mod scenario;
pub mod search;
pub mod simulator;
pub mod uncertainty;
pub mod units;
pub mod workload;
