//! A training spec turned into a run: the one place that derives the objective and the pruning
//! from a [`TrainSpec`], so every caller (CLI `train` and `cv`, the page) trains the same way;
//! and one fold of k-fold cross-validation on it.

use burn::prelude::*;
use web_time::Instant;

use super::engine::{FitOutcome, FitSettings, Hooks, fit};
use super::objective::Reconstruction;
use super::pruning::Pruning;
use crate::data::Images;
use crate::model::{Autoencoder, ModelSpec, TrainSpec};

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

/// One fold of k-fold cross-validation, as trained by [`fit_fold`].
pub struct FoldOutcome {
    pub train_images: usize,
    pub val_images: usize,
    /// Wall time of the fold's training and validation.
    pub seconds: f64,
    pub outcome: FitOutcome<Autoencoder>,
}

impl FoldOutcome {
    /// The validation loss of the weights kept for the fold (the last good ones when it
    /// diverged); infinite when no epoch was validated.
    pub fn val_loss(&self) -> f64 {
        self.outcome.val_loss().unwrap_or(f64::INFINITY)
    }

    /// The fold's loss as a search counts it: infinite when the run diverged, whatever its last
    /// good weights scored (a net that blows up is a failed trial).
    pub fn search_loss(&self) -> f64 {
        match self.outcome.divergence() {
            Some(_) => f64::INFINITY,
            None => self.val_loss(),
        }
    }
}

/// Trains a fresh net of `spec` on every fold of `images` but `fold` (of `folds`) and validates
/// on that one: k-fold CV's step, for `cv`, the search's trials and the page's search alike.
/// `settings` are the run's (its seed, budget, read-back cadence); the split uses the run's seed
/// and the net's weights and the batch order the run's seed plus the fold.
#[allow(clippy::too_many_arguments)]
pub async fn fit_fold<H: Hooks<Autoencoder>>(
    spec: &ModelSpec,
    images: &Images,
    folds: usize,
    fold: usize,
    settings: &FitSettings,
    device: &Device,
    hooks: H,
) -> Result<FoldOutcome, String> {
    let (train, val) = images
        .kfold(folds, fold, settings.seed)
        .map_err(|e| e.to_string())?;
    let fold_seed = settings.seed.wrapping_add(fold as u64);
    device.seed(fold_seed);
    let model =
        Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let settings = FitSettings {
        seed: fold_seed,
        ..settings.clone()
    };
    let started = Instant::now();
    let outcome = fit_spec(model, &spec.train, &train, &val, &settings, device, hooks).await;
    Ok(FoldOutcome {
        train_images: train.len(),
        val_images: val.len(),
        seconds: started.elapsed().as_secs_f64(),
        outcome,
    })
}
