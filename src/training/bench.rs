//! Training throughput, timed through the real engine so it counts everything a training run
//! does per batch. Used by `latentlab bench` and the page's benchmark.

use burn::prelude::*;
use web_time::Instant;

use super::adversarial::Adversarial;
use super::engine::{Control, FitSettings, Hooks, Learner, Progress, Supervised, train};
use super::objective::Reconstruction;
use crate::data::Images;
use crate::model::{Autoencoder, Gan, GanSpec, ModelSpec};

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
    let settings = FitSettings::from_spec(&spec.train, 1);
    let mut objective = Reconstruction::for_spec(&spec.train, 0);
    let mut learner = Supervised::new(&mut objective, &settings);
    time_learner(
        model,
        &mut learner,
        images,
        &settings,
        device,
        seconds,
        read_every,
    )
    .await
}

/// [`train_throughput`] for a GAN: real images per second, each batch the discriminator and
/// generator steps its update periods call for.
pub async fn gan_throughput(
    spec: &GanSpec,
    images: &Images,
    device: &Device,
    seconds: f64,
    read_every: usize,
) -> Result<Throughput, String> {
    device.seed(1);
    let model = Gan::new(spec, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let mut learner = Adversarial::new(spec, 1, device).map_err(|e| e.to_string())?;
    let settings = FitSettings::for_gan(spec, 1);
    time_learner(
        model,
        &mut learner,
        images,
        &settings,
        device,
        seconds,
        read_every,
    )
    .await
}

/// Runs `learner` through the engine's loop until the clock says stop.
async fn time_learner<L: Learner>(
    model: L::Model,
    learner: &mut L,
    images: &Images,
    settings: &FitSettings,
    device: &Device,
    seconds: f64,
    read_every: usize,
) -> Result<Throughput, String> {
    let mut settings = settings.clone();
    settings.epochs = usize::MAX;
    settings.patience = None;
    settings.read_every = read_every;
    let mut watch = Stopwatch {
        seconds,
        batch_size: settings.batch_size,
        start: None,
        result: Throughput {
            images_per_s: 0.0,
            images: 0,
        },
    };
    // Validation never runs: the clock stops training inside the first epochs. It still needs a
    // set, so a small slice serves.
    let val = images.take(1);
    let outcome = train(model, learner, images, &val, &settings, device, &mut watch).await;
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }
    Ok(watch.result)
}
