//! `latentlab score`: the judge's scores of a trained GAN against test digits, at the spec's
//! truncation or another (to see what the truncation trick trades without retraining).

use std::path::PathBuf;

use burn::module::Module;

use super::backend::Backend;
use super::gan::judge_on_test;
use super::judge::DEFAULT_JUDGE_DIR;
use super::{CliResult, files};

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// GAN directory (written by `gan`) or model file.
    #[arg(long)]
    model: PathBuf,
    /// The judge classifier (`latentlab judge`).
    #[arg(long, default_value = DEFAULT_JUDGE_DIR)]
    judge: PathBuf,
    /// Digits generated and judged (a tenth of each digit for a conditional GAN).
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Draw at this noise scale instead of the spec's.
    #[arg(long)]
    truncation: Option<f64>,
    /// Keep the best of this many candidates per digit by the discriminator instead of the
    /// spec's number (1: the generator alone).
    #[arg(long)]
    rank: Option<usize>,
    /// Directory with the MNIST IDX files (the test digits are the reference).
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
}

pub fn run(args: ScoreArgs) -> CliResult {
    if args.n < 20 {
        return Err("--n must be at least 20 (two digits of each class)".into());
    }
    let device = args.backend.device()?;
    let (mut spec, gan) = files::load_gan(&args.model, &device)?;
    if let Some(t) = args.truncation {
        spec.truncation = t;
    }
    if let Some(r) = args.rank {
        spec.rank = r;
    }
    spec.validate()
        .map_err(|e| format!("{}: {e}", args.model.display()))?;
    let (_, _, judge) = files::load_classifier(&args.judge, &device)?;
    let data = files::load_mnist(&args.data)?;
    let quality = judge_on_test(
        &judge.valid(),
        &data.test,
        (&gan, &spec),
        (args.n, args.seed),
        &device,
    )?;
    eprintln!(
        "truncation {}, best of {}: {}",
        spec.truncation,
        spec.rank,
        quality.summary()
    );
    println!(
        "{}",
        serde_json::to_string(&quality).map_err(|e| e.to_string())?
    );
    Ok(())
}
