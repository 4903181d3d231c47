//! All integration tests in one binary (each test binary links polars
//! again, which dominated CI time): `cargo test --test it`.

mod calibrate_cli;
mod catalog;
mod cli;
mod fuzz;
mod help_examples;
mod plan_sizes;
mod properties;
mod report_cli;
mod scaling;
mod seed;
mod simulator_cli;
mod snap;
mod snapshot;
mod sweep_cli;
mod uncertainty_cli;
mod validate;
mod validation;
mod xlsx;
