//! A digit classifier made from a pretrained encoder: the encoder's latent code feeds one new
//! linear layer of 10 (the study's supervised fine-tuning, its section 2.4).
//!
//! How deep the gradient reaches into the pretrained encoder is a choice ([`Unfreeze`]): frozen
//! layers have their parameters marked as not requiring gradients, so autodiff neither computes
//! nor applies updates for them, and the optimiser leaves them as they were.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::autoencoder::{Autoencoder, Encoder};
use super::spec::{ArchSpec, SpecError};

/// Digits 0-9.
pub const CLASSES: usize = 10;

/// The deepest layer that still learns; everything below it stays as pretrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unfreeze {
    /// Only the new classifying layer (10 units) learns.
    Head,
    /// ...and the encoder's output (latent) layer.
    Latent,
    /// ...and the encoder's hidden linear layers.
    Hidden,
    /// ...and the encoder's last convolution.
    Conv,
    /// Every layer learns.
    All,
}

impl Unfreeze {
    pub const ALL: [Unfreeze; 5] = [
        Unfreeze::Head,
        Unfreeze::Latent,
        Unfreeze::Hidden,
        Unfreeze::Conv,
        Unfreeze::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Unfreeze::Head => "head",
            Unfreeze::Latent => "latent",
            Unfreeze::Hidden => "hidden",
            Unfreeze::Conv => "conv",
            Unfreeze::All => "all",
        }
    }

    /// How the study's Table 2 names the depth.
    pub fn describe(self) -> &'static str {
        match self {
            Unfreeze::Head => "Classifying layer (10 neurons)",
            Unfreeze::Latent => "Encoder out layer (latent)",
            Unfreeze::Hidden => "Encoder hidden linear layer",
            Unfreeze::Conv => "Encoder last conv. layer",
            Unfreeze::All => "Whole encoder",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.name() == name)
    }
}

/// What a classifier file says beyond the autoencoder spec its encoder came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSpec {
    pub unfreeze: Unfreeze,
    pub classes: usize,
}

/// Encoder plus a linear layer from the latent code to one logit per class.
#[derive(Module, Debug)]
pub struct Classifier {
    pub encoder: Encoder,
    pub head: Linear,
}

impl Classifier {
    /// A fresh classifier for `arch` (random encoder): the shape files are loaded into.
    pub fn new(arch: &ArchSpec, device: &Device) -> Result<Self, SpecError> {
        let encoder = Autoencoder::new(arch, device)?.encoder;
        Ok(Self::on_encoder(encoder, arch.latent, device))
    }

    /// A new head on a pretrained encoder, with only the layers `unfreeze` names learning.
    pub fn from_pretrained(
        autoencoder: Autoencoder,
        latent: usize,
        unfreeze: Unfreeze,
        device: &Device,
    ) -> Self {
        Self::on_encoder(autoencoder.encoder, latent, device).freeze_below(unfreeze)
    }

    fn on_encoder(encoder: Encoder, latent: usize, device: &Device) -> Self {
        Self {
            encoder,
            head: LinearConfig::new(latent, CLASSES).init(device),
        }
    }

    /// Marks the encoder layers below `unfreeze` as not learning.
    fn freeze_below(mut self, unfreeze: Unfreeze) -> Self {
        let enc = &mut self.encoder;
        let convs = enc.conv.len();
        let linears = enc.linear.len();
        // How many of the encoder's last conv and linear layers learn.
        let (conv_learn, linear_learn) = match unfreeze {
            Unfreeze::Head => (0, 0),
            Unfreeze::Latent => (0, 1),
            Unfreeze::Hidden => (0, linears),
            Unfreeze::Conv => (1, linears),
            Unfreeze::All => (convs, linears),
        };
        for (i, conv) in enc.conv.iter_mut().enumerate() {
            if i + conv_learn < convs {
                *conv = conv.clone().no_grad();
            }
        }
        for (i, linear) in enc.linear.iter_mut().enumerate() {
            if i + linear_learn < linears {
                *linear = linear.clone().no_grad();
            }
        }
        self
    }

    /// [batch, 1, 28, 28] images to [batch, 10] logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.encoder.forward(images))
    }
}
