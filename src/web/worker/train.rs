//! Training an autoencoder in the page (and timing it): the engine's hooks post progress,
//! epochs and reconstructions, and take pause and stop between batches.

use std::rc::Rc;

use burn::prelude::*;
use serde_bytes::ByteBuf;

use super::{SHOWN_DIGITS, Worker, train_val};
use crate::inference;
use crate::model::{Autoencoder, ModelSpec};
use crate::store;
use crate::training::{
    Control, EpochRecord, FitSettings, Hooks, Progress, fit_spec, sparsity, train_throughput,
};
use crate::web::protocol::Response;

impl Worker {
    pub(super) async fn train(
        self: Rc<Self>,
        mut spec: ModelSpec,
        seed: u64,
        limit: Option<usize>,
        from_model_in_use: bool,
        checkpoint: Option<Vec<u8>>,
    ) {
        if self.training.get() {
            return self.error("a training run is already going");
        }
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        // Continuing from the model in use: its architecture and weights, the form's training.
        // A checkpoint's weights come with their own spec (its architecture).
        let start = if checkpoint.is_some() {
            checkpoint
        } else if from_model_in_use {
            let Some((bytes, arch)) = self
                .active
                .borrow()
                .as_ref()
                .map(|a| (a.bytes.clone(), a.spec.arch.clone()))
            else {
                return self.error("no model in use to continue from: train or choose one first");
            };
            spec.arch = arch;
            Some(bytes)
        } else {
            None
        };
        if let Err(e) = spec.validate() {
            return self.error(format!("the spec cannot be trained: {e}"));
        }
        let (train, val) = match train_val(&data, limit, seed) {
            Ok(split) => split,
            Err(e) => return self.error(e),
        };
        if let Err(e) = spec.train.fits_data(train.len()) {
            return self.error(format!("the spec cannot be trained: {e}"));
        }
        let device = self.device();
        let backend = self.status.borrow().active;
        device.seed(seed);
        let model = match start {
            Some(bytes) => {
                store::load_with_spec(&spec.name, &bytes, &spec, &device.clone().autodiff())
            }
            None => Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(Into::into),
        };
        let model = match model {
            Ok(model) => model,
            Err(e) => return self.error(e.to_string()),
        };
        let originals: Vec<f32> = (0..SHOWN_DIGITS)
            .flat_map(|i| data.test.image_f32(i))
            .collect();
        self.post(Response::Started {
            spec: spec.clone(),
            train: train.len(),
            val: val.len(),
            backend,
            originals: originals.clone(),
            limit,
            seed,
        });

        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        let mut settings = FitSettings::from_spec(&spec.train, seed);
        settings.read_every = self.read_every();
        let page = PageHooks {
            worker: self.clone(),
            originals,
            device: device.clone(),
            pruning: spec.train.pruning.is_some(),
            spec: spec.clone(),
        };
        let outcome = fit_spec(model, &spec.train, &train, &val, &settings, &device, page).await;
        self.training.set(false);
        self.paused.set(false);

        let model = outcome.model.valid();
        let test_loss = inference::test_loss(&model, spec.train.loss, &data.test, &device).await;
        let bytes = store::save_async(model.clone(), &spec).await;
        let trained = !outcome.history.is_empty();
        self.post(Response::Finished {
            model: ByteBuf::from(bytes.clone()),
            spec: spec.clone(),
            test_loss,
            message: outcome.divergence(),
            stop: outcome.stop,
            history: outcome.history,
        });
        if trained {
            self.put_in_use(spec.name.clone(), bytes, spec, model).await;
        }
    }

    pub(super) async fn bench(&self, spec: ModelSpec, seconds: f64) {
        if self.training.get() {
            return self.error("the benchmark runs once training has stopped");
        }
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        let backend = self.status.borrow().active;
        self.training.set(true);
        let result = train_throughput(
            &spec,
            &data.train,
            &self.device(),
            seconds,
            self.read_every(),
        )
        .await;
        self.training.set(false);
        match result {
            Ok(t) => self.post(Response::BenchResult {
                preset: spec.name,
                backend,
                train_images_per_s: t.images_per_s,
                images: t.images,
            }),
            Err(e) => self.error(e),
        }
    }
}

/// The engine's hooks in the page: progress and epochs go to the UI, pause and stop come back.
struct PageHooks {
    worker: Rc<Worker>,
    originals: Vec<f32>,
    device: Device,
    /// Report the sparsity per layer after each epoch.
    pruning: bool,
    /// The run's spec, saved with each epoch's weights (the checkpoint).
    spec: ModelSpec,
}

impl Hooks<Autoencoder> for PageHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker
            .progress(Response::Progress {
                progress: progress.clone(),
            })
            .await
    }

    async fn on_epoch(&mut self, model: &Autoencoder, record: &EpochRecord) -> Control {
        let model = model.valid();
        let reconstructions = inference::reconstruct(&model, &self.originals, &self.device).await;
        let sparsity = if self.pruning {
            sparsity(&model).await
        } else {
            Vec::new()
        };
        let checkpoint = store::save_async(model, &self.spec).await;
        self.worker.epoch(Response::Epoch {
            record: record.clone(),
            reconstructions,
            sparsity,
            memory_mb: super::wasm_memory_mb(),
            model: ByteBuf::from(checkpoint),
        })
    }
}
