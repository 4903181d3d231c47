//! All integration tests in one binary (each test binary links polars
//! again, which dominated CI time): `cargo test --test it`.

mod calibrate_cli;
mod catalog;
mod cli;
mod fuzz;
mod properties;
mod seed;
mod simulator_cli;
mod snapshot;
mod validate;
mod validation;
