//! Magnitude pruning with persistent masks: the study's pruning, as engine hooks.
//!
//! Reading of the schedule (documented because the study leaves it open): the amounts are *per
//! layer* and *of the weights still left*: every `every` epochs each conv/linear weight matrix
//! loses that fraction of its remaining weights, those of smallest magnitude. Biases are not
//! pruned. A pruned weight is held at zero by a mask re-applied after every optimiser step.
//! The mask is saved with the model implicitly: pruned weights are exactly zero in the file,
//! and a run that continues from it (`train --from`) rebuilds the masks from those zeros.
//!
//! Thresholds are found on the host from weights read back asynchronously, so the same code
//! runs on WebGPU, where synchronous reads are not available.

use burn::module::Param;
use burn::prelude::*;
use serde::Serialize;

use super::engine::{Control, EpochRecord, Hooks, Progress};
use crate::model::{Autoencoder, PruneSpec};

/// The fraction of one layer's weights that are zero.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerSparsity {
    pub layer: String,
    pub weights: usize,
    pub zero_fraction: f64,
}

/// Every prunable weight matrix of `model`, flattened, with its name and pruning amount, in a
/// fixed order: encoder convs, encoder linears, decoder linears, decoder convs.
fn layers(model: &Autoencoder, spec: Option<&PruneSpec>) -> Vec<(String, f64, Tensor<1>)> {
    let amount = |f: fn(&PruneSpec) -> f64| spec.map_or(0.0, f);
    let mut out = Vec::new();
    for (i, c) in model.encoder.conv.iter().enumerate() {
        out.push((
            format!("encoder.conv{}", i + 1),
            amount(|p| p.encoder_conv),
            flat(c.weight.val()),
        ));
    }
    for (i, l) in model.encoder.linear.iter().enumerate() {
        out.push((
            format!("encoder.linear{}", i + 1),
            amount(|p| p.encoder_linear),
            flat(l.weight.val()),
        ));
    }
    for (i, l) in model.decoder.linear.iter().enumerate() {
        out.push((
            format!("decoder.linear{}", i + 1),
            amount(|p| p.decoder_linear),
            flat(l.weight.val()),
        ));
    }
    for (i, c) in model.decoder.conv.iter().enumerate() {
        out.push((
            format!("decoder.conv{}", i + 1),
            amount(|p| p.decoder_conv),
            flat(c.weight.val()),
        ));
    }
    out
}

fn flat<const D: usize>(w: Tensor<D>) -> Tensor<1> {
    let n = w.shape().num_elements();
    w.reshape([n])
}

/// Multiplies a weight by its mask, keeping the parameter (id, gradient tracking) as it was.
fn masked<const D: usize>(param: Param<Tensor<D>>, mask: &Tensor<1>) -> Param<Tensor<D>> {
    param.map(|w| {
        let dims = w.dims();
        let mask = mask.clone().reshape(dims);
        if w.is_require_grad() {
            // Masked outside the graph, then a fresh leaf the optimiser keeps updating.
            Tensor::from_inner(w.inner() * mask.inner()).require_grad()
        } else {
            w * mask
        }
    })
}

/// Applies `masks` (in the order of [`layers`]) to the weights of `model`.
fn apply(mut model: Autoencoder, masks: &[Tensor<1>]) -> Autoencoder {
    let mut next = masks.iter();
    for c in model.encoder.conv.iter_mut() {
        c.weight = masked(c.weight.clone(), next.next().expect("a mask per layer"));
    }
    for l in model.encoder.linear.iter_mut() {
        l.weight = masked(l.weight.clone(), next.next().expect("a mask per layer"));
    }
    for l in model.decoder.linear.iter_mut() {
        l.weight = masked(l.weight.clone(), next.next().expect("a mask per layer"));
    }
    for c in model.decoder.conv.iter_mut() {
        c.weight = masked(c.weight.clone(), next.next().expect("a mask per layer"));
    }
    model
}

async fn read(t: Tensor<1>) -> Vec<f32> {
    t.into_data_async()
        .await
        .expect("reading weights back")
        .try_into_vec::<f32>()
        .expect("f32 weights")
}

/// The sparsity of every prunable layer of `model`.
pub async fn sparsity(model: &Autoencoder) -> Vec<LayerSparsity> {
    let mut out = Vec::new();
    for (layer, _, w) in layers(model, None) {
        let values = read(w).await;
        let zero = values.iter().filter(|v| **v == 0.0).count();
        out.push(LayerSparsity {
            layer,
            weights: values.len(),
            zero_fraction: zero as f64 / values.len() as f64,
        });
    }
    out
}

/// Engine hooks that prune on schedule and keep pruned weights at zero, around other hooks
/// (progress bars, the page) that they pass everything on to.
pub struct Pruning<H> {
    spec: Option<PruneSpec>,
    inner: H,
    /// Host-side keep masks (1 keep, 0 pruned), one per layer, once a prune step has run.
    keep: Vec<Vec<f32>>,
    /// The same masks on the model's device.
    masks: Vec<Tensor<1>>,
}

impl<H> Pruning<H> {
    pub fn new(spec: Option<PruneSpec>, inner: H) -> Self {
        Self {
            spec,
            inner,
            keep: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// Prunes every layer by its group's amount of its remaining weights.
    pub async fn prune(&mut self, model: Autoencoder) -> Autoencoder {
        let spec = self.spec.clone();
        let layers = layers(&model, spec.as_ref());
        let first = self.keep.is_empty();
        let mut keep = Vec::with_capacity(layers.len());
        let mut masks = Vec::with_capacity(layers.len());
        for (i, (_, amount, w)) in layers.into_iter().enumerate() {
            let device = w.device();
            let values = read(w).await;
            // The first time, weights that are already exactly zero (a model pruned before)
            // count as pruned: that is how masks survive a save and load.
            let mut mask: Vec<f32> = if first {
                values
                    .iter()
                    .map(|v| if *v == 0.0 { 0.0 } else { 1.0 })
                    .collect()
            } else {
                self.keep[i].clone()
            };
            let mut alive: Vec<usize> = (0..values.len()).filter(|&j| mask[j] == 1.0).collect();
            let k = (amount * alive.len() as f64).floor() as usize;
            alive.sort_by(|&a, &b| values[a].abs().total_cmp(&values[b].abs()));
            for &j in &alive[..k] {
                mask[j] = 0.0;
            }
            masks.push(Tensor::<1>::from_data(
                TensorData::new(mask.clone(), [mask.len()]),
                &device,
            ));
            keep.push(mask);
        }
        self.keep = keep;
        self.masks = masks;
        apply(model, &self.masks)
    }
}

impl<H: Hooks<Autoencoder>> Hooks<Autoencoder> for Pruning<H> {
    fn after_step(&mut self, model: Autoencoder) -> Autoencoder {
        let model = if self.masks.is_empty() {
            model
        } else {
            apply(model, &self.masks)
        };
        self.inner.after_step(model)
    }

    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.inner.on_progress(progress).await
    }

    async fn before_validation(&mut self, model: Autoencoder, epoch: usize) -> Autoencoder {
        let due = self
            .spec
            .as_ref()
            .is_some_and(|p| epoch.is_multiple_of(p.every));
        let model = if due { self.prune(model).await } else { model };
        self.inner.before_validation(model, epoch).await
    }

    async fn on_epoch(&mut self, model: &Autoencoder, record: &EpochRecord) -> Control {
        self.inner.on_epoch(model, record).await
    }
}
