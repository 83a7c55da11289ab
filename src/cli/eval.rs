//! `latentlab eval`: the test loss of a trained model, as JSON.

use std::path::PathBuf;

use super::backend::Backend;
use super::{CliResult, files};
use crate::data::NoiseStack;
use crate::inference;
use crate::training::{overall_sparsity, sparsity};

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Model directory (written by `train`) or model file.
    #[arg(long)]
    model: PathBuf,
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Corrupt the test inputs (targets stay clean), e.g. "snp:0.1": the denoising loss.
    #[arg(long)]
    noise: Option<NoiseStack>,
}

pub fn run(args: EvalArgs) -> CliResult {
    let device = args.backend.device()?;
    let (spec, model) = files::load_model(&args.model, &device)?;
    let data = files::load_mnist(&args.data)?;
    let noise = args.noise.unwrap_or_default();
    let test_loss = pollster::block_on(inference::noisy_test_loss(
        &model,
        spec.train.loss,
        &noise,
        &data.test,
        &device,
    ));
    // Pruned models: how many weights are zero, overall and per layer.
    let layers = pollster::block_on(sparsity(&model));
    let out = serde_json::json!({
        "model": args.model.display().to_string(),
        "spec": spec.name,
        "loss": spec.train.loss.name(),
        "test_images": data.test.len(),
        "noise": noise.to_string(),
        "test_loss": test_loss,
        "sparsity": overall_sparsity(&layers),
        "sparsity_per_layer": layers,
    });
    println!("{out}");
    Ok(())
}
