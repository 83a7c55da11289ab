//! Reconstruction losses, computed from decoder logits for numerical stability.

use burn::prelude::*;

use crate::kernels::{bce_logits, sigmoid};
use crate::model::LossKind;

/// Mean reconstruction loss over every pixel of the batch: `logits` are the decoder's pre-sigmoid
/// outputs, `target` the images in [0, 1]. Returns a one-element tensor.
///
/// BCE uses the logits form `max(z, 0) - z t + log(1 + exp(-|z|))`, which equals
/// `-(t log σ(z) + (1 - t) log(1 - σ(z)))` without overflowing for large |z|: one kernel on flex,
/// with its gradient `σ(z) - t` from the same pass (`kernels::bce_logits`).
pub fn reconstruction_loss<const D: usize>(
    kind: LossKind,
    logits: Tensor<D>,
    target: Tensor<D>,
) -> Tensor<1> {
    match kind {
        LossKind::Mse => (sigmoid(logits) - target).square().mean(),
        LossKind::Bce => bce_logits(logits, target).mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_probability_forms() {
        let d = Device::flex();
        let z = [-30.0f32, -2.0, -0.1, 0.0, 0.7, 3.0, 25.0];
        let t = [0.0f32, 0.3, 1.0, 0.5, 0.0, 1.0, 0.9];
        let logits = Tensor::<1>::from_floats(z, &d);
        let target = Tensor::<1>::from_floats(t, &d);
        let bce: f32 =
            reconstruction_loss(LossKind::Bce, logits.clone(), target.clone()).into_scalar();
        let mse: f32 = reconstruction_loss(LossKind::Mse, logits, target).into_scalar();
        let (mut want_bce, mut want_mse) = (0.0f64, 0.0f64);
        for (&z, &t) in z.iter().zip(&t) {
            let (z, t) = (z as f64, t as f64);
            // log σ(z) and log(1-σ(z)) computed stably in f64.
            let log_p = -(1.0 + (-z).exp()).ln();
            let log_1mp = -(1.0 + z.exp()).ln();
            want_bce -= t * log_p + (1.0 - t) * log_1mp;
            let p = 1.0 / (1.0 + (-z).exp());
            want_mse += (p - t) * (p - t);
        }
        let n = z.len() as f64;
        assert!(
            (bce as f64 - want_bce / n).abs() < 1e-5,
            "{bce} vs {}",
            want_bce / n
        );
        assert!((mse as f64 - want_mse / n).abs() < 1e-6);
    }
}
