//! Fine-tuning a digit classifier in the page from the encoder of the autoencoder in use.

use std::rc::Rc;

use burn::prelude::*;
use serde_bytes::ByteBuf;

use super::{ActiveClassifier, Worker, train_val};
use crate::inference;
use crate::model::{CLASSES, Classifier, ClassifierSpec, Unfreeze};
use crate::store;
use crate::training::{Classification, Control, EpochRecord, FitSettings, Hooks, Progress, fit};
use crate::web::protocol::Response;

impl Worker {
    /// Fine-tunes a classifier from the encoder of the model in use (the study's section 2.4).
    pub(super) async fn finetune(
        self: Rc<Self>,
        unfreeze: Unfreeze,
        epochs: usize,
        seed: u64,
        limit: Option<usize>,
    ) {
        let fail = |message: String| {
            self.post(Response::FinetuneFailed { message });
        };
        if self.training.get() {
            return fail("a training run is already going".into());
        }
        let Some(data) = self.data.borrow().clone() else {
            return fail("MNIST is not loaded yet".into());
        };
        let Some((name, bytes, spec)) = self
            .active
            .borrow()
            .as_ref()
            .map(|a| (a.name.clone(), a.bytes.clone(), a.spec.clone()))
        else {
            return fail("no autoencoder in use: train or choose one first".into());
        };
        let mut train_spec = spec.train.clone();
        train_spec.epochs = epochs;
        if let Err(e) = train_spec.validate() {
            return fail(e.to_string());
        }
        let (train, val) = match train_val(&data, limit, seed) {
            Ok(split) => split,
            Err(e) => return fail(e),
        };
        let device = self.device();
        device.seed(seed);
        let autoencoder =
            match store::load_with_spec(&name, &bytes, &spec, &device.clone().autodiff()) {
                Ok(model) => model,
                Err(e) => return fail(e.to_string()),
            };
        let model = Classifier::from_pretrained(
            autoencoder,
            spec.arch.latent,
            unfreeze,
            &device.clone().autodiff(),
        );
        self.post(Response::FinetuneStarted {
            unfreeze,
            train: train.len(),
            val: val.len(),
        });
        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        let mut settings = FitSettings::from_spec(&train_spec, seed);
        settings.read_every = self.read_every();
        let mut hooks = ClassifierHooks {
            worker: self.clone(),
        };
        let outcome = fit(
            model,
            &mut Classification::default(),
            &train,
            &val,
            &settings,
            &device,
            &mut hooks,
        )
        .await;
        self.training.set(false);
        if let Some(message) = outcome.divergence() {
            return fail(message);
        }
        let model = outcome.model.valid();
        let confusion = inference::confusion(&model, &data.test, &device).await;
        let head = ClassifierSpec {
            unfreeze,
            classes: CLASSES,
        };
        let bytes = store::save_classifier_async(model.clone(), &spec, &head).await;
        let name = format!("{name}-classifier-{}", unfreeze.name());
        *self.classifier.borrow_mut() = Some(ActiveClassifier {
            name: name.clone(),
            bytes: bytes.clone(),
            model,
        });
        self.post(Response::ClassifierReady {
            name,
            unfreeze,
            accuracy: Some(confusion.accuracy()),
            confusion: Some(confusion.counts),
            model: ByteBuf::from(bytes),
        });
    }
}

/// Fine-tuning's hooks: progress and epochs to the fine-tune card, stop comes back.
struct ClassifierHooks {
    worker: Rc<Worker>,
}

impl Hooks<Classifier> for ClassifierHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker
            .progress(Response::FinetuneProgress {
                progress: progress.clone(),
            })
            .await
    }

    async fn on_epoch(&mut self, _model: &Classifier, record: &EpochRecord) -> Control {
        self.worker.epoch(Response::FinetuneEpoch {
            record: record.clone(),
        })
    }
}
