//! GANs in the page: training one (the same engine and adversarial learner as the CLI), the
//! GAN in use, and digits drawn from it for the Generate view.

use std::rc::Rc;

use burn::prelude::*;
use serde_bytes::ByteBuf;

use super::{Worker, train_val};
use crate::inference::{self, SampleGrid};
use crate::latent;
use crate::model::{CLASSES, Gan, GanKind, GanSpec};
use crate::store;
use crate::training::adversarial::noise_for_seeds;
use crate::training::{Adversarial, Control, EpochRecord, FitSettings, Hooks, Progress, train};
use crate::web::protocol::Response;

/// The GAN the Generate view draws from.
pub(super) struct ActiveGan {
    pub name: String,
    /// The model file, to move the GAN to another backend.
    pub bytes: Vec<u8>,
    pub spec: GanSpec,
    pub model: Gan,
}

impl Worker {
    /// Trains a GAN of `kind` (its preset, `epochs` epochs) on the training images.
    pub(super) async fn train_gan(
        self: Rc<Self>,
        kind: GanKind,
        epochs: usize,
        seed: u64,
        limit: Option<usize>,
    ) {
        let fail = |message: String| self.post(Response::GanFailed { message });
        if self.training.get() {
            return fail("a training run is already going".into());
        }
        let Some(data) = self.data.borrow().clone() else {
            return fail("MNIST is not loaded yet".into());
        };
        let Some(mut spec) = GanSpec::preset(kind.name()) else {
            return fail(format!("no preset for {}", kind.name()));
        };
        spec.train.epochs = epochs;
        if let Err(e) = spec.validate() {
            return fail(format!("the GAN cannot be trained: {e}"));
        }
        let (train_set, val) = match train_val(&data, limit, seed) {
            Ok(split) => split,
            Err(e) => return fail(e),
        };
        let device = self.device();
        device.seed(seed);
        let model = match Gan::new(&spec, &device.clone().autodiff()) {
            Ok(model) => model,
            Err(e) => return fail(e.to_string()),
        };
        let mut learner = match Adversarial::new(&spec, seed, &device) {
            Ok(learner) => learner,
            Err(e) => return fail(e.to_string()),
        };
        self.post(Response::GanStarted {
            spec: spec.clone(),
            train: train_set.len(),
            backend: self.status.borrow().active,
        });
        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        let mut settings = FitSettings::for_gan(&spec, seed);
        settings.read_every = self.read_every();
        let mut hooks = GanHooks {
            worker: self.clone(),
            grid: SampleGrid::new(&spec, seed),
            device: device.clone(),
        };
        let outcome = train(
            model,
            &mut learner,
            &train_set,
            &val,
            &settings,
            &device,
            &mut hooks,
        )
        .await;
        self.training.set(false);
        self.paused.set(false);
        let model = outcome.model.valid();
        let bytes = store::save_gan_async(model.clone(), &spec).await;
        let trained = !outcome.history.is_empty();
        self.post(Response::GanFinished {
            model: ByteBuf::from(bytes.clone()),
            spec: spec.clone(),
            message: outcome.divergence(),
            stop: outcome.stop,
            history: outcome.history,
        });
        if trained {
            self.put_gan_in_use(spec.name.clone(), bytes, spec, model);
        }
    }

    pub(super) fn put_gan_in_use(&self, name: String, bytes: Vec<u8>, spec: GanSpec, model: Gan) {
        *self.gan.borrow_mut() = Some(ActiveGan {
            name: name.clone(),
            bytes,
            spec: spec.clone(),
            model,
        });
        self.post(Response::GanInUse { name, spec });
    }

    /// The GAN in use, its spec and the classes for `n` digits of `class` (None:
    /// unconditional).
    pub(super) fn gan_and_classes(
        &self,
        class: Option<usize>,
        n: usize,
    ) -> Result<(Gan, GanSpec, Option<Vec<usize>>), String> {
        let gan = self.gan.borrow();
        let Some(active) = gan.as_ref() else {
            return Err("no GAN in use: train one or choose a saved one".into());
        };
        let classes = match (active.spec.kind.conditional(), class) {
            (true, Some(c)) if c < CLASSES => Some(vec![c; n]),
            (true, Some(c)) => return Err(format!("digit {c}: 0 to 9")),
            // A conditional GAN without a chosen digit cycles through them.
            (true, None) => Some((0..n).map(|i| i % CLASSES).collect()),
            (false, _) => None,
        };
        Ok((active.model.clone(), active.spec.clone(), classes))
    }

    /// Digits from `noise` (`rank` candidates per digit: the discriminator keeps the best).
    async fn generated(
        &self,
        id: u64,
        class: Option<usize>,
        (noise, rank): (Vec<f32>, usize),
        n: usize,
    ) {
        match self.gan_and_classes(class, n) {
            Ok((gan, spec, classes)) => {
                let device = self.device();
                let images =
                    inference::generate(&gan, &spec, (&noise, rank), classes.as_deref(), &device)
                        .await;
                self.post(Response::Generated { id, images });
            }
            Err(e) => self.error(e),
        }
    }

    /// One digit per seed: the seed's stream gives the digit's candidates.
    pub(super) async fn generate(&self, id: u64, class: Option<usize>, seeds: Vec<u64>) {
        let Some((dim, rank)) = self
            .gan
            .borrow()
            .as_ref()
            .map(|g| (g.spec.noise, g.spec.rank))
        else {
            return self.error("no GAN in use: train one or choose a saved one");
        };
        let n = seeds.len();
        let noise = noise_for_seeds(&seeds, dim * rank);
        self.generated(id, class, (noise, rank), n).await;
    }

    /// Digits along the straight line between two seeds' digits: from the noise of the
    /// candidate each seed's digit was drawn from, the generator alone at every step.
    pub(super) async fn walk(
        &self,
        id: u64,
        class: Option<usize>,
        from: u64,
        to: u64,
        steps: usize,
    ) {
        let (gan, spec, classes) = match self.gan_and_classes(class, 2) {
            Ok(found) => found,
            Err(e) => return self.error(e),
        };
        let (dim, rank) = (spec.noise, spec.rank);
        let steps = steps.clamp(2, 64);
        let candidates = noise_for_seeds(&[from, to], dim * rank);
        let ends = inference::best_noise(
            &gan,
            &spec,
            (&candidates, rank),
            classes.as_deref(),
            &self.device(),
        )
        .await;
        let noise = latent::interpolate(&ends[..dim], &ends[dim..], steps);
        self.generated(id, class, (noise, 1), steps).await;
    }
}

/// A GAN run's hooks: progress (both losses) and a grid of digits per epoch to the page; pause
/// and stop come back.
struct GanHooks {
    worker: Rc<Worker>,
    grid: SampleGrid,
    device: Device,
}

impl Hooks<Gan> for GanHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker
            .progress(Response::GanProgress {
                progress: progress.clone(),
            })
            .await
    }

    async fn on_epoch(&mut self, model: &Gan, record: &EpochRecord) -> Control {
        let samples = self
            .grid
            .pixels(&model.valid().generator, &self.device)
            .await;
        self.worker.epoch(Response::GanEpoch {
            record: record.clone(),
            samples,
        })
    }
}
