//! `latentlab train`: train an autoencoder and leave model, spec, metrics and a picture.

use std::path::PathBuf;

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::backend::Backend;
use super::files::{self, METRICS_FILE, RECONSTRUCTIONS_FILE};
use super::progress::TerminalProgress;
use super::{CliResult, SpecArgs};
use crate::inference;
use crate::model::{Autoencoder, ModelSpec};
use crate::render;
use crate::training::{EpochRecord, FitSettings, Reconstruction, StopReason, fit};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Override the spec's epoch count.
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Output directory (default: runs/<preset name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train on only the first N of the 60k training images (quick runs and tests).
    #[arg(long)]
    limit: Option<usize>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
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
    /// Mean training throughput over all epochs.
    train_images_per_s: f64,
    wall_seconds: f64,
}

pub fn run(args: TrainArgs) -> CliResult {
    let mut spec: ModelSpec = args.spec.load()?;
    if let Some(epochs) = args.epochs {
        spec.train.epochs = epochs;
    }
    spec.validate()
        .map_err(|e| format!("spec {}: {e}", spec.name))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));

    let mut data = files::load_mnist(&args.data)?;
    if let Some(n) = args.limit {
        data.train = data.train.take(n);
    }
    let (train, val) = data.train_val(args.seed).map_err(|e| e.to_string())?;
    let device = args.backend.device()?;
    device.seed(args.seed);
    let started = Instant::now();

    let model =
        Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let settings = FitSettings::from_spec(&spec.train, args.seed);
    let mut objective = Reconstruction {
        loss: spec.train.loss,
    };
    if !args.quiet {
        eprintln!(
            "training {} on {} ({} train / {} validation images), up to {} epochs",
            spec.name,
            args.backend.name(),
            train.len(),
            val.len(),
            spec.train.epochs
        );
    }
    let outcome = pollster::block_on(fit(
        model,
        &mut objective,
        &train,
        &val,
        &settings,
        &device,
        &mut TerminalProgress::new(args.quiet),
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
    let wall_seconds = started.elapsed().as_secs_f64();
    let history = &outcome.history;
    let metrics = Metrics {
        spec: &spec.name,
        backend: args.backend.name(),
        seed: args.seed,
        loss: spec.train.loss.name(),
        train_images: train.len(),
        val_images: val.len(),
        test_images: data.test.len(),
        epochs: history,
        stop: &outcome.stop,
        model_epoch: outcome.model_epoch,
        test_loss,
        train_images_per_s: history.iter().map(|r| r.train_images_per_s).sum::<f64>()
            / history.len().max(1) as f64,
        wall_seconds,
    };

    // Ten test digits over their reconstructions.
    let originals: Vec<f32> = (0..10).flat_map(|i| data.test.image_f32(i)).collect();
    let recon = pollster::block_on(inference::reconstruct(&model, &originals, &device));
    let tiles: Vec<&[f32]> = originals.chunks(784).chain(recon.chunks(784)).collect();
    let picture = render::grid(&tiles, 10, 3, 2);

    files::save_model(&out, model, &spec)?;
    files::write_json(&out.join(METRICS_FILE), &metrics)?;
    files::write_png(&out.join(RECONSTRUCTIONS_FILE), &picture)?;
    if !args.quiet {
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
