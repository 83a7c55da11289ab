//! `latentlab finetune`: a digit classifier from a pretrained autoencoder's encoder (the study's
//! supervised fine-tuning), trained to a chosen depth, optionally in a k-fold setup. Prints the
//! losses, the test accuracy and the confusion matrix; saves the classifier and confusion.png.
//! `table2` runs this for every depth.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::files::{self, METRICS_FILE};
use super::progress::TerminalProgress;
use super::{CliResult, RunArgs, plot};
use crate::data::{Images, Mnist, NoiseStack};
use crate::inference::{self, Confusion};
use crate::model::{CLASSES, Classifier, ClassifierSpec, ModelSpec, Unfreeze};
use crate::training::{Classification, FitSettings, fit};

pub const CONFUSION_FILE: &str = "confusion.png";

#[derive(clap::Args, Debug)]
pub struct FinetuneArgs {
    /// The pretrained autoencoder (directory written by `train` or `cv`, or a model file).
    #[arg(long)]
    model: PathBuf,
    /// The deepest layer that learns: head (the new layer of 10 only), latent, hidden, conv
    /// (the encoder's last convolution) or all.
    #[arg(long, value_parser = parse_unfreeze, default_value = "conv")]
    unfreeze: Unfreeze,
    /// K-fold setup: train a classifier per fold and average (the study used 5); 1: one
    /// 80/20 split.
    #[arg(long, default_value_t = 1)]
    folds: usize,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    augment: AugmentArgs,
    /// Output directory (default: runs/<model name>-finetune-<depth>).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Training-time augmentation of the classifier's inputs: shared by `finetune` and `table2`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct AugmentArgs {
    /// Corrupt the training images (not validation or test), e.g. "rot:10" for rotations
    /// within ±10 degrees; the kinds of `train --noise`.
    #[arg(long)]
    pub augment: Option<NoiseStack>,
}

pub fn parse_unfreeze(s: &str) -> Result<Unfreeze, String> {
    Unfreeze::parse(s).ok_or_else(|| {
        let names: Vec<_> = Unfreeze::ALL.iter().map(|u| u.name()).collect();
        format!("{s:?}: one of {}", names.join(", "))
    })
}

/// Epochs when --epochs is not given: fine-tuning converges far sooner than the autoencoder.
pub const DEFAULT_EPOCHS: usize = 15;

/// One fold's result.
#[derive(Clone, Debug, Serialize)]
pub struct FoldResult {
    pub fold: usize,
    pub epochs: usize,
    /// Training and validation cross-entropy of the kept weights.
    pub train_loss: f64,
    pub val_loss: f64,
    pub test_accuracy: f64,
    pub seconds: f64,
}

/// A depth's result over its folds: what Table 2 reports.
#[derive(Clone, Debug, Serialize)]
pub struct DepthResult {
    pub unfreeze: Unfreeze,
    pub folds: Vec<FoldResult>,
    pub mean_train_loss: f64,
    pub mean_val_loss: f64,
    pub mean_test_accuracy: f64,
    /// The best fold's (lowest validation loss) confusion matrix on the test set.
    pub best_fold: usize,
    pub confusion: Confusion,
    pub wall_seconds: f64,
}

/// Everything one depth needs: the pretrained model's file and spec, and the data.
pub struct Pretrained {
    pub path: PathBuf,
    pub spec: ModelSpec,
    pub data: Mnist,
}

impl Pretrained {
    /// The autoencoder at `path` (a classifier is refused) and the data `run` names.
    pub fn load(path: &Path, run: &RunArgs) -> CliResult<Self> {
        if files::is_classifier(path)? {
            return Err(format!(
                "{}: this is already a classifier; fine-tune from an autoencoder",
                path.display()
            ));
        }
        let (spec, _) = files::load_model(path, &run.backend.device()?)?;
        Ok(Self {
            path: path.to_path_buf(),
            spec,
            data: run.load_data()?,
        })
    }
}

/// Fine-tunes at `unfreeze` in `folds` folds; returns the result and the best fold's classifier.
pub fn run_depth(
    pre: &Pretrained,
    unfreeze: Unfreeze,
    folds: usize,
    run: &RunArgs,
    augment: &AugmentArgs,
) -> CliResult<(DepthResult, Classifier)> {
    let device = run.backend.device()?;
    let started = Instant::now();
    let mut spec = pre.spec.train.clone();
    spec.epochs = run.epochs.unwrap_or(DEFAULT_EPOCHS);
    spec.lr = run.lr.unwrap_or(spec.lr);
    spec.validate().map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    let mut best: Option<(f64, usize, Classifier)> = None;
    for fold in 0..folds.max(1) {
        let (train, val): (Images, Images) = if folds > 1 {
            pre.data.train.kfold(folds, fold, run.seed)
        } else {
            pre.data.train_val(run.seed)
        }
        .map_err(|e| e.to_string())?;
        let seed = run.seed.wrapping_add(fold as u64);
        device.seed(seed);
        let (_, autoencoder) = files::load_model(&pre.path, &device.clone().autodiff())?;
        let model = Classifier::from_pretrained(
            autoencoder,
            pre.spec.arch.latent,
            unfreeze,
            &device.clone().autodiff(),
        );
        if !run.quiet {
            eprintln!(
                "{} fold {}/{}: {} train / {} validation images, up to {} epochs",
                unfreeze.name(),
                fold + 1,
                folds.max(1),
                train.len(),
                val.len(),
                spec.epochs
            );
        }
        let fold_started = Instant::now();
        let outcome = pollster::block_on(fit(
            model,
            &mut Classification::new(augment.augment.clone().unwrap_or_default(), seed),
            &train,
            &val,
            &run.budgeted(FitSettings::from_spec(&spec, seed))?,
            &device,
            &mut TerminalProgress::new(run.quiet),
        ));
        if let Some(message) = outcome.divergence() {
            return Err(format!("fold {}: {message}", fold + 1));
        }
        let kept = outcome
            .history
            .iter()
            .find(|r| r.epoch == outcome.model_epoch)
            .cloned();
        let model = outcome.model.valid();
        let confusion = pollster::block_on(inference::confusion(&model, &pre.data.test, &device));
        let val_loss = kept.as_ref().map_or(f64::INFINITY, |r| r.val_loss);
        results.push(FoldResult {
            fold: fold + 1,
            epochs: outcome.history.len(),
            train_loss: kept.as_ref().map_or(f64::NAN, |r| r.train_loss),
            val_loss,
            test_accuracy: confusion.accuracy(),
            seconds: fold_started.elapsed().as_secs_f64(),
        });
        if !run.quiet {
            eprintln!(
                "fold {}: validation loss {val_loss:.4}, test accuracy {:.4}",
                fold + 1,
                confusion.accuracy()
            );
        }
        if best.as_ref().is_none_or(|b| val_loss < b.0) {
            best = Some((val_loss, fold + 1, model));
        }
    }
    let (_, best_fold, model) = best.ok_or("no folds ran")?;
    let confusion = pollster::block_on(inference::confusion(&model, &pre.data.test, &device));
    let mean =
        |f: fn(&FoldResult) -> f64| results.iter().map(f).sum::<f64>() / results.len() as f64;
    let result = DepthResult {
        unfreeze,
        mean_train_loss: mean(|r| r.train_loss),
        mean_val_loss: mean(|r| r.val_loss),
        mean_test_accuracy: mean(|r| r.test_accuracy),
        folds: results,
        best_fold,
        confusion,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    Ok((result, model))
}

/// Saves a depth's best classifier, its metrics and its confusion picture into `out`.
pub fn save(out: &Path, spec: &ModelSpec, result: &DepthResult, model: Classifier) -> CliResult {
    let head = ClassifierSpec {
        unfreeze: result.unfreeze,
        classes: CLASSES,
    };
    files::save_classifier(out, model, spec, &head)?;
    files::write_json(&out.join(METRICS_FILE), result)?;
    plot::confusion(
        &out.join(CONFUSION_FILE),
        &format!(
            "{} fine-tuned to {}: test accuracy {:.4}",
            spec.name,
            result.unfreeze.name(),
            result.confusion.accuracy()
        ),
        &result.confusion,
    )
}

pub fn run(args: FinetuneArgs) -> CliResult {
    let pre = Pretrained::load(&args.model, &args.run)?;
    let spec = &pre.spec;
    let (result, model) = run_depth(&pre, args.unfreeze, args.folds, &args.run, &args.augment)?;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("{}-finetune-{}", spec.name, args.unfreeze.name()))
    });
    save(&out, spec, &result, model)?;
    println!(
        "{}",
        serde_json::json!({
            "unfreeze": args.unfreeze.name(),
            "folds": args.folds,
            "mean_train_loss": result.mean_train_loss,
            "mean_val_loss": result.mean_val_loss,
            "mean_test_accuracy": result.mean_test_accuracy,
            "best_fold_test_accuracy": result.confusion.accuracy(),
            "wall_seconds": result.wall_seconds,
            "out": out.display().to_string(),
        })
    );
    if !args.run.quiet {
        eprintln!(
            "confusion matrix of the best fold on the test set:\n{}",
            result.confusion.table()
        );
    }
    Ok(())
}
