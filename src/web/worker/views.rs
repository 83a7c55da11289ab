//! Latent views in the worker: 2D embeddings of test codes and decoding of chosen codes.

use serde_bytes::ByteBuf;

use super::Worker;
use crate::inference;
use crate::latent::{self, Method};
use crate::web::protocol::{Embedder, Response};

impl Worker {
    /// A latent view of the first `points` test digits, for the autoencoder or the classifier.
    pub(super) async fn embed(&self, which: Embedder, method: Method, points: usize) {
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        let encoder = match which {
            Embedder::Autoencoder => self
                .active
                .borrow()
                .as_ref()
                .map(|a| a.model.encoder.clone()),
            Embedder::Classifier => self
                .classifier
                .borrow()
                .as_ref()
                .map(|c| c.model.encoder.clone()),
        };
        let Some(encoder) = encoder else {
            return self.error(match which {
                Embedder::Autoencoder => "no autoencoder in use: train or choose one first",
                Embedder::Classifier => "no classifier yet: fine-tune one first",
            });
        };
        let test = data.test.take(points.clamp(1, data.test.len()));
        let codes = inference::encode_images(&encoder, &test, &self.device()).await;
        let dim = codes.len() / test.len();
        let started = web_time::Instant::now();
        let result = latent::embed(&codes, dim, method, 42, |iteration, total| {
            if iteration % 50 == 0 {
                self.post(Response::EmbedProgress {
                    which,
                    iteration,
                    total,
                });
            }
        });
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(points) => {
                let images: Vec<u8> = (0..test.len())
                    .flat_map(|i| test.image(i).to_vec())
                    .collect();
                self.post(Response::Embedded {
                    which,
                    method,
                    points,
                    labels: ByteBuf::from(test.labels().to_vec()),
                    images: ByteBuf::from(images),
                    seconds,
                });
            }
            Err(e) => self.error(e),
        }
    }

    /// Decodes latent codes with the autoencoder in use (sliders, interpolation).
    pub(super) async fn decode(&self, id: u64, codes: Vec<f32>) {
        let Some((model, dim)) = self
            .active
            .borrow()
            .as_ref()
            .map(|a| (a.model.clone(), a.spec.arch.latent))
        else {
            return self.error("no autoencoder in use: train or choose one first");
        };
        if codes.is_empty() || !codes.len().is_multiple_of(dim) {
            return self.error(format!(
                "codes of {dim} values expected, got {}",
                codes.len()
            ));
        }
        let images = inference::decode(&model, &codes, dim, &self.device()).await;
        self.post(Response::Decoded { id, images });
    }
}
