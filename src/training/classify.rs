//! What a classifier learns: the digit of each image, under cross-entropy.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::engine::Objective;
use super::objective::NoisyInput;
use crate::data::{Images, NoiseStack, images_to_tensor};
use crate::model::Classifier;

/// Mean cross-entropy of `logits` ([batch, classes]) against the class indices `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch] = labels.dims();
    let picked = log_softmax(logits, 1).gather(1, labels.reshape([batch, 1]));
    picked.mean().neg()
}

/// The labels of `images[indices]` as an int tensor.
pub fn labels_to_tensor(images: &Images, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| images.labels()[i] as i64).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// Classify digits (the study's supervised fine-tuning), optionally with the training images
/// augmented by seeded corruption (e.g. small rotations); validation and test images stay clean.
#[derive(Clone, Debug, Default)]
pub struct Classification {
    pub augment: NoiseStack,
    pub seed: u64,
    step: u64,
}

impl Classification {
    pub fn new(augment: NoiseStack, seed: u64) -> Self {
        Self {
            augment,
            seed,
            step: 0,
        }
    }
}

impl Objective for Classification {
    type Model = Classifier;
    /// The (augmented) images and their labels.
    type Batch = (Tensor<4>, Tensor<1, Int>);

    fn batch(
        &mut self,
        images: &Images,
        indices: &[usize],
        device: &Device,
        training: bool,
    ) -> Self::Batch {
        let mut x = images_to_tensor(images, indices, device);
        if training {
            let augment = NoisyInput {
                noise: &self.augment,
                seed: self.seed,
            };
            x = augment.apply(&mut self.step, images, indices, &x, true);
        }
        (x, labels_to_tensor(images, indices, device))
    }

    fn batch_loss(&self, model: &Classifier, (x, labels): Self::Batch) -> Tensor<1> {
        cross_entropy(model.forward(x), labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::PIXELS;
    use crate::model::{Activation, ModelSpec};

    #[test]
    fn augmentation_changes_training_batches_only() {
        let device = Device::flex();
        // tanh: an untrained ReLU net can be dead, its output the same for every input.
        let mut arch = ModelSpec::best().arch;
        arch.activation = Activation::Tanh;
        let model = Classifier::new(&arch, &device).unwrap();
        let pixels = (0..8 * PIXELS).map(|i| ((i * 37) % 256) as u8).collect();
        let images = Images::new(pixels, (0..8).collect());
        let indices: Vec<usize> = (0..8).collect();
        let loss = |o: &mut Classification, training| -> f32 {
            o.loss(&model, &images, &indices, &device, training)
                .into_scalar()
        };
        let clean = loss(&mut Classification::default(), false);
        let mut augmented = Classification::new("rot:30".parse().unwrap(), 3);
        assert_eq!(loss(&mut augmented, false), clean, "validation stays clean");
        let (a, b) = (loss(&mut augmented, true), loss(&mut augmented, true));
        assert_ne!(a, clean);
        assert_ne!(a, b, "each training step draws new rotations");
    }

    #[test]
    fn cross_entropy_matches_a_hand_computation() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data([[2.0f32, 0.0, -1.0], [0.5, 0.5, 0.5]], &device);
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2], [2]), &device);
        let got: f32 = cross_entropy(logits, labels).into_scalar();
        let first = -(2.0f32.exp() / (2.0f32.exp() + 1.0 + (-1.0f32).exp())).ln();
        let second = 3.0f32.ln();
        assert!((got - (first + second) / 2.0).abs() < 1e-5, "{got}");
    }
}
