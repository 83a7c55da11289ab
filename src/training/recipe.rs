//! A training spec turned into a run: the one place that derives the objective and the pruning
//! from a [`TrainSpec`], so every caller (CLI `train` and `cv`, the page) trains the same way.

use burn::prelude::*;

use super::engine::{FitOutcome, FitSettings, Hooks, fit};
use super::objective::Reconstruction;
use super::pruning::Pruning;
use crate::data::Images;
use crate::model::{Autoencoder, TrainSpec};

/// Trains `model` as `spec` says: the reconstruction objective with the spec's noise and
/// iterations (seeded by `settings.seed`), and the spec's pruning around `hooks`.
pub async fn fit_spec<H: Hooks<Autoencoder>>(
    model: Autoencoder,
    spec: &TrainSpec,
    train: &Images,
    val: &Images,
    settings: &FitSettings,
    device: &Device,
    hooks: H,
) -> FitOutcome<Autoencoder> {
    let mut objective = Reconstruction::for_spec(spec, settings.seed);
    let mut hooks = Pruning::new(spec.pruning.clone(), hooks);
    fit(
        model,
        &mut objective,
        train,
        val,
        settings,
        device,
        &mut hooks,
    )
    .await
}
