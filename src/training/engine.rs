//! The training engine (the study's Evolver): an async loop that any front end can drive.
//!
//! It is async so the browser can yield to its event loop and read tensors back with the `_async`
//! reads WebGPU requires; natively it is driven by `pollster::block_on`. Losses are accumulated
//! on the device and read back only every `read_every` batches and at the end of each epoch, so a
//! GPU is not stalled after every step.

use burn::optim::{AdamConfig, GradientsParams, decay::WeightDecayConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::data::{BatchOrder, Images};
use crate::model::TrainSpec;

/// The settings of one `fit`, from a [`TrainSpec`] plus the seed and the read-back cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSettings {
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: Option<usize>,
    /// Seeds the batch order (weights and dropout are seeded through the device).
    pub seed: u64,
    /// Read the running training loss back (and call `on_progress`) every this many batches.
    pub read_every: usize,
}

impl FitSettings {
    pub fn from_spec(train: &TrainSpec, seed: u64) -> Self {
        Self {
            lr: train.lr,
            weight_decay: train.weight_decay,
            batch_size: train.batch_size,
            epochs: train.epochs,
            patience: train.patience,
            seed,
            read_every: 10,
        }
    }
}

/// What is being learned: how a batch of images becomes a loss for a model.
pub trait Objective {
    type Model: Module;
    /// Mean loss of `model` on `images[indices]`, as a one-element tensor on `device`.
    /// `training` is true in the optimisation pass (where input noise is drawn) and false when
    /// validating or testing.
    fn loss(
        &mut self,
        model: &Self::Model,
        images: &Images,
        indices: &[usize],
        device: &Device,
        training: bool,
    ) -> Tensor<1>;
}

/// Whether the loop goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// Where an epoch stands, reported every `read_every` batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// 1-based epoch.
    pub epoch: usize,
    pub epochs: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    pub batches: usize,
    /// Mean training loss of this epoch so far.
    pub train_loss: f64,
    /// Training throughput of this epoch so far.
    pub images_per_s: f64,
}

/// One finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    /// Wall time of the epoch (training and validation).
    pub seconds: f64,
    /// Training images per second (optimisation pass only).
    pub train_images_per_s: f64,
}

/// Callbacks at batch and epoch boundaries: progress bars, charts, pruning.
#[allow(async_fn_in_trait)] // futures in wasm are not Send; the loop is driven on one thread
pub trait Hooks<M> {
    /// After every optimiser step; may transform the model (pruning re-applies its masks here).
    fn after_step(&mut self, model: M) -> M {
        model
    }
    /// Every `read_every` batches, with the loss just read back.
    async fn on_progress(&mut self, _progress: &Progress) -> Control {
        Control::Continue
    }
    /// After an epoch's optimisation pass, before validation; may transform the model (pruning
    /// happens here, so the validation loss and the early-stopping checkpoint see its result).
    async fn before_validation(&mut self, model: M, _epoch: usize) -> M {
        model
    }
    /// After each epoch's validation, with the model as validated (e.g. to draw reconstructions).
    async fn on_epoch(&mut self, _model: &M, _record: &EpochRecord) -> Control {
        Control::Continue
    }
}

/// Hooks that do nothing.
pub struct NoHooks;
impl<M> Hooks<M> for NoHooks {}

/// Why training ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum StopReason {
    /// Every epoch ran.
    Completed,
    /// The validation loss stopped improving for `patience` epochs.
    EarlyStopped { best_epoch: usize },
    /// A hook asked to stop.
    Cancelled,
    /// The loss became NaN or infinite; the model returned is the best one before that.
    Diverged {
        epoch: usize,
        batch: usize,
        loss: f64,
    },
}

/// The result of a `fit`.
#[derive(Debug)]
pub struct FitOutcome<M> {
    /// The trained model: the best epoch's weights when early stopping is on (or after a
    /// divergence), otherwise the last.
    pub model: M,
    pub history: Vec<EpochRecord>,
    /// 1-based epoch whose weights `model` holds (0: the initial weights).
    pub model_epoch: usize,
    pub stop: StopReason,
}

impl<M> FitOutcome<M> {
    /// The validation loss of the returned weights, if any epoch finished before them.
    pub fn val_loss(&self) -> Option<f64> {
        self.history
            .iter()
            .find(|r| r.epoch == self.model_epoch)
            .map(|r| r.val_loss)
    }

    /// A readable error when training diverged.
    pub fn divergence(&self) -> Option<String> {
        match self.stop {
            StopReason::Diverged { epoch, batch, loss } => Some(format!(
                "training diverged: the loss became {loss} at epoch {epoch}, batch {batch}; lower the learning rate (the weights of epoch {} were kept)",
                self.model_epoch
            )),
            _ => None,
        }
    }
}

/// Reads a one-element tensor back, whatever the backend (WebGPU only allows async reads).
pub async fn read_scalar(t: Tensor<1>) -> f64 {
    let data = t
        .into_data_async()
        .await
        .expect("reading a loss back from the device");
    data.iter::<f64>().next().expect("a one-element tensor")
}

/// Mean loss of `model` (already in validation mode) over all of `images`.
pub async fn evaluate<O: Objective>(
    objective: &mut O,
    model: &O::Model,
    images: &Images,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let mut sum: Option<Tensor<1>> = None;
    for indices in BatchOrder::sequential(images.len(), batch_size) {
        let loss = objective.loss(model, images, &indices, device, false) * indices.len() as f64;
        sum = Some(match sum {
            Some(s) => s + loss,
            None => loss,
        });
    }
    match sum {
        Some(s) => read_scalar(s).await / images.len() as f64,
        None => f64::NAN,
    }
}

/// Trains `model` on `train`, validating on `val` after every epoch.
///
/// `device` is the autodiff device the model lives on; validation runs on its inner device with
/// `model.valid()` (dropout off, no graph).
pub async fn fit<O, H>(
    model: O::Model,
    objective: &mut O,
    train: &Images,
    val: &Images,
    settings: &FitSettings,
    device: &Device,
    hooks: &mut H,
) -> FitOutcome<O::Model>
where
    O: Objective,
    H: Hooks<O::Model>,
{
    let device = device.clone().autodiff();
    let plain = device.clone().inner();
    let mut optim = AdamConfig::new()
        .with_weight_decay(
            (settings.weight_decay > 0.0)
                .then(|| WeightDecayConfig::new(settings.weight_decay as f32)),
        )
        .init();
    let mut order = BatchOrder::new(train.len(), settings.batch_size, settings.seed);
    let read_every = settings.read_every.max(1);

    let initial = model.clone();
    let mut model = model;
    let mut best: Option<(f64, usize, O::Model)> = None;
    let mut history = Vec::new();
    let mut stop = StopReason::Completed;

    'epochs: for epoch in 1..=settings.epochs {
        let started = Instant::now();
        let batches = order.epoch();
        let n_batches = batches.len();
        // Sum of (batch loss x batch size) since the last read, kept on the device.
        let mut pending: Option<Tensor<1>> = None;
        let (mut loss_sum, mut seen, mut pending_seen) = (0.0f64, 0usize, 0usize);

        for (b, indices) in batches.iter().enumerate() {
            let loss = objective.loss(&model, train, indices, &device, true);
            let weighted = loss.clone().detach() * indices.len() as f64;
            pending = Some(match pending {
                Some(p) => p + weighted,
                None => weighted,
            });
            pending_seen += indices.len();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(settings.lr, model, grads);
            model = hooks.after_step(model);

            if (b + 1) % read_every == 0 || b + 1 == n_batches {
                let sum = read_scalar(pending.take().expect("accumulated above").inner()).await;
                if !sum.is_finite() {
                    stop = StopReason::Diverged {
                        epoch,
                        batch: b + 1,
                        loss: sum / pending_seen as f64,
                    };
                    break 'epochs;
                }
                loss_sum += sum;
                seen += pending_seen;
                pending_seen = 0;
                let progress = Progress {
                    epoch,
                    epochs: settings.epochs,
                    batch: b + 1,
                    batches: n_batches,
                    train_loss: loss_sum / seen as f64,
                    images_per_s: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                };
                if hooks.on_progress(&progress).await == Control::Stop {
                    stop = StopReason::Cancelled;
                    break 'epochs;
                }
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();

        model = hooks.before_validation(model, epoch).await;
        let val_loss = evaluate(objective, &model.valid(), val, settings.batch_size, &plain).await;
        if !val_loss.is_finite() {
            stop = StopReason::Diverged {
                epoch,
                batch: n_batches,
                loss: val_loss,
            };
            break;
        }
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen as f64,
            val_loss,
            seconds: started.elapsed().as_secs_f64(),
            train_images_per_s: seen as f64 / train_seconds.max(1e-9),
        };
        history.push(record.clone());

        if best.as_ref().is_none_or(|(loss, _, _)| val_loss < *loss) {
            best = Some((val_loss, epoch, model.clone()));
        }
        if hooks.on_epoch(&model, &record).await == Control::Stop {
            stop = StopReason::Cancelled;
            break;
        }
        if let (Some(patience), Some((_, best_epoch, _))) = (settings.patience, &best)
            && epoch - best_epoch >= patience
        {
            stop = StopReason::EarlyStopped {
                best_epoch: *best_epoch,
            };
            break;
        }
    }

    // Early stopping (and a divergence) hand back the best weights; a plain run keeps the last.
    let restore_best = settings.patience.is_some() || matches!(stop, StopReason::Diverged { .. });
    let last_epoch = history.last().map_or(0, |r| r.epoch);
    let (model, model_epoch) = match best {
        Some((_, epoch, best_model)) if restore_best => (best_model, epoch),
        None if restore_best => (initial, 0),
        _ => (model, last_epoch),
    };
    FitOutcome {
        model,
        history,
        model_epoch,
        stop,
    }
}
