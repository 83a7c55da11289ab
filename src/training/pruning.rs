//! Magnitude pruning with persistent masks: the study's pruning, as engine hooks.
//!
//! The study leaves open what its amounts mean, so the spec says ([`PruneSpec`]): of the weights
//! still left or a target sparsity (`reading`), ranked per layer or across a group of layers
//! (`scope`), for the whole run or up to an epoch (`until`). The literal reading (remaining,
//! per layer, throughout) is the default; README's "Pruning" section has the numbers that
//! compared them. Biases are not pruned. A pruned weight is held at zero by a mask re-applied
//! after every optimiser step.
//! The mask is saved with the model implicitly: pruned weights are exactly zero in the file,
//! and a run that continues from it (`train --from`) rebuilds the masks from those zeros.
//!
//! Thresholds are found on the host from weights read back asynchronously, so the same code
//! runs on WebGPU, where synchronous reads are not available.

use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::engine::{Control, EpochRecord, Hooks, Progress};
use crate::model::{Autoencoder, PruneReading, PruneScope, PruneSpec};

/// The fraction of one layer's weights that are zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSparsity {
    pub layer: String,
    pub weights: usize,
    pub zero_fraction: f64,
}

/// One prunable weight matrix, flattened.
struct Layer {
    name: String,
    /// 0 encoder convs, 1 encoder linears, 2 decoder linears, 3 decoder convs.
    group: usize,
    amount: f64,
    weights: Tensor<1>,
}

/// The fraction of all prunable weights that are zero, over `layers`.
pub fn overall_sparsity(layers: &[LayerSparsity]) -> f64 {
    let (zero, all) = layers.iter().fold((0.0, 0usize), |(z, n), l| {
        (z + l.zero_fraction * l.weights as f64, n + l.weights)
    });
    zero / all.max(1) as f64
}

/// Every prunable weight matrix of `model` with its pruning amount, in a fixed order: encoder
/// convs, encoder linears, decoder linears, decoder convs.
fn layers(model: &Autoencoder, spec: Option<&PruneSpec>) -> Vec<Layer> {
    let amount = |f: fn(&PruneSpec) -> f64| spec.map_or(0.0, f);
    let mut out = Vec::new();
    for (i, c) in model.encoder.conv.iter().enumerate() {
        out.push(Layer {
            name: format!("encoder.conv{}", i + 1),
            group: 0,
            amount: amount(|p| p.encoder_conv),
            weights: flat(c.weight.val()),
        });
    }
    for (i, l) in model.encoder.linear.iter().enumerate() {
        out.push(Layer {
            name: format!("encoder.linear{}", i + 1),
            group: 1,
            amount: amount(|p| p.encoder_linear),
            weights: flat(l.weight.val()),
        });
    }
    for (i, l) in model.decoder.linear.iter().enumerate() {
        out.push(Layer {
            name: format!("decoder.linear{}", i + 1),
            group: 2,
            amount: amount(|p| p.decoder_linear),
            weights: flat(l.weight.val()),
        });
    }
    for (i, c) in model.decoder.conv.iter().enumerate() {
        out.push(Layer {
            name: format!("decoder.conv{}", i + 1),
            group: 3,
            amount: amount(|p| p.decoder_conv),
            weights: flat(c.weight.val()),
        });
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
    for Layer { name, weights, .. } in layers(model, None) {
        let values = read(weights).await;
        let zero = values.iter().filter(|v| **v == 0.0).count();
        out.push(LayerSparsity {
            layer: name,
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

    /// One prune step: every ranking unit (a layer, or a group of layers) loses its amount.
    pub async fn prune(&mut self, model: Autoencoder) -> Autoencoder {
        let spec = self.spec.clone().unwrap_or_else(PruneSpec::study);
        let layers = layers(&model, Some(&spec));
        let first = self.keep.is_empty();
        let mut values = Vec::with_capacity(layers.len());
        let mut devices = Vec::with_capacity(layers.len());
        for layer in &layers {
            devices.push(layer.weights.device());
            values.push(read(layer.weights.clone()).await);
        }
        // The first time, weights that are already exactly zero (a model pruned before) count
        // as pruned: that is how masks survive a save and load.
        let mut keep: Vec<Vec<f32>> = if first {
            values
                .iter()
                .map(|v| {
                    v.iter()
                        .map(|x| if *x == 0.0 { 0.0 } else { 1.0 })
                        .collect()
                })
                .collect()
        } else {
            self.keep.clone()
        };
        // The ranking units: each layer alone, or all layers of a group together.
        let units: Vec<Vec<usize>> = match spec.scope {
            PruneScope::Layer => (0..layers.len()).map(|i| vec![i]).collect(),
            PruneScope::Group => (0..4)
                .map(|g| {
                    (0..layers.len())
                        .filter(|&i| layers[i].group == g)
                        .collect()
                })
                .filter(|u: &Vec<usize>| !u.is_empty())
                .collect(),
        };
        for unit in units {
            let amount = layers[unit[0]].amount;
            // (layer, index) of every weight of the unit still alive.
            let mut alive: Vec<(usize, usize)> = unit
                .iter()
                .flat_map(|&l| (0..keep[l].len()).map(move |j| (l, j)))
                .filter(|&(l, j)| keep[l][j] == 1.0)
                .collect();
            let total: usize = unit.iter().map(|&l| keep[l].len()).sum();
            let k = match spec.reading {
                PruneReading::Remaining => (amount * alive.len() as f64).floor() as usize,
                PruneReading::Target => {
                    let target = (amount * total as f64).floor() as usize;
                    target.saturating_sub(total - alive.len())
                }
            };
            alive.sort_by(|&(la, a), &(lb, b)| values[la][a].abs().total_cmp(&values[lb][b].abs()));
            for &(l, j) in &alive[..k.min(alive.len())] {
                keep[l][j] = 0.0;
            }
        }
        self.masks = keep
            .iter()
            .zip(&devices)
            .map(|(mask, device)| {
                Tensor::<1>::from_data(TensorData::new(mask.clone(), [mask.len()]), device)
            })
            .collect();
        self.keep = keep;
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
        let due = self.spec.as_ref().is_some_and(|p| p.due(epoch));
        let model = if due { self.prune(model).await } else { model };
        self.inner.before_validation(model, epoch).await
    }

    async fn on_epoch(&mut self, model: &Autoencoder, record: &EpochRecord) -> Control {
        self.inner.on_epoch(model, record).await
    }
}
