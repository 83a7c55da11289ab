//! `latentlab judge`: train the judge, the digit classifier that scores generated digits
//! (`quality.rs`), from scratch on MNIST; writes the classifier, metrics and a confusion matrix.

use std::path::PathBuf;

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::files::{self, METRICS_FILE};
use super::progress::TerminalProgress;
use super::{CliResult, RunArgs, plot};
use crate::inference;
use crate::model::{CLASSES, Classifier, ClassifierSpec, ModelSpec, Unfreeze};
use crate::training::{Classification, EpochRecord, FitSettings, StopReason, fit};

/// Where `gan` looks for the judge unless told otherwise.
pub const DEFAULT_JUDGE_DIR: &str = "runs/judge";

#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Output directory.
    #[arg(long, default_value = DEFAULT_JUDGE_DIR)]
    out: PathBuf,
    /// Continue training this judge (a directory written by `judge`) instead of a fresh one.
    #[arg(long)]
    from: Option<PathBuf>,
}

#[derive(Serialize)]
struct Metrics<'a> {
    spec: &'a ModelSpec,
    seed: u64,
    epochs: &'a [EpochRecord],
    stop: &'a StopReason,
    model_epoch: usize,
    test_accuracy: f64,
    wall_seconds: f64,
}

pub fn run(args: JudgeArgs) -> CliResult {
    let device = args.run.backend.device()?;
    let mut spec = ModelSpec::judge();
    if let Some(epochs) = args.run.epochs {
        spec.train.epochs = epochs;
    }
    if let Some(lr) = args.run.lr {
        spec.train.lr = lr;
    }
    if args.run.lr_decay.is_some() {
        spec.train.lr_decay = args.run.lr_decay;
    }
    spec.validate().map_err(|e| format!("judge spec: {e}"))?;
    files::output_dir(&args.out)?;
    let data = args.run.load_data()?;
    let (train, val) = data.train_val(args.run.seed).map_err(|e| e.to_string())?;
    device.seed(args.run.seed);
    let started = Instant::now();
    let autodiff = device.clone().autodiff();
    let model = match &args.from {
        Some(path) => {
            let (from_spec, _, model) = files::load_classifier(path, &autodiff)?;
            if from_spec.arch != spec.arch {
                return Err(format!(
                    "{}: not a judge (its encoder is not the judge preset's)",
                    path.display()
                ));
            }
            model
        }
        None => Classifier::new(&spec.arch, &autodiff).map_err(|e| e.to_string())?,
    };
    if !args.run.quiet {
        eprintln!(
            "training the judge ({} train / {} validation images, up to {} epochs)",
            train.len(),
            val.len(),
            spec.train.epochs
        );
    }
    let outcome = pollster::block_on(fit(
        model,
        &mut Classification::new(spec.train.noise.clone(), args.run.seed),
        &train,
        &val,
        &args
            .run
            .budgeted(FitSettings::from_spec(&spec.train, args.run.seed))?,
        &device,
        &mut TerminalProgress::new(args.run.quiet),
    ));
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }
    let model = outcome.model.valid();
    let confusion = pollster::block_on(inference::confusion(&model, &data.test, &device));
    let head = ClassifierSpec {
        unfreeze: Unfreeze::All,
        classes: CLASSES,
    };
    files::save_classifier(&args.out, model, &spec, &head)?;
    files::write_json(
        &args.out.join(METRICS_FILE),
        &Metrics {
            spec: &spec,
            seed: args.run.seed,
            epochs: &outcome.history,
            stop: &outcome.stop,
            model_epoch: outcome.model_epoch,
            test_accuracy: confusion.accuracy(),
            wall_seconds: started.elapsed().as_secs_f64(),
        },
    )?;
    plot::confusion(
        &args.out.join("confusion.png"),
        &format!("judge: test accuracy {:.4}", confusion.accuracy()),
        &confusion,
    )?;
    println!(
        "{}",
        serde_json::json!({
            "test_accuracy": confusion.accuracy(),
            "model_epoch": outcome.model_epoch,
            "wall_seconds": started.elapsed().as_secs_f64(),
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}
