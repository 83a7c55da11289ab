//! What a classifier learns: the digit of each image, under cross-entropy.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::engine::Objective;
use crate::data::{Images, images_to_tensor};
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

/// Classify digits (the study's supervised fine-tuning).
#[derive(Clone, Copy, Debug, Default)]
pub struct Classification;

impl Objective for Classification {
    type Model = Classifier;

    fn loss(
        &mut self,
        model: &Classifier,
        images: &Images,
        indices: &[usize],
        device: &Device,
        _training: bool,
    ) -> Tensor<1> {
        let x = images_to_tensor(images, indices, device);
        cross_entropy(model.forward(x), labels_to_tensor(images, indices, device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
