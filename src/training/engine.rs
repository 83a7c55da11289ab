//! The training engine (the study's Evolver): an async loop that any front end can drive.
//!
//! The loop ([`train`]) is the same for every kind of run; what a batch does is a [`Learner`]'s
//! business: [`Supervised`] is one model, one Adam and one [`Objective`] (autoencoders,
//! classifiers), `training/adversarial.rs` two nets with two optimisers (GANs). Progress,
//! hooks, pause/stop, the NaN stop, early stopping and the read-back cadence live here once.
//!
//! It is async so the browser can yield to its event loop and read tensors back with the `_async`
//! reads WebGPU requires; natively it is driven by `pollster::block_on`. Losses are accumulated
//! on the device and read back only every `read_every` batches and at the end of each epoch, so a
//! GPU is not stalled after every step.

use burn::optim::{AdamConfig, ModuleOptimizer, decay::WeightDecayConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use super::shards;
use crate::data::{BatchOrder, Images};
use crate::model::{GanSpec, TrainSpec};
use crate::parallel;

/// The settings of one `fit`, from a [`TrainSpec`] plus the seed and the read-back cadence.
#[derive(Clone, Debug, PartialEq)]
pub struct FitSettings {
    pub lr: f64,
    /// The learning rate(s) are multiplied by this after every epoch (1: constant).
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: Option<usize>,
    /// Seeds the batch order (weights and dropout are seeded through the device).
    pub seed: u64,
    /// Read the running training loss back (and call `on_progress`) every this many batches.
    pub read_every: usize,
    /// A time budget for the whole run: once spent, the epoch in progress ends early, is
    /// validated, and the run stops with the best weights so far.
    pub max_seconds: Option<f64>,
}

impl FitSettings {
    pub fn from_spec(train: &TrainSpec, seed: u64) -> Self {
        Self {
            lr: train.lr,
            lr_decay: train.lr_decay.unwrap_or(1.0),
            weight_decay: train.weight_decay,
            batch_size: train.batch_size,
            epochs: train.epochs,
            patience: train.patience,
            seed,
            read_every: 10,
            max_seconds: None,
        }
    }

    /// The loop's settings for a GAN: its batch size and epochs; no early stopping (only a
    /// judge's score ranks generators, and the best-judged one is kept, at the time budget or
    /// after the last epoch). The learning rates live in the GAN's own optimisers
    /// (`training/adversarial.rs`).
    pub fn for_gan(spec: &GanSpec, seed: u64) -> Self {
        Self {
            lr: spec.train.lr_g,
            lr_decay: spec.train.lr_decay.unwrap_or(1.0),
            weight_decay: 0.0,
            batch_size: spec.train.batch_size,
            epochs: spec.train.epochs,
            patience: None,
            seed,
            read_every: 10,
            max_seconds: None,
        }
    }
}

/// What is being learned: how a batch of images becomes a loss for a model.
///
/// A loss is computed in two parts so that a training step can split its batch into shards that
/// run at once on the CPU's threads (`training/shards.rs`): [`Objective::batch`] draws whatever is
/// random about the batch (input noise, augmentation) in call order, on one thread, so a seeded
/// run stays reproducible; [`Objective::batch_loss`] is the forward pass, run for several shards
/// at once (its dropout masks come from each shard's own stream: `model/dropout.rs`).
pub trait Objective: Sync {
    type Model: Module;
    /// A batch as the loss reads it (input and target tensors), on the device.
    type Batch: Send;
    /// The batch `images[indices]` on `device`. `training` is true in the optimisation pass
    /// (where input noise is drawn) and false when validating or testing.
    fn batch(
        &mut self,
        images: &Images,
        indices: &[usize],
        device: &Device,
        training: bool,
    ) -> Self::Batch;
    /// Mean loss of `model` on `batch`, as a one-element tensor on the batch's device.
    fn batch_loss(&self, model: &Self::Model, batch: Self::Batch) -> Tensor<1>;
    /// Mean loss of `model` on `images[indices]`: [`Objective::batch`], then
    /// [`Objective::batch_loss`].
    fn loss(
        &mut self,
        model: &Self::Model,
        images: &Images,
        indices: &[usize],
        device: &Device,
        training: bool,
    ) -> Tensor<1> {
        let batch = self.batch(images, indices, device, training);
        self.batch_loss(model, batch)
    }
}

/// What one training step does and how a model is scored: the part of a run that differs
/// between kinds of training. [`train`] drives any learner through the same loop.
#[allow(async_fn_in_trait)] // futures in wasm are not Send; the loop is driven on one thread
pub trait Learner {
    type Model: Module;
    /// Names of the losses [`Learner::step`] reports, in order. The first is the run's
    /// `train_loss`; every one is checked for NaN.
    fn loss_names(&self) -> &'static [&'static str] {
        &["loss"]
    }
    /// Whether a lower validation score means a better model, so that early stopping, a
    /// divergence or the time budget hand back the best-scoring weights (true), or the score
    /// is only a reading and the last weights are kept (false).
    fn keeps_best(&self) -> bool {
        true
    }
    /// Whether a run that completes all its epochs also hands back the best-scoring weights,
    /// not the last (with `keeps_best`). True for a judged GAN: its last epoch is no better than
    /// any other (validation Fréchet 40.1 at epoch 21, 48.4 at the last, 30, of one `gan` run),
    /// while a plain autoencoder run without early stopping means "train exactly this long".
    fn keeps_best_at_end(&self) -> bool {
        false
    }
    /// Hears the mean losses of each read-back window (e.g. to balance two nets' updates).
    fn observe(&mut self, _window_means: &[f64]) {}
    /// The model an epoch ends with, as validated, shown to the hooks and kept: the one training,
    /// or one derived from it (a GAN's generator averaged over its steps).
    fn kept(&self, model: &Self::Model) -> Self::Model {
        model.clone()
    }
    /// Before each epoch: the factor (the settings' `lr_decay` to the power of the epochs done)
    /// the learner scales its base learning rate(s) by.
    fn schedule(&mut self, lr_factor: f64);
    /// One optimisation step on the batch `images[indices]` (`device`: the autodiff device).
    /// Returns the updated model and the batch's mean losses, detached, as a tensor with one
    /// element per name in [`Learner::loss_names`].
    fn step(
        &mut self,
        model: Self::Model,
        images: &Images,
        indices: &[usize],
        device: &Device,
    ) -> (Self::Model, Tensor<1>);
    /// The score early stopping minimises (lower is better) of `model`, already in validation
    /// mode, on `val`; `device` is the plain (inner) device.
    async fn validate(
        &mut self,
        model: &Self::Model,
        val: &Images,
        batch_size: usize,
        device: &Device,
    ) -> f64;
}

/// Adam (with the settings' weight decay) as every single-model run uses it.
pub fn adam(settings: &FitSettings) -> ModuleOptimizer {
    AdamConfig::new()
        .with_weight_decay(
            (settings.weight_decay > 0.0)
                .then(|| WeightDecayConfig::new(settings.weight_decay as f32)),
        )
        .init()
}

/// One model, one Adam, one objective: autoencoders and classifiers.
pub struct Supervised<'o, O> {
    pub objective: &'o mut O,
    optim: ModuleOptimizer,
    base_lr: f64,
    lr: f64,
}

impl<'o, O: Objective> Supervised<'o, O> {
    pub fn new(objective: &'o mut O, settings: &FitSettings) -> Self {
        Self {
            objective,
            optim: adam(settings),
            base_lr: settings.lr,
            lr: settings.lr,
        }
    }
}

impl<O: Objective> Learner for Supervised<'_, O> {
    type Model = O::Model;

    fn schedule(&mut self, lr_factor: f64) {
        self.lr = self.base_lr * lr_factor;
    }

    fn step(
        &mut self,
        model: O::Model,
        images: &Images,
        indices: &[usize],
        device: &Device,
    ) -> (O::Model, Tensor<1>) {
        let pieces = parallel::cpu_pieces(device);
        let (grads, reported) =
            shards::gradients(pieces, self.objective, &model, images, indices, device);
        (self.optim.step(self.lr, model, grads), reported)
    }

    async fn validate(
        &mut self,
        model: &O::Model,
        val: &Images,
        batch_size: usize,
        device: &Device,
    ) -> f64 {
        evaluate(self.objective, model, val, batch_size, device).await
    }
}

/// One loss of a run that reports several (e.g. a GAN's `d` and `g`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedLoss {
    pub name: String,
    pub value: f64,
}

/// `values` under `names`, or nothing for a single-loss run (its `train_loss` says it all).
fn named(names: &[&str], values: &[f64]) -> Vec<NamedLoss> {
    if names.len() < 2 {
        return Vec::new();
    }
    names
        .iter()
        .zip(values)
        .map(|(name, &value)| NamedLoss {
            name: name.to_string(),
            value,
        })
        .collect()
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
    /// Every loss of a multi-loss run (GANs), means of this epoch so far; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<NamedLoss>,
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
    /// Every training loss of a multi-loss run (GANs), epoch means; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<NamedLoss>,
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
    /// The time budget (`max_seconds`) was spent; the best epoch's weights were kept.
    OutOfTime { best_epoch: usize },
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

/// Reads a small tensor back as f64s, whatever the backend.
pub async fn read_values(t: Tensor<1>) -> Vec<f64> {
    let data = t
        .into_data_async()
        .await
        .expect("reading losses back from the device");
    data.iter::<f64>().collect()
}

/// Mean loss of `model` (already in validation mode) over all of `images`. On the CPU, as many
/// batches as there are threads run at once (without autodiff they share nothing).
pub async fn evaluate<O: Objective>(
    objective: &mut O,
    model: &O::Model,
    images: &Images,
    batch_size: usize,
    device: &Device,
) -> f64 {
    let mut sum: Option<Tensor<1>> = None;
    let batches = BatchOrder::sequential(images.len(), batch_size);
    for group in batches.chunks(parallel::cpu_pieces(device)) {
        let jobs: Vec<_> = group
            .iter()
            .map(|indices| {
                let batch = objective.batch(images, indices, device, false);
                (model.clone(), batch, indices.len() as f64)
            })
            .collect();
        let objective = &*objective;
        let losses = parallel::run_all(jobs, |_, (model, batch, n)| {
            objective.batch_loss(&model, batch) * n
        });
        for loss in losses {
            sum = Some(match sum {
                Some(s) => s + loss,
                None => loss,
            });
        }
    }
    match sum {
        Some(s) => read_scalar(s).await / images.len() as f64,
        None => f64::NAN,
    }
}

/// Trains `model` on `train` under `objective` with Adam, validating on `val` after every epoch.
///
/// `device` is the autodiff device the model lives on; validation runs on its inner device with
/// `model.valid()` (dropout off, no graph).
pub async fn fit<O, H>(
    model: O::Model,
    objective: &mut O,
    train_set: &Images,
    val: &Images,
    settings: &FitSettings,
    device: &Device,
    hooks: &mut H,
) -> FitOutcome<O::Model>
where
    O: Objective,
    H: Hooks<O::Model>,
{
    let mut learner = Supervised::new(objective, settings);
    train(model, &mut learner, train_set, val, settings, device, hooks).await
}

/// The loop: epochs of `learner` steps over `train_set` in the seeded batch order, progress every
/// `read_every` batches, validation, early stopping and the NaN stop, with `hooks` at every
/// boundary. `device` is the autodiff device the model lives on.
pub async fn train<L, H>(
    model: L::Model,
    learner: &mut L,
    train_set: &Images,
    val: &Images,
    settings: &FitSettings,
    device: &Device,
    hooks: &mut H,
) -> FitOutcome<L::Model>
where
    L: Learner,
    H: Hooks<L::Model>,
{
    let device = device.clone().autodiff();
    let plain = device.clone().inner();
    let names = learner.loss_names();
    let mut order = BatchOrder::new(train_set.len(), settings.batch_size, settings.seed);
    let read_every = settings.read_every.max(1);

    let run_started = Instant::now();
    let out_of_time = || {
        settings
            .max_seconds
            .is_some_and(|limit| run_started.elapsed().as_secs_f64() >= limit)
    };
    let mut time_up = false;
    let initial = model.clone();
    let mut model = model;
    let mut best: Option<(f64, usize, L::Model)> = None;
    let mut history = Vec::new();
    let mut stop = StopReason::Completed;

    'epochs: for epoch in 1..=settings.epochs {
        learner.schedule(settings.lr_decay.powi(epoch as i32 - 1));
        let started = Instant::now();
        let batches = order.epoch();
        let n_batches = batches.len();
        // Sums of (batch loss x batch size) since the last read, kept on the device.
        let mut pending: Option<Tensor<1>> = None;
        let mut loss_sums = vec![0.0f64; names.len()];
        let (mut seen, mut pending_seen) = (0usize, 0usize);
        let means = |sums: &[f64], seen: usize| -> Vec<f64> {
            sums.iter().map(|s| s / seen.max(1) as f64).collect()
        };

        for (b, indices) in batches.iter().enumerate() {
            let (next, losses) = learner.step(model, train_set, indices, &device);
            model = hooks.after_step(next);
            let weighted = losses * indices.len() as f64;
            pending = Some(match pending {
                Some(p) => p + weighted,
                None => weighted,
            });
            pending_seen += indices.len();

            time_up = out_of_time();
            if (b + 1) % read_every == 0 || b + 1 == n_batches || time_up {
                let sums = read_values(pending.take().expect("accumulated above").inner()).await;
                if let Some(bad) = sums.iter().find(|s| !s.is_finite()) {
                    stop = StopReason::Diverged {
                        epoch,
                        batch: b + 1,
                        loss: bad / pending_seen as f64,
                    };
                    break 'epochs;
                }
                let window: Vec<f64> = sums.iter().map(|s| s / pending_seen as f64).collect();
                learner.observe(&window);
                for (total, s) in loss_sums.iter_mut().zip(&sums) {
                    *total += s;
                }
                seen += pending_seen;
                pending_seen = 0;
                let mean = means(&loss_sums, seen);
                let progress = Progress {
                    epoch,
                    epochs: settings.epochs,
                    batch: b + 1,
                    batches: n_batches,
                    train_loss: mean[0],
                    images_per_s: seen as f64 / started.elapsed().as_secs_f64().max(1e-9),
                    losses: named(names, &mean),
                };
                if hooks.on_progress(&progress).await == Control::Stop {
                    stop = StopReason::Cancelled;
                    break 'epochs;
                }
                if time_up {
                    break; // validate what this epoch reached, then stop
                }
            }
        }
        let train_seconds = started.elapsed().as_secs_f64();

        model = hooks.before_validation(model, epoch).await;
        let kept = learner.kept(&model);
        let val_loss = learner
            .validate(&kept.valid(), val, settings.batch_size, &plain)
            .await;
        if !val_loss.is_finite() {
            stop = StopReason::Diverged {
                epoch,
                batch: n_batches,
                loss: val_loss,
            };
            break;
        }
        let mean = means(&loss_sums, seen);
        let record = EpochRecord {
            epoch,
            train_loss: mean[0],
            val_loss,
            seconds: started.elapsed().as_secs_f64(),
            train_images_per_s: seen as f64 / train_seconds.max(1e-9),
            losses: named(names, &mean),
        };
        history.push(record.clone());

        if best.as_ref().is_none_or(|(loss, _, _)| val_loss < *loss) {
            best = Some((val_loss, epoch, kept.clone()));
        }
        if hooks.on_epoch(&kept, &record).await == Control::Stop {
            stop = StopReason::Cancelled;
            break;
        }
        if time_up || out_of_time() {
            stop = StopReason::OutOfTime {
                best_epoch: best.as_ref().map_or(0, |(_, e, _)| *e),
            };
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

    // Early stopping (and a divergence) hand back the best weights; a plain run keeps the last,
    // unless the learner says its score ranks every epoch (`keeps_best_at_end`).
    let restore_best = learner.keeps_best()
        && (settings.patience.is_some()
            || learner.keeps_best_at_end()
            || matches!(
                stop,
                StopReason::Diverged { .. } | StopReason::OutOfTime { .. }
            ));
    let last_epoch = history.last().map_or(0, |r| r.epoch);
    let (model, model_epoch) = match best {
        Some((_, epoch, best_model)) if restore_best => (best_model, epoch),
        None if restore_best => (initial, 0),
        _ => (learner.kept(&model), last_epoch),
    };
    FitOutcome {
        model,
        history,
        model_epoch,
        stop,
    }
}
