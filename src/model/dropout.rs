//! Dropout whose masks can come from a seeded stream of the calling thread.
//!
//! Why: burn's `Dropout` draws its masks from the backend's one generator. The shards of a
//! data-parallel training step (`training/shards.rs`) run their forward passes on several threads
//! at once, and draws from one shared generator would then depend on which thread got there
//! first: a seeded run would not repeat. So a shard draws one seed from the backend's generator
//! (in shard order, on the calling thread) and runs its forward pass inside [`with_masks_from`],
//! where [`apply`] draws each mask from a stream seeded by it. Outside it (one pass per batch,
//! GPUs) [`apply`] is burn's. The layer modules stay burn's, so model files are
//! unchanged.

use std::cell::RefCell;

use burn::nn::Dropout;
use burn::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

thread_local! {
    /// The mask stream of the forward pass running on this thread, if it has its own.
    static MASKS: RefCell<Option<ChaCha8Rng>> = const { RefCell::new(None) };
}

/// Runs `f` with the dropout masks it draws on this thread taken from a stream seeded by `seed`.
pub fn with_masks_from<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    /// Puts the thread's previous stream back when dropped, also if `f` panics (a pool thread
    /// lives on and must not keep a finished pass's stream).
    struct Restore(Option<ChaCha8Rng>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            MASKS.with(|m| *m.borrow_mut() = previous);
        }
    }
    let _restore = Restore(MASKS.with(|m| m.replace(Some(ChaCha8Rng::seed_from_u64(seed)))));
    f()
}

/// `layer.forward(x)`, with the mask from this thread's stream inside [`with_masks_from`].
pub fn apply<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    // The same conditions as burn's `Dropout::forward` for when it drops nothing.
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - layer.prob;
    let mask = MASKS.with(|m| {
        m.borrow_mut().as_mut().map(|rng| {
            let n = x.shape().num_elements();
            let scale = (1.0 / keep) as f32;
            let mask: Vec<f32> = (0..n)
                .map(|_| {
                    if rng.random::<f64>() < keep {
                        scale
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::<D>::from_data(TensorData::new(mask, x.shape()), &x.device())
        })
    });
    match mask {
        Some(mask) => x * mask,
        None => layer.forward(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;

    fn draw(layer: &Dropout, seed: u64) -> Vec<f32> {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::ones([4, 64], &device);
        with_masks_from(seed, || apply(layer, x))
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn a_seeded_stream_gives_the_same_mask_and_keeps_the_scale() {
        let layer = DropoutConfig::new(0.25).init();
        let (a, b, c) = (draw(&layer, 7), draw(&layer, 7), draw(&layer, 8));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Kept units are scaled by 1 / (1 - p); about a quarter are dropped.
        assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        let dropped = a.iter().filter(|&&v| v == 0.0).count();
        assert!((32..=96).contains(&dropped), "{dropped} of 256 dropped");
    }

    #[test]
    fn the_stream_ends_with_its_pass_even_after_a_panic() {
        let layer = DropoutConfig::new(0.5).init();
        let panicked = std::panic::catch_unwind(|| with_masks_from(1, || panic!("in the pass")));
        assert!(panicked.is_err());
        assert!(
            MASKS.with(|m| m.borrow().is_none()),
            "no stream left behind"
        );
        // Nested: the outer stream is back after the inner pass.
        let outer = with_masks_from(7, || {
            with_masks_from(9, || ());
            MASKS.with(|m| m.borrow().is_some())
        });
        assert!(outer);
        assert_eq!(draw(&layer, 7), draw(&layer, 7));
    }

    #[test]
    fn without_autodiff_or_probability_nothing_is_dropped() {
        let x = Tensor::<2>::ones([2, 8], &Device::flex());
        let layer = DropoutConfig::new(0.5).init();
        let out = with_masks_from(1, || apply(&layer, x.clone()));
        assert_eq!(out.into_data(), x.into_data());
        let none = DropoutConfig::new(0.0).init();
        assert_eq!(draw(&none, 3), vec![1.0; 256]);
    }
}
