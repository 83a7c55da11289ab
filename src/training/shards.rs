//! Data-parallel training steps on the CPU: a batch cut into shards, one per thread, each shard's
//! forward and backward pass on its own copy of the model, the gradients summed.
//!
//! Why: on flex, the convolutions and matrix products are parallel over the batch
//! (`kernels/flex.rs`), but every element-wise op (activations, biases, the loss, their
//! gradients) and the autodiff bookkeeping run on the calling thread. A second core added 0-9%
//! to `basic`'s training; two shards keep both cores on the whole step.
//!
//! How: each shard's model is a [`Module::fork`] (same parameter ids, its own autodiff leaves),
//! so the shards' graphs share no node and their backward passes do not wait on one another
//! (burn locks a graph while it runs backward, and graphs that share a node are merged). Shard
//! `i`'s loss is weighted by its share `n_i / n` of the batch, so the summed gradients are those
//! of the whole batch's mean loss, up to float rounding. What is random stays reproducible: the
//! objective draws each shard's batch (noise, augmentation) in shard order on the calling thread,
//! and each shard's dropout masks come from a stream of its own, seeded from the backend's
//! generator in shard order (`model/dropout.rs`). So a seeded run repeats for a given number of
//! threads; on another number of threads its floats round differently and its masks differ.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;

use super::engine::Objective;
use crate::data::Images;
use crate::model::dropout::with_masks_from;
use crate::parallel::{batch_ranges, run_each_on_own_thread};

/// The gradients of `objective`'s mean training loss of `model` on `images[indices]`, and that
/// loss (detached), with the batch cut into at most `pieces` shards run at once (one pass for one
/// piece or a small batch). `device` is the autodiff device; the engine asks for
/// [`cpu_pieces`](crate::parallel::cpu_pieces): one shard per thread on the CPU, one on a GPU.
pub fn gradients<O: Objective>(
    pieces: usize,
    objective: &mut O,
    model: &O::Model,
    images: &Images,
    indices: &[usize],
    device: &Device,
) -> (GradientsParams, Tensor<1>) {
    let ranges = batch_ranges(indices.len(), pieces);
    if ranges.len() == 1 {
        let loss = objective.loss(model, images, indices, device, true);
        let reported = loss.clone().detach();
        return (
            GradientsParams::from_grads(loss.backward(), model),
            reported,
        );
    }

    let n = indices.len() as f64;
    // The forks first: a fresh model's parameters are initialised (drawn from the backend's
    // generator) on first use, here, so they are drawn before the mask seeds, as in one pass.
    let forks: Vec<O::Model> = ranges.iter().map(|_| model.clone().fork(device)).collect();
    let shards: Vec<_> = ranges
        .into_iter()
        .zip(forks)
        .map(|(range, fork)| {
            let share = range.len() as f64 / n;
            let batch = objective.batch(images, &indices[range], device, true);
            (fork, batch, share)
        })
        .collect();

    let objective = &*objective;
    let results = run_shards(shards, device, |(fork, batch, share)| {
        let loss = objective.batch_loss(&fork, batch) * share;
        let reported = loss.clone().detach();
        (
            GradientsParams::from_grads(loss.backward(), &fork),
            reported,
        )
    });
    sum_shards(model, results)
}

/// `work(shard)` for every shard: on the calling thread for one; for more, at once, each on its
/// own thread with its own dropout-mask stream (seeded from the backend's generator in shard
/// order, so a seeded run repeats). The results in shard order.
pub fn run_shards<T: Send, R: Send>(
    shards: Vec<T>,
    device: &Device,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    if shards.len() == 1 {
        return shards.into_iter().map(work).collect();
    }
    let seeds = mask_seeds(shards.len(), device);
    let seeded = shards.into_iter().zip(seeds).collect();
    run_each_on_own_thread(seeded, |_, (shard, seed)| {
        with_masks_from(seed, || work(shard))
    })
}

/// The shards' gradients (each of its share of the batch's mean loss) summed for `model`, and
/// their reported losses summed: the whole batch's. Summed in shard order, so the result does not
/// depend on which thread finished first.
pub fn sum_shards<M: Module>(
    model: &M,
    results: Vec<(GradientsParams, Tensor<1>)>,
) -> (GradientsParams, Tensor<1>) {
    let mut results = results.into_iter();
    let (first, mut total) = results.next().expect("at least one shard");
    if results.len() == 0 {
        return (first, total);
    }
    let mut sum = GradientsAccumulator::new();
    sum.accumulate(model, first);
    for (grads, reported) in results {
        sum.accumulate(model, grads);
        total = total + reported;
    }
    (sum.grads(), total)
}

/// One dropout-mask seed per shard, drawn from the backend's generator (so they follow the run's
/// seed) on the calling thread, in shard order.
fn mask_seeds(shards: usize, device: &Device) -> Vec<u64> {
    let plain = device.clone().inner();
    let draws = Tensor::<1>::random([2 * shards], Distribution::Uniform(0.0, 1.0), &plain);
    let draws = draws.into_data().try_into_vec::<f32>().expect("f32 draws");
    // Two 24-bit draws per seed.
    let bits = |u: f32| ((u * (1 << 24) as f32) as u64).min((1 << 24) - 1);
    draws
        .chunks_exact(2)
        .map(|pair| bits(pair[0]) << 24 | bits(pair[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::mnist::PIXELS;
    use crate::model::{Activation, Autoencoder, Classifier, ModelSpec};
    use crate::training::{Classification, Reconstruction};
    use burn::module::{ModuleVisitor, Param};

    /// Every parameter's gradient (in visiting order), flattened; None where it has none.
    struct Flatten<'g>(&'g GradientsParams, Vec<Option<Vec<f32>>>);
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let grad = self.0.get::<D>(param.id);
            self.1
                .push(grad.map(|g| g.into_data().try_into_vec::<f32>().unwrap()));
        }
    }

    fn flat<M: Module>(model: &M, grads: &GradientsParams) -> Vec<Option<Vec<f32>>> {
        let mut visitor = Flatten(grads, Vec::new());
        model.visit(&mut visitor);
        visitor.1
    }

    /// The largest difference between two gradient sets, relative to the largest gradient.
    fn max_rel_diff(a: &[Option<Vec<f32>>], b: &[Option<Vec<f32>>]) -> f32 {
        assert_eq!(a.len(), b.len());
        let (mut diff, mut scale) = (0.0f32, 0.0f32);
        for (a, b) in a.iter().zip(b) {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            for (x, y) in a.iter().zip(b) {
                diff = diff.max((x - y).abs());
                scale = scale.max(x.abs());
            }
        }
        assert!(scale > 0.0, "the gradients are not all zero");
        diff / scale
    }

    /// `n` synthetic digits (a fixed pattern, labels 0-9).
    fn images(n: usize) -> Images {
        let pixels = (0..n * PIXELS)
            .map(|i| ((i * 37 + i / 91) % 256) as u8)
            .collect();
        Images::new(pixels, (0..n).map(|i| (i % 10) as u8).collect())
    }

    #[test]
    fn shards_give_the_whole_batch_gradients() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let mut arch = ModelSpec::basic().arch;
        arch.activation = Activation::Tanh;
        let model = Autoencoder::new(&arch, &device).unwrap();
        let images = images(101);
        let indices: Vec<usize> = (0..101).rev().collect();
        // Clean inputs: with noise, each shard would draw its own.
        for kind in [crate::model::LossKind::Bce, crate::model::LossKind::Mse] {
            let mut objective = Reconstruction::plain(kind);
            let (whole, loss) = gradients(1, &mut objective, &model, &images, &indices, &device);
            let whole = flat(&model, &whole);
            for pieces in [2, 3] {
                let (sharded, sharded_loss) =
                    gradients(pieces, &mut objective, &model, &images, &indices, &device);
                let diff = max_rel_diff(&whole, &flat(&model, &sharded));
                assert!(diff < 1e-5, "{pieces} shards: gradients differ by {diff}");
                let (a, b) = (
                    loss.clone().into_scalar::<f32>(),
                    sharded_loss.into_scalar::<f32>(),
                );
                assert!((a - b).abs() < 1e-6, "{pieces} shards: loss {b} vs {a}");
            }
        }
    }

    #[test]
    fn a_frozen_layer_gets_no_gradient_in_shards_either() {
        let device = Device::flex().autodiff();
        let mut arch = ModelSpec::basic().arch;
        arch.activation = Activation::Tanh;
        let encoder = Autoencoder::new(&arch, &device).unwrap();
        let model = Classifier::from_pretrained(
            encoder,
            arch.latent,
            crate::model::Unfreeze::Latent,
            &device,
        );
        let images = images(64);
        let indices: Vec<usize> = (0..64).collect();
        let mut objective = Classification::default();
        let (whole, _) = gradients(1, &mut objective, &model, &images, &indices, &device);
        let (sharded, _) = gradients(2, &mut objective, &model, &images, &indices, &device);
        let (whole, sharded) = (flat(&model, &whole), flat(&model, &sharded));
        let learning = |g: &[Option<Vec<f32>>]| g.iter().map(Option::is_some).collect::<Vec<_>>();
        assert_eq!(learning(&whole), learning(&sharded));
        assert!(learning(&whole).contains(&false), "some layers are frozen");
        let only = |g: Vec<Option<Vec<f32>>>| g.into_iter().flatten().map(Some).collect::<Vec<_>>();
        let diff = max_rel_diff(&only(whole), &only(sharded));
        assert!(diff < 1e-5, "gradients differ by {diff}");
    }
}
