//! `latentlab table2`: the study's Table 2. Fine-tunes a classifier from the pretrained encoder
//! at every depth in a k-fold setup and writes the table (Markdown and JSON) with the study's
//! numbers beside ours; each depth's best classifier is kept in its own directory.

use std::fs;
use std::path::PathBuf;

use serde::Serialize;

use super::finetune::{self, AugmentArgs, DepthResult, Pretrained, parse_unfreeze};
use super::{CliResult, RunArgs, files};
use crate::model::Unfreeze;

#[derive(clap::Args, Debug)]
pub struct Table2Args {
    /// The pretrained autoencoder (the study used its best net, without pruning).
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Depths to run, comma-separated (default: all five).
    #[arg(long, value_delimiter = ',', value_parser = parse_unfreeze)]
    depths: Vec<Unfreeze>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    augment: AugmentArgs,
    #[arg(long, default_value = "runs/table2")]
    out: PathBuf,
}

/// The study's Table 2: average train loss, validation loss and test accuracy per depth (it
/// did not fine-tune the whole encoder).
fn study(depth: Unfreeze) -> Option<(f64, f64, f64)> {
    match depth {
        Unfreeze::Head => Some((0.3417, 0.3237, 0.9126)),
        Unfreeze::Latent => Some((0.2108, 0.1912, 0.9452)),
        Unfreeze::Hidden => Some((0.0309, 0.0466, 0.9862)),
        Unfreeze::Conv => Some((0.0206, 0.0427, 0.9874)),
        Unfreeze::All => None,
    }
}

#[derive(Serialize)]
struct Row<'a> {
    depth: &'a str,
    ours: &'a DepthResult,
    study_train_loss: Option<f64>,
    study_val_loss: Option<f64>,
    study_test_accuracy: Option<f64>,
}

pub fn run(args: Table2Args) -> CliResult {
    let pre = Pretrained::load(&args.model, &args.run)?;
    let spec = &pre.spec;
    let depths = if args.depths.is_empty() {
        Unfreeze::ALL.to_vec()
    } else {
        args.depths.clone()
    };
    let mut results = Vec::new();
    for depth in depths {
        let (result, model) =
            finetune::run_depth(&pre, depth, args.folds, &args.run, &args.augment)?;
        finetune::save(&args.out.join(depth.name()), spec, &result, model)?;
        results.push(result);
    }

    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut md = format!(
        "Fine-tuning a classifier from the pretrained `{}` encoder, {} folds, up to {} epochs each, \
         learning rate {}; mean over the folds, ours (study).\n\n| deepest layer that learns | train loss | validation loss | test accuracy |\n| --- | --- | --- | --- |\n",
        spec.name,
        args.folds,
        args.run.epochs.unwrap_or(finetune::DEFAULT_EPOCHS),
        args.run.lr.unwrap_or(spec.train.lr)
    );
    let mut rows = Vec::new();
    for r in &results {
        let s = study(r.unfreeze);
        md += &format!(
            "| {} | {:.4} ({}) | {:.4} ({}) | **{:.4}** ({}) |\n",
            r.unfreeze.describe(),
            r.mean_train_loss,
            fmt(s.map(|s| s.0)),
            r.mean_val_loss,
            fmt(s.map(|s| s.1)),
            r.mean_test_accuracy,
            fmt(s.map(|s| s.2)),
        );
        rows.push(Row {
            depth: r.unfreeze.name(),
            ours: r,
            study_train_loss: s.map(|s| s.0),
            study_val_loss: s.map(|s| s.1),
            study_test_accuracy: s.map(|s| s.2),
        });
    }
    fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let md_path = args.out.join("table2.md");
    fs::write(&md_path, &md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    files::write_json(&args.out.join("table2.json"), &rows)?;
    print!("{md}");
    Ok(())
}
