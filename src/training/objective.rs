//! What an autoencoder learns: to reconstruct its input, optionally from a corrupted input
//! (denoising) and optionally over several reconstructions fed back (iterative autoencoding).

use burn::prelude::*;

use super::engine::Objective;
use super::loss::reconstruction_loss;
use crate::data::{Images, NoiseStack, images_to_pixels, images_to_tensor};
use crate::kernels::sigmoid;
use crate::model::{Autoencoder, LossKind, TrainSpec};

/// Reconstruct clean images under `loss`.
#[derive(Clone, Debug)]
pub struct Reconstruction {
    pub loss: LossKind,
    /// Reconstructions whose errors the loss averages; each is fed back to the encoder. 1 is the
    /// plain loss (the study's iterative autoencoder used up to 3).
    pub iterations: usize,
    /// Corruption applied to the inputs (the targets stay clean); empty for a plain autoencoder.
    pub noise: NoiseStack,
    /// Seeds the noise: training batches draw fresh noise each step, evaluation batches the same
    /// noise every time (so validation and test losses are comparable across epochs).
    pub seed: u64,
    step: u64,
}

impl Reconstruction {
    /// The plain objective: clean inputs, one reconstruction.
    pub fn plain(loss: LossKind) -> Self {
        Self {
            loss,
            iterations: 1,
            noise: NoiseStack::default(),
            seed: 0,
            step: 0,
        }
    }

    /// The objective a training spec asks for.
    pub fn for_spec(train: &TrainSpec, seed: u64) -> Self {
        Self {
            loss: train.loss,
            iterations: train.iterations.max(1),
            noise: train.noise.clone(),
            seed,
            step: 0,
        }
    }

    /// Evaluation under `noise` (for denoising tables): corrupted inputs, clean targets.
    pub fn with_noise(mut self, noise: NoiseStack, seed: u64) -> Self {
        self.noise = noise;
        self.seed = seed;
        self
    }

    /// The network input for the images at `indices`: the clean batch, or a corrupted copy.
    fn input(
        &mut self,
        images: &Images,
        indices: &[usize],
        clean: &Tensor<4>,
        training: bool,
    ) -> Tensor<4> {
        let noise = NoisyInput {
            noise: &self.noise,
            seed: self.seed,
        };
        noise.apply(&mut self.step, images, indices, clean, training)
    }
}

/// Seeded input corruption, shared by the objectives: training batches draw fresh noise at each
/// step, evaluation batches the same noise every time (so losses compare across epochs).
pub(crate) struct NoisyInput<'a> {
    pub noise: &'a NoiseStack,
    pub seed: u64,
}

impl NoisyInput<'_> {
    /// `clean` (the batch `images[indices]`) corrupted; `step` counts training batches.
    pub fn apply(
        &self,
        step: &mut u64,
        images: &Images,
        indices: &[usize],
        clean: &Tensor<4>,
        training: bool,
    ) -> Tensor<4> {
        if self.noise.is_empty() {
            return clean.clone();
        }
        let mut pixels = images_to_pixels(images, indices);
        let seed = if training {
            *step += 1;
            mix(self.seed, *step)
        } else {
            mix(
                self.seed ^ 0x5eed_e7a1,
                indices.first().copied().unwrap_or(0) as u64,
            )
        };
        self.noise.apply(&mut pixels, seed);
        Tensor::from_data(
            TensorData::new(pixels, [indices.len(), 1, 28, 28]),
            &clean.device(),
        )
    }
}

/// Two numbers into one well-spread seed (splitmix64's finaliser).
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A batch as [`Reconstruction`] reads it: the network's input (corrupted or not) and the clean
/// target.
pub struct ReconstructionBatch {
    pub input: Tensor<4>,
    pub clean: Tensor<4>,
}

impl Objective for Reconstruction {
    type Model = Autoencoder;
    type Batch = ReconstructionBatch;

    fn batch(
        &mut self,
        images: &Images,
        indices: &[usize],
        device: &Device,
        training: bool,
    ) -> ReconstructionBatch {
        let clean = images_to_tensor(images, indices, device);
        let input = self.input(images, indices, &clean, training);
        ReconstructionBatch { input, clean }
    }

    fn batch_loss(&self, model: &Autoencoder, batch: ReconstructionBatch) -> Tensor<1> {
        let ReconstructionBatch { mut input, clean } = batch;
        let mut total: Option<Tensor<1>> = None;
        for _ in 0..self.iterations.max(1) {
            let logits = model.forward_logits(input);
            let loss = reconstruction_loss(self.loss, logits.clone(), clean.clone());
            total = Some(match total {
                Some(t) => t + loss,
                None => loss,
            });
            input = sigmoid(logits);
        }
        total.expect("at least one reconstruction") / self.iterations.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::PIXELS;
    use crate::model::{Activation, ModelSpec};

    /// One model and batch per test (weights are random: tests running in parallel share the
    /// backend's generator, so each test builds its model once and compares on it).
    struct Fixture {
        model: Autoencoder,
        images: Images,
        device: Device,
    }

    impl Fixture {
        fn new() -> Self {
            let device = Device::flex();
            // tanh: an untrained ReLU net can be dead, its output the same for every input.
            let mut arch = ModelSpec::basic().arch;
            arch.activation = Activation::Tanh;
            let model = Autoencoder::new(&arch, &device).unwrap();
            let pixels = (0..8 * PIXELS).map(|i| ((i * 37) % 256) as u8).collect();
            let images = Images::new(pixels, vec![0; 8]);
            Self {
                model,
                images,
                device,
            }
        }

        fn value(&self, objective: &mut Reconstruction, training: bool) -> f32 {
            let indices: Vec<usize> = (0..8).collect();
            objective
                .loss(&self.model, &self.images, &indices, &self.device, training)
                .into_scalar()
        }
    }

    #[test]
    fn one_iteration_is_the_plain_loss_and_more_differ() {
        let f = Fixture::new();
        let mut plain = Reconstruction::plain(LossKind::Bce);
        let mut spec = ModelSpec::basic().train;
        spec.loss = LossKind::Bce;
        let one = f.value(&mut Reconstruction::for_spec(&spec, 9), true);
        assert_eq!(one, f.value(&mut plain, true));
        spec.iterations = 3;
        let three = f.value(&mut Reconstruction::for_spec(&spec, 9), true);
        // By hand: each reconstruction is fed back, and the loss is the mean of the three.
        let indices: Vec<usize> = (0..8).collect();
        let clean = images_to_tensor(&f.images, &indices, &f.device);
        let mut x = clean.clone();
        let mut sum = 0.0f32;
        for _ in 0..3 {
            let logits = f.model.forward_logits(x);
            sum += reconstruction_loss(LossKind::Bce, logits.clone(), clean.clone())
                .into_scalar::<f32>();
            x = sigmoid(logits);
        }
        assert!((three - sum / 3.0).abs() < 1e-6, "{three} vs {}", sum / 3.0);
    }

    #[test]
    fn noise_is_fresh_in_training_and_fixed_in_evaluation() {
        let f = Fixture::new();
        let noise: NoiseStack = "urn:0.7,snp:0.1".parse().unwrap();
        let mut objective = Reconstruction::plain(LossKind::Mse).with_noise(noise.clone(), 1);
        let eval_loss = f.value(&mut objective, false);
        assert_eq!(
            eval_loss,
            f.value(&mut objective, false),
            "evaluation noise repeats"
        );
        // That noise changes the input, and that training draws new noise each step, are
        // compared on the corrupted inputs themselves: an untrained net can give two different
        // inputs the same loss (CI saw it twice, for training and for evaluation noise).
        let noisy = NoisyInput {
            noise: &noise,
            seed: 1,
        };
        let indices: Vec<usize> = (0..8).collect();
        let clean = images_to_tensor(&f.images, &indices, &f.device);
        let mut step = 0;
        let mut draw = |training| {
            noisy
                .apply(&mut step, &f.images, &indices, &clean, training)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let (eval_a, eval_b) = (draw(false), draw(false));
        let (train_a, train_b) = (draw(true), draw(true));
        assert_eq!(eval_a, eval_b, "evaluation noise repeats");
        // The objective's evaluation loss is the loss of that corrupted input.
        let corrupted =
            Tensor::<1>::from_floats(eval_a.as_slice(), &f.device).reshape([8, 1, 28, 28]);
        let by_hand = reconstruction_loss(
            LossKind::Mse,
            f.model.forward_logits(corrupted),
            clean.clone(),
        )
        .into_scalar::<f32>();
        assert!(
            (eval_loss - by_hand).abs() < 1e-6,
            "{eval_loss} vs {by_hand}"
        );
        let clean: Vec<f32> = clean.into_data().try_into_vec().unwrap();
        assert_ne!(eval_a, clean, "noise changes the input");
        assert_ne!(train_a, train_b, "training draws new noise each step");
    }
}
