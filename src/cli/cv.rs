//! `latentlab cv`: k-fold cross-validation (the study's KFoldCrossValidator). Each fold trains
//! a fresh net on the other folds and validates on its own; the summary gives the mean and
//! spread of the validation losses, and the best fold's model is kept with its test loss.

use std::path::PathBuf;

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::files::{self, METRICS_FILE};
use super::progress::TerminalProgress;
use super::{CliResult, RecipeArgs, RunArgs, SpecArgs};
use crate::data::Images;
use crate::inference;
use crate::model::{Autoencoder, ModelSpec};
use crate::training::{FitSettings, fit_fold};

#[derive(clap::Args, Debug)]
pub struct CvArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Number of folds (the study used 5).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Output directory for the best fold's model (default: runs/<preset name>-cv).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One fold's run.
#[derive(Serialize)]
pub struct Fold {
    fold: usize,
    train_images: usize,
    val_images: usize,
    epochs: usize,
    /// Validation loss of the weights kept for this fold.
    pub val_loss: f64,
    pub seconds: f64,
    /// Why the fold stopped on a NaN or infinite loss, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged: Option<String>,
}

/// Trains a fresh net of `spec` on every fold of `train` but `fold` (of `folds`) and validates
/// on that one (seeded by the run's seed and the fold), with the run's progress and budget.
fn train_fold(
    spec: &ModelSpec,
    train: &Images,
    folds: usize,
    fold: usize,
    run: &RunArgs,
    device: &Device,
) -> CliResult<(Fold, Autoencoder)> {
    if !run.quiet {
        eprintln!("fold {}/{}", fold + 1, folds);
    }
    if folds < 2 {
        return Err(format!(
            "--folds {folds}: cross-validation needs at least 2 folds"
        ));
    }
    // k-1 of k folds train (the smallest such set).
    let train_images = train.len() - train.len().div_ceil(folds);
    spec.train
        .fits_data(train_images)
        .map_err(|e| e.to_string())?;
    let settings = run.budgeted(FitSettings::from_spec(&spec.train, run.seed))?;
    let trained = pollster::block_on(fit_fold(
        spec,
        train,
        folds,
        fold,
        &settings,
        device,
        TerminalProgress::new(run.quiet),
    ))?;
    let fold_result = Fold {
        fold: fold + 1,
        train_images: trained.train_images,
        val_images: trained.val_images,
        epochs: trained.outcome.history.len(),
        val_loss: trained.val_loss(),
        seconds: trained.seconds,
        diverged: trained.outcome.divergence(),
    };
    Ok((fold_result, trained.outcome.model.valid()))
}

#[derive(Serialize)]
struct Summary<'a> {
    spec: &'a str,
    loss: &'a str,
    backend: &'a str,
    folds: Vec<Fold>,
    mean_val_loss: f64,
    /// Sample standard deviation of the folds' validation losses.
    std_val_loss: f64,
    best_fold: usize,
    /// Loss of the best fold's model on the 10k test images.
    test_loss: f64,
    wall_seconds: f64,
}

pub fn run(args: CvArgs) -> CliResult {
    let mut spec = args.spec.load()?;
    args.recipe.apply(&mut spec, &args.run)?;
    let data = args.run.load_data()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-cv", spec.name)));
    files::output_dir(&out)?;
    let device = args.run.backend.device()?;
    let started = Instant::now();

    let mut folds = Vec::new();
    let mut best: Option<(f64, usize, Autoencoder)> = None;
    for fold in 0..args.folds {
        let (result, model) = train_fold(&spec, &data.train, args.folds, fold, &args.run, &device)?;
        if let Some(message) = &result.diverged {
            return Err(format!("fold {}: {message}", fold + 1));
        }
        if best.as_ref().is_none_or(|b| result.val_loss < b.0) {
            best = Some((result.val_loss, fold + 1, model));
        }
        folds.push(result);
    }
    let (_, best_fold, model) = best.ok_or("no folds ran")?;
    let losses: Vec<f64> = folds.iter().map(|f| f.val_loss).collect();
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>()
        / (losses.len().saturating_sub(1).max(1)) as f64;
    let test_loss = pollster::block_on(inference::test_loss(
        &model,
        spec.train.loss,
        &data.test,
        &device,
    ));
    let summary = Summary {
        spec: &spec.name,
        loss: spec.train.loss.name(),
        backend: args.run.backend.name(),
        folds,
        mean_val_loss: mean,
        std_val_loss: var.sqrt(),
        best_fold,
        test_loss,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    files::save_model(&out, model, &spec)?;
    files::write_json(&out.join(METRICS_FILE), &summary)?;
    println!("{}", serde_json::to_string(&summary).expect("serialisable"));
    Ok(())
}
