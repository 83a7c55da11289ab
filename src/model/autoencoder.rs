//! The convolutional autoencoder as burn modules, built from a validated [`ArchSpec`].
//!
//! Nothing here knows which backend runs it: tensors live on whatever `Device` the caller chose
//! (flex on a CPU, wgpu natively or WebGPU in the page), with or without autodiff.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation;

use super::dropout;
use super::spec::{Activation, ArchSpec, SpecError};
use crate::kernels;

/// The activation as a module-free function, so the layer stacks below stay plain data.
pub(crate) fn activate<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    match act {
        Activation::Relu => activation::relu(x),
        Activation::LeakyRelu => kernels::leaky_relu(x, 0.01),
        Activation::Gelu => activation::gelu(x),
        Activation::Tanh => x.tanh(),
    }
}

/// Convolutions, then linear layers down to the latent vector (no activation on the latent).
#[derive(Module, Debug)]
pub struct Encoder {
    pub conv: Vec<Conv2d>,
    pub linear: Vec<Linear>,
    /// One dropout per linear layer; probability 0 for the layer feeding the latent.
    dropout: Vec<Dropout>,
    #[module(skip)]
    activation: Activation,
}

/// Linear layers up from the latent vector, then transposed convolutions to a 28x28 image.
#[derive(Module, Debug)]
pub struct Decoder {
    pub linear: Vec<Linear>,
    pub conv: Vec<ConvTranspose2d>,
    dropout: Vec<Dropout>,
    /// [channels, side, side] of the first transposed convolution's input.
    #[module(skip)]
    unflatten: [usize; 3],
    #[module(skip)]
    activation: Activation,
}

/// Encoder then decoder: the study's list of two nets trained as one.
#[derive(Module, Debug)]
pub struct Autoencoder {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl Encoder {
    /// [batch, 1, 28, 28] images to [batch, latent] codes.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for conv in &self.conv {
            x = activate(self.activation, kernels::conv2d(conv, x));
        }
        let mut h: Tensor<2> = x.flatten(1, 3);
        let last = self.linear.len() - 1;
        for (i, (linear, drop)) in self.linear.iter().zip(&self.dropout).enumerate() {
            h = linear.forward(dropout::apply(drop, h));
            if i < last {
                h = activate(self.activation, h);
            }
        }
        h
    }
}

impl Decoder {
    /// [batch, latent] codes to [batch, 1, 28, 28] logits (pre-sigmoid).
    pub fn forward_logits(&self, latent: Tensor<2>) -> Tensor<4> {
        let mut h = latent;
        for (linear, drop) in self.linear.iter().zip(&self.dropout) {
            h = activate(self.activation, linear.forward(dropout::apply(drop, h)));
        }
        let [c, s, _] = self.unflatten;
        let batch = h.dims()[0];
        let mut x: Tensor<4> = h.reshape([batch, c, s, s]);
        let last = self.conv.len() - 1;
        for (i, conv) in self.conv.iter().enumerate() {
            x = kernels::conv_transpose2d(conv, x);
            if i < last {
                x = activate(self.activation, x);
            }
        }
        x
    }

    /// [batch, latent] codes to [batch, 1, 28, 28] images in (0, 1).
    pub fn forward(&self, latent: Tensor<2>) -> Tensor<4> {
        kernels::sigmoid(self.forward_logits(latent))
    }
}

impl Autoencoder {
    /// Builds the autoencoder for `arch` on `device`, or explains why the spec is impossible.
    /// Weights are drawn from the device's RNG: seed it for reproducible runs.
    pub fn new(arch: &ArchSpec, device: &Device) -> Result<Self, SpecError> {
        let shapes = arch.shapes()?;
        let dropout = |p: f64| DropoutConfig::new(p).init();

        let mut enc_conv = Vec::new();
        let mut dec_conv = Vec::new();
        for (spec, shape) in arch.conv.iter().zip(&shapes.conv) {
            let (k, s, p) = (spec.kernel, spec.stride, spec.padding);
            enc_conv.push(
                Conv2dConfig::new([shape.in_channels, shape.out_channels], [k, k])
                    .with_stride([s, s])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device),
            );
            dec_conv.push(
                ConvTranspose2dConfig::new([shape.out_channels, shape.in_channels], [k, k])
                    .with_stride([s, s])
                    .with_padding([p, p])
                    .with_padding_out([shape.output_padding, shape.output_padding])
                    .init(device),
            );
        }
        // The decoder runs its transposed convolutions from the deepest to the first.
        dec_conv.reverse();

        let widths = &shapes.linear;
        let n = widths.len() - 1;
        let mut enc_lin = Vec::new();
        let mut enc_drop = Vec::new();
        let mut dec_lin = Vec::new();
        let mut dec_drop = Vec::new();
        for i in 0..n {
            enc_lin.push(LinearConfig::new(widths[i], widths[i + 1]).init(device));
            // Encoder: dropout before every linear layer whose output is a hidden layer.
            enc_drop.push(dropout(if i + 1 < n { arch.encoder_dropout } else { 0.0 }));
            let j = n - i; // the decoder walks the widths backwards
            dec_lin.push(LinearConfig::new(widths[j], widths[j - 1]).init(device));
            // Decoder (mirror): dropout before every linear layer whose input is a hidden layer.
            dec_drop.push(dropout(if i > 0 { arch.decoder_dropout } else { 0.0 }));
        }

        Ok(Self {
            encoder: Encoder {
                conv: enc_conv,
                linear: enc_lin,
                dropout: enc_drop,
                activation: arch.activation,
            },
            decoder: Decoder {
                linear: dec_lin,
                conv: dec_conv,
                dropout: dec_drop,
                unflatten: shapes.conv_out(),
                activation: arch.activation,
            },
        })
    }

    /// Reconstruction logits (pre-sigmoid): the loss functions work on these for stability.
    pub fn forward_logits(&self, images: Tensor<4>) -> Tensor<4> {
        self.decoder.forward_logits(self.encoder.forward(images))
    }

    /// Reconstructed images in (0, 1).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decoder.forward(self.encoder.forward(images))
    }
}
