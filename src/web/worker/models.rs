//! The models in use: loading a model file (autoencoder or classifier), the latent ranges of
//! the autoencoder in use, and inference on the drawing.

use serde_bytes::ByteBuf;

use super::{Active, ActiveClassifier, RANGE_DIGITS, Worker};
use crate::data::mnist::PIXELS;
use crate::inference;
use crate::latent::Ranges;
use crate::model::{Autoencoder, ModelSpec};
use crate::store;
use crate::web::protocol::Response;

impl Worker {
    /// Puts a model file in use: an autoencoder for drawing, sliders and views, or a classifier
    /// for labelling drawings.
    pub(super) async fn use_model(&self, name: String, bytes: Vec<u8>) {
        let device = self.device();
        if store::is_gan(&name, &bytes).unwrap_or(false) {
            match store::load_gan(&name, &bytes, &device) {
                Ok((spec, model)) => self.put_gan_in_use(name, bytes, spec, model),
                Err(e) => self.error(e.to_string()),
            }
            return;
        }
        if store::is_classifier(&name, &bytes).unwrap_or(false) {
            match store::load_classifier(&name, &bytes, &device) {
                Ok((_, head, model)) => {
                    *self.classifier.borrow_mut() = Some(ActiveClassifier {
                        name: name.clone(),
                        bytes: bytes.clone(),
                        model,
                    });
                    self.post(Response::ClassifierReady {
                        name,
                        unfreeze: head.unfreeze,
                        accuracy: None,
                        confusion: None,
                        model: ByteBuf::from(bytes),
                    });
                }
                Err(e) => self.error(e.to_string()),
            }
            return;
        }
        match store::load(&name, &bytes, &device) {
            Ok((spec, model)) => self.put_in_use(name, bytes, spec, model).await,
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Makes `model` the autoencoder in use and tells the page, with its latent ranges.
    pub(super) async fn put_in_use(
        &self,
        name: String,
        bytes: Vec<u8>,
        spec: ModelSpec,
        model: Autoencoder,
    ) {
        let latent = spec.arch.latent;
        let encoder = model.encoder.clone();
        // In use at once, before the first await: drawing requests that arrive while the ranges
        // are computed find it.
        *self.active.borrow_mut() = Some(Active {
            name: name.clone(),
            bytes,
            spec: spec.clone(),
            model,
        });
        let data = self.data.borrow().clone();
        let ranges = match data {
            Some(data) => {
                let test = data.test.take(RANGE_DIGITS.min(data.test.len()));
                let codes = inference::encode_images(&encoder, &test, &self.device()).await;
                Ranges::of(&codes, latent)
            }
            // Without data, a symmetric guess; the sliders still work.
            None => Ranges {
                mean: vec![0.0; latent],
                min: vec![-3.0; latent],
                max: vec![3.0; latent],
            },
        };
        self.post(Response::ModelInUse { name, spec, ranges });
    }

    pub(super) async fn infer(&self, id: u64, pixels: Vec<f32>) {
        let Some(model) = self.active.borrow().as_ref().map(|a| a.model.clone()) else {
            return self.error("no model yet: train one or choose a saved model");
        };
        if pixels.len() != PIXELS {
            return self.error(format!(
                "an image has {PIXELS} pixels, not {}",
                pixels.len()
            ));
        }
        let device = self.device();
        // One encoder pass: the latent code, then its decoding.
        let latent = inference::encode(&model, &pixels, &device).await;
        let reconstruction = inference::decode(&model, &latent, latent.len(), &device).await;
        let classifier = self.classifier.borrow().as_ref().map(|c| c.model.clone());
        let probabilities = match classifier {
            Some(c) => Some(inference::classify(&c, &pixels, &device).await),
            None => None,
        };
        self.post(Response::Inferred {
            id,
            reconstruction,
            latent,
            probabilities,
        });
    }
}
