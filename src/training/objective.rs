//! What an autoencoder learns: to reconstruct its input.

use burn::prelude::*;

use super::engine::Objective;
use super::loss::reconstruction_loss;
use crate::data::{Images, images_to_tensor};
use crate::model::{Autoencoder, LossKind};

/// Reconstruct the input images under `loss`.
#[derive(Clone, Debug)]
pub struct Reconstruction {
    pub loss: LossKind,
}

impl Objective for Reconstruction {
    type Model = Autoencoder;

    fn loss(
        &mut self,
        model: &Autoencoder,
        images: &Images,
        indices: &[usize],
        device: &Device,
        _training: bool,
    ) -> Tensor<1> {
        let x = images_to_tensor(images, indices, device);
        reconstruction_loss(self.loss, model.forward_logits(x.clone()), x)
    }
}
