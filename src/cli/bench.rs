//! `latentlab bench`: training and inference throughput of a spec on a backend, as one JSON line.
//!
//! Training is timed through the real engine (`fit`), so the number includes everything a
//! training run does per batch; the first report is a warm-up and is not counted.

use std::path::PathBuf;

use burn::prelude::*;
use web_time::Instant;

use super::backend::Backend;
use super::{CliResult, SpecArgs, files};
use crate::data::{BatchOrder, images_to_tensor};
use crate::model::Autoencoder;
use crate::training::{Control, FitSettings, Hooks, Progress, Reconstruction, fit};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    spec: SpecArgs,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Seconds to time training, and again inference.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
}

/// Stops training after the time budget and measures images/s after the warm-up.
struct Stopwatch {
    seconds: f64,
    start: Option<(Instant, usize)>,
    images: usize,
    rate: f64,
    batch_size: usize,
}

impl<M> Hooks<M> for Stopwatch {
    async fn on_progress(&mut self, p: &Progress) -> Control {
        let images = ((p.epoch - 1) * p.batches + p.batch) * self.batch_size;
        match self.start {
            None => {
                self.start = Some((Instant::now(), images));
                Control::Continue
            }
            Some((t0, n0)) => {
                let elapsed = t0.elapsed().as_secs_f64();
                self.images = images - n0;
                self.rate = self.images as f64 / elapsed;
                if elapsed >= self.seconds {
                    Control::Stop
                } else {
                    Control::Continue
                }
            }
        }
    }
}

pub fn run(args: BenchArgs) -> CliResult {
    let spec = args.spec.load()?;
    spec.validate().map_err(|e| e.to_string())?;
    let data = files::load_mnist(&args.data)?;
    let device = args.backend.device()?;
    device.seed(1);

    // Training: the real loop, many epochs allowed, stopped by the clock.
    let model =
        Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.epochs = usize::MAX;
    settings.patience = None;
    settings.read_every = 5;
    let mut watch = Stopwatch {
        seconds: args.seconds,
        start: None,
        images: 0,
        rate: 0.0,
        batch_size: spec.train.batch_size,
    };
    let mut objective = Reconstruction {
        loss: spec.train.loss,
    };
    let outcome = pollster::block_on(fit(
        model,
        &mut objective,
        &data.train,
        &data.test,
        &settings,
        &device,
        &mut watch,
    ));
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }

    // Inference: forward passes over the test set in batches of 1000, read back each time.
    let model = outcome.model.valid();
    let batches = BatchOrder::sequential(data.test.len(), 1000);
    let (t0, mut images) = (Instant::now(), 0usize);
    'outer: loop {
        for indices in &batches {
            let out = model.forward(images_to_tensor(&data.test, indices, &device));
            pollster::block_on(out.into_data_async())
                .map_err(|e| format!("reading back: {e:?}"))?;
            images += indices.len();
            if t0.elapsed().as_secs_f64() >= args.seconds {
                break 'outer;
            }
        }
    }
    let infer_rate = images as f64 / t0.elapsed().as_secs_f64();

    let line = serde_json::json!({
        "preset": spec.name,
        "backend": args.backend.name(),
        "train_images_per_s": watch.rate.round(),
        "infer_images_per_s": infer_rate.round(),
        "batch_size": spec.train.batch_size,
        "train_images_timed": watch.images,
        "threads": rayon::current_num_threads(),
    });
    println!("{line}");
    Ok(())
}
