//! Training: the async engine (the study's Evolver), losses and objectives.

pub mod adversarial;
pub mod average;
pub mod bench;
pub mod classify;
pub mod engine;
pub mod loss;
pub mod objective;
pub mod pruning;
pub mod recipe;
pub mod shards;

pub use adversarial::{
    Adversarial, GanLosses, PENALTY_STEP, Sampler, Scorer, SpectralNorm, clip_weights,
    gradient_penalty,
};
pub use average::Average;
pub use bench::{Throughput, gan_throughput, train_throughput};
pub use classify::{Classification, cross_entropy};
pub use engine::{
    Control, EpochRecord, FitOutcome, FitSettings, Hooks, Learner, NamedLoss, NoHooks, Objective,
    Progress, StopReason, Supervised, adam, evaluate, fit, read_scalar, read_values, train,
};
pub use loss::reconstruction_loss;
pub use objective::Reconstruction;
pub use pruning::{LayerSparsity, Pruning, overall_sparsity, sparsity};
pub use recipe::{FoldOutcome, fit_fold, fit_spec};
