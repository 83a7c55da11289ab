//! Training throughput, timed through the real engine so it counts everything a training run
//! does per batch. Used by `latentlab bench` and the page's benchmark.

use burn::prelude::*;
use web_time::Instant;

use super::engine::{Control, FitSettings, Hooks, Progress, fit};
use super::objective::Reconstruction;
use crate::data::Images;
use crate::model::{Autoencoder, ModelSpec};

/// Images per second of training, measured after a warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Throughput {
    pub images_per_s: f64,
    /// Images trained on while the clock ran.
    pub images: usize,
}

/// Stops training after the time budget; the first progress report is the warm-up.
struct Stopwatch {
    seconds: f64,
    batch_size: usize,
    start: Option<(Instant, usize)>,
    result: Throughput,
}

impl<M> Hooks<M> for Stopwatch {
    async fn on_progress(&mut self, p: &Progress) -> Control {
        let images = ((p.epoch - 1) * p.batches + p.batch) * self.batch_size;
        let Some((t0, n0)) = self.start else {
            self.start = Some((Instant::now(), images));
            return Control::Continue;
        };
        let elapsed = t0.elapsed().as_secs_f64();
        self.result = Throughput {
            images_per_s: (images - n0) as f64 / elapsed,
            images: images - n0,
        };
        if elapsed >= self.seconds {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Trains a fresh `spec` net on `images` for about `seconds` and reports its throughput.
/// `device` is the plain device; `read_every` is the loss read-back cadence (as in training).
pub async fn train_throughput(
    spec: &ModelSpec,
    images: &Images,
    device: &Device,
    seconds: f64,
    read_every: usize,
) -> Result<Throughput, String> {
    device.seed(1);
    let model =
        Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.epochs = usize::MAX;
    settings.patience = None;
    settings.read_every = read_every;
    let mut watch = Stopwatch {
        seconds,
        batch_size: spec.train.batch_size,
        start: None,
        result: Throughput {
            images_per_s: 0.0,
            images: 0,
        },
    };
    // Validation never runs: the clock stops training inside the first epochs. It still needs a
    // set, so a small slice serves.
    let val = images.take(1);
    let outcome = fit(
        model,
        &mut Reconstruction::for_spec(&spec.train, 0),
        images,
        &val,
        &settings,
        device,
        &mut watch,
    )
    .await;
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }
    Ok(watch.result)
}
