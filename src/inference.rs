//! Using a trained autoencoder: reconstructions, latent codes and test loss.
//!
//! Models passed here should be in validation mode (`model.valid()`): no dropout, no graph.

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::data::{Images, NoiseStack, mnist::PIXELS};
use crate::model::{Autoencoder, LossKind};
use crate::training::{Reconstruction, evaluate};

/// Pixels (n x 784, in [0, 1]) as a [n, 1, 28, 28] tensor.
pub fn pixels_to_tensor(pixels: &[f32], device: &Device) -> Tensor<4> {
    let n = pixels.len() / PIXELS;
    Tensor::from_data(
        TensorData::new(pixels[..n * PIXELS].to_vec(), [n, 1, 28, 28]),
        device,
    )
}

async fn read_floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    let data = t
        .into_data_async()
        .await
        .expect("reading a tensor back from the device");
    data.try_into_vec::<f32>().expect("f32 tensor")
}

/// Reconstructions of `pixels` (n x 784 in [0, 1]), as n x 784 values in (0, 1).
pub async fn reconstruct(model: &Autoencoder, pixels: &[f32], device: &Device) -> Vec<f32> {
    read_floats(model.forward(pixels_to_tensor(pixels, device))).await
}

/// Latent codes of `pixels` (n x 784), as n x latent values.
pub async fn encode(model: &Autoencoder, pixels: &[f32], device: &Device) -> Vec<f32> {
    read_floats(model.encoder.forward(pixels_to_tensor(pixels, device))).await
}

/// Images decoded from latent codes (n x latent), as n x 784 values in (0, 1).
pub async fn decode(
    model: &Autoencoder,
    codes: &[f32],
    latent: usize,
    device: &Device,
) -> Vec<f32> {
    let n = codes.len() / latent;
    let z = Tensor::<2>::from_data(TensorData::new(codes.to_vec(), [n, latent]), device);
    read_floats(model.decoder.forward(z)).await
}

/// Mean reconstruction loss over all of `images`.
pub async fn test_loss(
    model: &Autoencoder,
    loss: LossKind,
    images: &Images,
    device: &Device,
) -> f64 {
    evaluate(&mut Reconstruction::plain(loss), model, images, 500, device).await
}

/// Mean loss of reconstructing `images` from copies corrupted by `noise` (seeded, so repeatable):
/// how well the model denoises.
pub async fn noisy_test_loss(
    model: &Autoencoder,
    loss: LossKind,
    noise: &NoiseStack,
    images: &Images,
    device: &Device,
) -> f64 {
    let mut objective = Reconstruction::plain(loss).with_noise(noise.clone(), 0);
    evaluate(&mut objective, model, images, 500, device).await
}
