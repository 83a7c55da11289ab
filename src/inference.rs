//! Using trained models: reconstructions, latent codes and test loss of an autoencoder; class
//! probabilities, accuracy and the confusion matrix of a classifier; digits from a GAN's
//! generator.
//!
//! Models passed here should be in validation mode (`model.valid()`): no dropout, no graph.

use burn::prelude::*;
use burn::tensor::TensorData;

use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use crate::data::{BatchOrder, Images, NoiseStack, images_to_tensor, mnist::PIXELS};
use crate::model::{Autoencoder, CLASSES, Classifier, Encoder, Gan, GanSpec, Generator, LossKind};
use crate::parallel::forward_in_pieces;
use crate::training::adversarial::classes_to_tensor;
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
    let x = pixels_to_tensor(pixels, device);
    read_floats(forward_in_pieces(model, x, Autoencoder::forward)).await
}

/// Latent codes of `pixels` (n x 784), as n x latent values.
pub async fn encode(model: &Autoencoder, pixels: &[f32], device: &Device) -> Vec<f32> {
    let x = pixels_to_tensor(pixels, device);
    read_floats(forward_in_pieces(&model.encoder, x, Encoder::forward)).await
}

/// Latent codes of every image in `images` (in batches), as n x latent values: the input of the
/// latent views, for an autoencoder's encoder or a fine-tuned classifier's.
pub async fn encode_images(encoder: &Encoder, images: &Images, device: &Device) -> Vec<f32> {
    let mut codes = Vec::new();
    for indices in BatchOrder::sequential(images.len(), 1000) {
        let x = images_to_tensor(images, &indices, device);
        codes.extend(read_floats(forward_in_pieces(encoder, x, Encoder::forward)).await);
    }
    codes
}

/// Digits from `gan` for the given noise (`rank` rows of `spec.noise` values per digit,
/// scaled by the spec's truncation here) and, for a conditional generator, the digit of each:
/// each digit the best of its `rank` candidates by the discriminator ([`Gan::draw`]; 1: the
/// generator alone). n x 784 values in (0, 1).
pub async fn generate(
    gan: &Gan,
    spec: &GanSpec,
    (noise, rank): (&[f32], usize),
    classes: Option<&[usize]>,
    device: &Device,
) -> Vec<f32> {
    let (z, classes, rank) = draw_inputs(spec, (noise, rank), classes, device);
    read_floats(gan.draw(spec.kind, z, classes, rank)).await
}

/// The noise (as given, n x `spec.noise`) of each digit's best candidate: what
/// [`generate`] draws each digit from.
pub async fn best_noise(
    gan: &Gan,
    spec: &GanSpec,
    (noise, rank): (&[f32], usize),
    classes: Option<&[usize]>,
    device: &Device,
) -> Vec<f32> {
    let dim = spec.noise;
    let (z, classes, rank) = draw_inputs(spec, (noise, rank), classes, device);
    let best = gan
        .best_candidates(spec.kind, z, classes, rank)
        .into_data_async()
        .await
        .expect("reading a tensor back from the device")
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("int tensor");
    best.iter()
        .enumerate()
        .flat_map(|(i, &b)| {
            let row = (i * rank + b as usize) * dim;
            noise[row..row + dim].iter().copied()
        })
        .collect()
}

/// What [`Gan::draw`] reads: `noise` (`rank` rows of the spec's width per digit) scaled by
/// the spec's truncation, as a tensor, the classes of the digits it holds, and the rank (at
/// least 1).
fn draw_inputs(
    spec: &GanSpec,
    (noise, rank): (&[f32], usize),
    classes: Option<&[usize]>,
    device: &Device,
) -> (Tensor<2>, Option<Tensor<1, Int>>, usize) {
    let (rank, dim) = (rank.max(1), spec.noise.max(1));
    let n = noise.len() / (dim * rank);
    let z = scaled_noise(&noise[..n * rank * dim], dim, spec.truncation, device);
    let classes = classes.map(|c| classes_to_tensor(&c[..n], device));
    (z, classes, rank)
}

/// `noise` (rows of `dim` values) times `truncation`, as a [rows, dim] tensor.
fn scaled_noise(noise: &[f32], dim: usize, truncation: f64, device: &Device) -> Tensor<2> {
    let z: Vec<f32> = noise.iter().map(|v| v * truncation as f32).collect();
    Tensor::from_data(TensorData::new(z, [noise.len() / dim, dim]), device)
}

/// A fixed 10 x 10 grid of digits to watch a GAN learn: the same noise every time (for a
/// conditional generator, one row per digit). The CLI writes it as PNG, the page draws it.
pub struct SampleGrid {
    noise: Vec<f32>,
    noise_dim: usize,
    truncation: f64,
    classes: Option<Vec<usize>>,
}

impl SampleGrid {
    pub const SIZE: usize = 100;

    /// Noise for every cell from `seed` (scaled by the spec's truncation when drawn); one row
    /// per digit for a conditional GAN.
    pub fn new(spec: &GanSpec, seed: u64) -> Self {
        let (noise_dim, conditional) = (spec.noise, spec.kind.conditional());
        let seeds: Vec<u64> = (0..Self::SIZE as u64)
            .map(|i| seed.wrapping_add(i))
            .collect();
        Self {
            noise: crate::training::adversarial::noise_for_seeds(&seeds, noise_dim),
            noise_dim,
            truncation: spec.truncation,
            classes: conditional.then(|| (0..Self::SIZE).map(|i| i / 10).collect()),
        }
    }

    /// The grid's digits from `generator` (validation mode), 100 x 784 values: the generator
    /// alone (no discriminator ranking), so each cell shows what the same noise becomes.
    pub async fn pixels(&self, generator: &Generator, device: &Device) -> Vec<f32> {
        let z = scaled_noise(&self.noise, self.noise_dim, self.truncation, device);
        let classes = self
            .classes
            .as_deref()
            .map(|c| classes_to_tensor(c, device));
        read_floats(generator.forward(z, classes)).await
    }
}

/// Class probabilities of `pixels` (n x 784), as n x 10 values summing to 1 per image.
pub async fn classify(model: &Classifier, pixels: &[f32], device: &Device) -> Vec<f32> {
    let x = pixels_to_tensor(pixels, device);
    read_floats(softmax(forward_in_pieces(model, x, Classifier::forward), 1)).await
}

/// How a classifier does on a labelled set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// `counts[true digit][predicted digit]`.
    pub counts: Vec<Vec<usize>>,
}

impl Confusion {
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Fraction of images whose predicted digit is the true one.
    pub fn accuracy(&self) -> f64 {
        let right: usize = (0..self.counts.len()).map(|d| self.counts[d][d]).sum();
        right as f64 / self.total().max(1) as f64
    }

    /// The matrix as text: true digits down, predicted across.
    pub fn table(&self) -> String {
        let mut out = String::from("true/pred");
        for p in 0..self.counts.len() {
            out += &format!("{p:>6}");
        }
        for (t, row) in self.counts.iter().enumerate() {
            out += &format!("\n{t:>9}");
            for n in row {
                out += &format!("{n:>6}");
            }
        }
        out
    }
}

/// The confusion matrix of `model` on `images`.
pub async fn confusion(model: &Classifier, images: &Images, device: &Device) -> Confusion {
    let mut counts = vec![vec![0usize; CLASSES]; CLASSES];
    for indices in BatchOrder::sequential(images.len(), 1000) {
        let x = images_to_tensor(images, &indices, device);
        let logits = forward_in_pieces(model, x, Classifier::forward);
        let predicted = logits.argmax(1).flatten::<1>(0, 1);
        let predicted = predicted
            .into_data_async()
            .await
            .expect("reading predictions back");
        for (&i, p) in indices.iter().zip(predicted.iter::<i64>()) {
            counts[images.labels()[i] as usize][p as usize] += 1;
        }
    }
    Confusion { counts }
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
