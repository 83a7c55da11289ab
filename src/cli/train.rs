//! `latentlab train`: train an autoencoder and leave model, spec, metrics and a picture.

use std::path::PathBuf;

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::files::{self, METRICS_FILE, RECONSTRUCTIONS_FILE};
use super::progress::TerminalProgress;
use super::{CliResult, RecipeArgs, RunArgs, SpecArgs};
use crate::inference;
use crate::model::Autoencoder;
use crate::render;
use crate::training::{EpochRecord, FitSettings, LayerSparsity, StopReason, fit_spec, sparsity};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    spec: SpecArgs,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Output directory (default: runs/<preset name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Start from a trained model (directory or model file): its spec and weights, e.g. to
    /// fine-tune a denoising autoencoder. --preset/--spec are then ignored.
    #[arg(long)]
    from: Option<PathBuf>,
}

/// Everything `train` measured, as written to metrics.json.
#[derive(Serialize)]
struct Metrics<'a> {
    spec: &'a str,
    backend: &'a str,
    seed: u64,
    loss: &'a str,
    train_images: usize,
    val_images: usize,
    test_images: usize,
    epochs: &'a [EpochRecord],
    stop: &'a StopReason,
    /// Epoch whose weights were kept.
    model_epoch: usize,
    /// Loss of the kept weights on the 10k test images.
    test_loss: f64,
    /// The input corruption trained with ("none" for a plain autoencoder).
    noise: String,
    /// Test loss with that corruption applied to the test inputs (denoising runs only).
    test_loss_noisy: Option<f64>,
    /// Reconstructions in the loss (1: plain).
    iterations: usize,
    /// The model training started from, if any.
    from: Option<String>,
    /// Fraction of zero weights per conv/linear layer (pruning).
    sparsity: Vec<LayerSparsity>,
    /// Mean training throughput over all epochs.
    train_images_per_s: f64,
    /// The process's resident memory after each epoch (MB; Linux): flat when nothing leaks.
    resident_mb: Vec<f64>,
    wall_seconds: f64,
}

pub fn run(args: TrainArgs) -> CliResult {
    let device = args.run.backend.device()?;
    let (mut spec, start) = match &args.from {
        Some(from) => {
            let (spec, model) = files::load_model(from, &device.clone().autodiff())?;
            (spec, Some(model))
        }
        None => (args.spec.load()?, None),
    };
    args.recipe.apply(&mut spec, &args.run)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));
    files::output_dir(&out)?;

    let data = args.run.load_data()?;
    let (train, val) = data.train_val(args.run.seed).map_err(|e| e.to_string())?;
    spec.train
        .fits_data(train.len())
        .map_err(|e| e.to_string())?;
    device.seed(args.run.seed);
    let started = Instant::now();

    let model = match start {
        Some(model) => model,
        None => {
            Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(|e| e.to_string())?
        }
    };
    let settings = args
        .run
        .budgeted(FitSettings::from_spec(&spec.train, args.run.seed))?;
    if !args.run.quiet {
        eprintln!(
            "training {} on {} ({} train / {} validation images), up to {} epochs",
            spec.name,
            args.run.backend.name(),
            train.len(),
            val.len(),
            spec.train.epochs
        );
    }
    let progress = TerminalProgress::new(args.run.quiet);
    let memory = progress.memory();
    let outcome = pollster::block_on(fit_spec(
        model,
        &spec.train,
        &train,
        &val,
        &settings,
        &device,
        progress,
    ));
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }

    let model = outcome.model.valid();
    let test_loss = pollster::block_on(inference::test_loss(
        &model,
        spec.train.loss,
        &data.test,
        &device,
    ));
    let noise = &spec.train.noise;
    let test_loss_noisy = (!noise.is_empty()).then(|| {
        pollster::block_on(inference::noisy_test_loss(
            &model,
            spec.train.loss,
            noise,
            &data.test,
            &device,
        ))
    });
    let wall_seconds = started.elapsed().as_secs_f64();
    let history = &outcome.history;
    let metrics = Metrics {
        spec: &spec.name,
        backend: args.run.backend.name(),
        seed: args.run.seed,
        loss: spec.train.loss.name(),
        train_images: train.len(),
        val_images: val.len(),
        test_images: data.test.len(),
        epochs: history,
        stop: &outcome.stop,
        model_epoch: outcome.model_epoch,
        test_loss,
        noise: noise.to_string(),
        test_loss_noisy,
        iterations: spec.train.iterations,
        from: args.from.as_ref().map(|p| p.display().to_string()),
        sparsity: pollster::block_on(sparsity(&model)),
        train_images_per_s: history.iter().map(|r| r.train_images_per_s).sum::<f64>()
            / history.len().max(1) as f64,
        resident_mb: memory.values(),
        wall_seconds,
    };

    // Ten test digits over their reconstructions (denoising: over their corrupted copies too).
    let originals: Vec<f32> = (0..10).flat_map(|i| data.test.image_f32(i)).collect();
    let mut inputs = originals.clone();
    noise.apply(&mut inputs, args.run.seed);
    let recon = pollster::block_on(inference::reconstruct(&model, &inputs, &device));
    let mut tiles: Vec<&[f32]> = originals.chunks(784).collect();
    if !noise.is_empty() {
        tiles.extend(inputs.chunks(784));
    }
    tiles.extend(recon.chunks(784));
    let picture = render::grid(&tiles, 10, 3, 2);

    files::save_model(&out, model, &spec)?;
    files::write_json(&out.join(METRICS_FILE), &metrics)?;
    files::write_png(&out.join(RECONSTRUCTIONS_FILE), &picture)?;
    if !args.run.quiet {
        eprintln!(
            "test {} {:.5} (weights of epoch {}), {:.0}s; wrote {}",
            metrics.loss,
            test_loss,
            outcome.model_epoch,
            wall_seconds,
            out.display()
        );
    }
    Ok(())
}
