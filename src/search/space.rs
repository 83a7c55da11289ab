//! The study's hyperparameter search space (its section 2.2), written once as define-by-run
//! code over a [`Suggest`]er, so optuna (natively, through `python/search.py`), a seeded random
//! sampler (tests) and the page's TPE all draw from the same space.
//!
//! Ranges, with j the layer's number counted from 1 (the study's `best` has 17 channels in its
//! third convolution, which only a 1-based j allows):
//! - 2-4 convolutions, layer j with 4..=4*2^j channels, kernel 2..=6, stride 1..=4, padding
//!   0..=kernel/2;
//! - 1-3 hidden linear layers, layer j with 8..=512/2^j units; encoder dropout 0-0.7;
//!   latent 1..=16;
//! - learning rate 1e-5..1e-1 and weight decay 1e-7..1e-1 (both log-uniform), batch 64..=512,
//!   patience 4..=16;
//! - `prune_every` 0..=10 (0: never) and, when pruning, the four amounts 0-0.5.
//!
//! A drawn net whose shapes do not work out (a kernel larger than its feature map, a stride
//! that shrinks it to nothing) is [`Candidate::Invalid`]: rejected by shape inference before
//! any training, as the study's pruned trials were.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    Activation, ArchSpec, ConvSpec, LossKind, ModelSpec, PruneReading, PruneScope, PruneSpec,
    SpecError, TrainSpec,
};

/// Where a parameter's value comes from: optuna over a pipe, a TPE, a random stream, a record.
pub trait Suggest {
    /// A whole number in `low..=high` (log-uniform prior when `log`).
    fn int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64, String>;
    /// A real number in `[low, high]` (log-uniform prior when `log`).
    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64, String>;
}

/// A drawn point of the space.
#[derive(Debug)]
pub enum Candidate {
    /// A net that can be built and trained.
    Valid(ModelSpec),
    /// A net shape inference rejects, with the reason.
    Invalid(ModelSpec, SpecError),
}

/// The settings of a search that are not searched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSettings {
    /// Most epochs per fold (early stopping with the drawn patience usually ends a fold first).
    pub epochs: usize,
}

/// Draws one point of the study's space from `s`.
pub fn draw(s: &mut impl Suggest, settings: &SearchSettings) -> Result<Candidate, String> {
    let n_conv = s.int("conv_layers", 2, 4, false)? as usize;
    let mut conv = Vec::with_capacity(n_conv);
    for j in 1..=n_conv {
        let channels = s.int(&format!("conv{j}_channels"), 4, 4 << j, false)? as usize;
        let kernel = s.int(&format!("conv{j}_kernel"), 2, 6, false)? as usize;
        let stride = s.int(&format!("conv{j}_stride"), 1, 4, false)? as usize;
        let padding = s.int(&format!("conv{j}_padding"), 0, kernel as i64 / 2, false)? as usize;
        conv.push(ConvSpec {
            channels,
            kernel,
            stride,
            padding,
        });
    }
    let n_hidden = s.int("hidden_layers", 1, 3, false)? as usize;
    let mut hidden = Vec::with_capacity(n_hidden);
    for j in 1..=n_hidden {
        hidden.push(s.int(&format!("hidden{j}_units"), 8, 512 >> j, false)? as usize);
    }
    let dropout = s.float("dropout", 0.0, 0.7, false)?;
    let latent = s.int("latent", 1, 16, false)? as usize;
    let lr = s.float("lr", 1e-5, 1e-1, true)?;
    let weight_decay = s.float("weight_decay", 1e-7, 1e-1, true)?;
    let batch_size = s.int("batch_size", 64, 512, false)? as usize;
    let patience = s.int("patience", 4, 16, false)? as usize;
    let every = s.int("prune_every", 0, 10, false)? as usize;
    let pruning = if every == 0 {
        None
    } else {
        let mut amount = |name: &str| s.float(name, 0.0, 0.5, false);
        Some(PruneSpec {
            every,
            encoder_linear: amount("prune_encoder_linear")?,
            encoder_conv: amount("prune_encoder_conv")?,
            decoder_linear: amount("prune_decoder_linear")?,
            decoder_conv: amount("prune_decoder_conv")?,
            reading: PruneReading::Remaining,
            scope: PruneScope::Layer,
            until: None,
        })
    };
    let spec = ModelSpec {
        name: "search".into(),
        arch: ArchSpec {
            conv,
            hidden,
            latent,
            encoder_dropout: dropout,
            // The study found dropout helped only in the encoder.
            decoder_dropout: 0.0,
            activation: Activation::Relu,
        },
        train: TrainSpec {
            loss: LossKind::Bce,
            lr,
            lr_decay: None,
            weight_decay,
            batch_size,
            epochs: settings.epochs,
            patience: Some(patience),
            iterations: 1,
            noise: Default::default(),
            pruning,
        },
    };
    Ok(match spec.validate() {
        Ok(_) => Candidate::Valid(spec),
        Err(e) => Candidate::Invalid(spec, e),
    })
}

/// The study's objective: mean validation loss, plus 1e-5 x mean training minutes per fold, plus
/// 1e-2 x the latent size (smaller codes are worth a little loss).
pub fn objective(mean_val_loss: f64, mean_minutes: f64, latent: usize) -> f64 {
    mean_val_loss + 1e-5 * mean_minutes + 1e-2 * latent as f64
}

/// The means over the folds a trial ran (`minutes`: their total training time): validation
/// loss and minutes per fold, what [`objective`] takes.
pub fn fold_means(losses: &[f64], minutes: f64) -> (f64, f64) {
    let n = losses.len() as f64;
    (losses.iter().sum::<f64>() / n, minutes / n)
}

/// Replays recorded values (a trial's parameters), e.g. to rebuild the spec of optuna's best
/// trial. A parameter it lacks is an error that names it.
pub struct Recorded(pub BTreeMap<String, f64>);

impl Recorded {
    fn get(&self, name: &str) -> Result<f64, String> {
        self.0
            .get(name)
            .copied()
            .ok_or_else(|| format!("the parameters lack {name:?}"))
    }
}

impl Suggest for Recorded {
    fn int(&mut self, name: &str, low: i64, high: i64, _log: bool) -> Result<i64, String> {
        let v = self.get(name)?;
        if v.fract() != 0.0 || !(low as f64..=high as f64).contains(&v) {
            return Err(format!(
                "{name} = {v} is not a whole number in {low}..={high}"
            ));
        }
        Ok(v as i64)
    }

    fn float(&mut self, name: &str, low: f64, high: f64, _log: bool) -> Result<f64, String> {
        let v = self.get(name)?;
        if !(low..=high).contains(&v) {
            return Err(format!("{name} = {v} is outside [{low}, {high}]"));
        }
        Ok(v)
    }
}
