//! Training: the async engine (the study's Evolver), losses and objectives.

pub mod bench;
pub mod classify;
pub mod engine;
pub mod loss;
pub mod objective;
pub mod pruning;
pub mod recipe;

pub use bench::{Throughput, train_throughput};
pub use classify::{Classification, cross_entropy};
pub use engine::{
    Control, EpochRecord, FitOutcome, FitSettings, Hooks, NoHooks, Objective, Progress, StopReason,
    evaluate, fit, read_scalar,
};
pub use loss::reconstruction_loss;
pub use objective::Reconstruction;
pub use pruning::{LayerSparsity, Pruning, overall_sparsity, sparsity};
pub use recipe::fit_spec;
