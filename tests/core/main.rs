//! Native integration tests of the core: data, models, the training engine, model files, CLI.
//! One test binary (linking burn once), one module per concern.

mod bad_inputs;
mod classifier;
mod cli;
mod common;
mod engine;
mod gan;
mod kernels;
mod model;
mod pruning;
mod search;
mod store;
