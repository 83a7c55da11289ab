//! The training engine on a small MNIST subset: loss falls, determinism, early stopping restores
//! the best weights (and a run that ranks every epoch keeps its best at the end), a NaN loss stops
//! training with the last good weights.

use burn::module::Module;
use burn::prelude::*;
use latentlab::data::Images;
use latentlab::model::{Autoencoder, ModelSpec};
use latentlab::training::{
    Control, EpochRecord, FitSettings, Hooks, Learner, NoHooks, Objective, Reconstruction,
    StopReason, Supervised, fit, shards,
};

use crate::common::{mnist, rng_exclusive, rng_shared};

fn subset(n: usize) -> (Images, Images) {
    mnist().train.take(n).split(0.2, 1).unwrap()
}

fn weights(model: &Autoencoder) -> Vec<f32> {
    let record = model.valid().encoder.linear[0].weight.val();
    record.into_data().try_to_vec::<f32>().unwrap()
}

fn train(spec: &ModelSpec, epochs: usize, seed: u64, n: usize) -> (Autoencoder, Vec<EpochRecord>) {
    let (train, val) = subset(n);
    let device = Device::flex();
    device.seed(seed);
    let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut settings = FitSettings::from_spec(&spec.train, seed);
    settings.epochs = epochs;
    let mut objective = Reconstruction::for_spec(&spec.train, 0);
    let out = pollster::block_on(fit(
        model,
        &mut objective,
        &train,
        &val,
        &settings,
        &device,
        &mut NoHooks,
    ));
    assert_eq!(out.history.len(), epochs);
    (out.model, out.history)
}

#[test]
fn loss_falls_on_a_small_subset() {
    let _rng = rng_shared();
    let mut spec = ModelSpec::basic();
    spec.train.batch_size = 64;
    let (_, history) = train(&spec, 4, 3, 2000);
    let first = &history[0];
    let last = history.last().unwrap();
    assert!(last.train_loss < first.train_loss * 0.9, "{history:?}");
    assert!(last.val_loss < first.val_loss * 0.9, "{history:?}");
    assert!(
        history
            .iter()
            .all(|r| r.seconds > 0.0 && r.train_images_per_s > 0.0)
    );
}

/// Training in shards follows training in one pass from the same seed: the same initial weights
/// (a fresh model's are drawn on first use, which the shards must not reorder) and the same
/// steps, up to float rounding.
#[test]
fn sharded_steps_follow_one_pass_steps() {
    let _rng = rng_exclusive();
    let device = Device::flex().autodiff();
    let spec = ModelSpec::basic();
    let (images, _) = subset(400);
    let indices: Vec<usize> = (0..256).collect();
    let settings = FitSettings::from_spec(&spec.train, 1);
    let run = |pieces: usize| {
        device.seed(5);
        let mut model = Autoencoder::new(&spec.arch, &device).unwrap();
        let mut optim = latentlab::training::adam(&settings);
        let mut objective = Reconstruction::for_spec(&spec.train, 0);
        let mut losses = Vec::new();
        for _ in 0..4 {
            let (grads, loss) =
                shards::gradients(pieces, &mut objective, &model, &images, &indices, &device);
            losses.push(loss.into_scalar::<f32>());
            model = optim.step(settings.lr, model, grads);
        }
        (losses, weights(&model))
    };
    let (one, one_weights) = run(1);
    for pieces in [2, 3] {
        let (sharded, sharded_weights) = run(pieces);
        for (a, b) in one.iter().zip(&sharded) {
            assert!(
                (a - b).abs() < 1e-5,
                "{pieces} shards: losses {sharded:?} vs {one:?}"
            );
        }
        let change = max_change(&one_weights, &sharded_weights);
        assert!(change < 1e-4, "{pieces} shards: weights differ by {change}");
    }
}

/// A step cut into shards, each running its forward pass with dropout on its own thread: the same
/// seed gives the same gradients whatever order the threads run in.
#[test]
fn dropout_shards_are_reproducible() {
    let _rng = rng_exclusive();
    let device = Device::flex().autodiff();
    let spec = ModelSpec::best();
    assert!(spec.arch.encoder_dropout > 0.0, "best has dropout");
    let (images, _) = subset(200);
    let indices: Vec<usize> = (0..96).collect();
    let run = |seed: u64| {
        device.seed(seed);
        let model = Autoencoder::new(&spec.arch, &device).unwrap();
        let mut objective = Reconstruction::for_spec(&spec.train, 0);
        let (grads, _) = shards::gradients(3, &mut objective, &model, &images, &indices, &device);
        let grad = grads.get::<2>(model.encoder.linear[0].weight.id).unwrap();
        grad.into_data().try_into_vec::<f32>().unwrap()
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let _rng = rng_exclusive();
    let mut spec = ModelSpec::best();
    spec.train.batch_size = 100;
    let (a, ha) = train(&spec, 1, 11, 600);
    let (b, hb) = train(&spec, 1, 11, 600);
    let (c, hc) = train(&spec, 1, 12, 600);
    assert_eq!(ha[0].val_loss, hb[0].val_loss);
    assert_eq!(weights(&a), weights(&b));
    assert_ne!(ha[0].val_loss, hc[0].val_loss);
    assert_ne!(weights(&a), weights(&c));
}

/// Validation losses follow a script (0.5, 0.3, 0.4, 0.45, ...), whatever the weights, so the
/// best epoch is known: 2.
struct ScriptedValidation {
    inner: Reconstruction,
    script: Vec<f32>,
    epoch: usize,
}

impl Objective for ScriptedValidation {
    type Model = Autoencoder;
    /// A training batch, or the scripted score of a validation batch.
    type Batch = Result<<Reconstruction as Objective>::Batch, (f32, Device)>;
    fn batch(&mut self, images: &Images, idx: &[usize], d: &Device, training: bool) -> Self::Batch {
        if training {
            return Ok(self.inner.batch(images, idx, d, true));
        }
        // Validation visits the images in order: its first batch starts the next epoch.
        if idx[0] == 0 {
            self.epoch += 1;
        }
        Err((self.script[self.epoch - 1], d.clone()))
    }
    fn batch_loss(&self, m: &Autoencoder, batch: Self::Batch) -> Tensor<1> {
        match batch {
            Ok(batch) => self.inner.batch_loss(m, batch),
            Err((score, d)) => Tensor::from_floats([score], &d),
        }
    }
}

/// Records the weights each epoch was validated with.
#[derive(Default)]
struct Snapshots(Vec<Vec<f32>>);
impl Hooks<Autoencoder> for Snapshots {
    async fn on_epoch(&mut self, model: &Autoencoder, _r: &EpochRecord) -> Control {
        self.0.push(weights(model));
        Control::Continue
    }
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let _rng = rng_shared();
    let (train, val) = subset(500);
    let device = Device::flex();
    device.seed(1);
    let spec = ModelSpec::basic();
    let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.patience = Some(2);
    settings.epochs = 10;
    let mut objective = ScriptedValidation {
        inner: Reconstruction::for_spec(&spec.train, 0),
        script: vec![0.5, 0.3, 0.4, 0.45, 0.2, 0.1],
        epoch: 0,
    };
    let mut snaps = Snapshots::default();
    let out = pollster::block_on(fit(
        model,
        &mut objective,
        &train,
        &val,
        &settings,
        &device,
        &mut snaps,
    ));
    assert_eq!(out.stop, StopReason::EarlyStopped { best_epoch: 2 });
    assert_eq!(out.history.len(), 4, "epochs 3 and 4 did not improve on 2");
    assert_eq!(out.model_epoch, 2);
    assert!((out.val_loss().unwrap() - 0.3).abs() < 1e-6);
    assert_eq!(weights(&out.model), snaps.0[1], "weights of epoch 2");
    assert_ne!(snaps.0[1], snaps.0[3], "training went on after epoch 2");
}

/// The autoencoder's learner with scripted validation scores, saying (`at_end`) whether a run
/// that completes its epochs hands back its best-scoring weights, as a judged GAN's does.
struct RanksEveryEpoch<'o> {
    inner: Supervised<'o, ScriptedValidation>,
    at_end: bool,
}

impl Learner for RanksEveryEpoch<'_> {
    type Model = Autoencoder;
    fn keeps_best_at_end(&self) -> bool {
        self.at_end
    }
    fn schedule(&mut self, lr_factor: f64) {
        self.inner.schedule(lr_factor);
    }
    fn step(
        &mut self,
        model: Autoencoder,
        images: &Images,
        indices: &[usize],
        device: &Device,
    ) -> (Autoencoder, Tensor<1>) {
        self.inner.step(model, images, indices, device)
    }
    async fn validate(&mut self, m: &Autoencoder, val: &Images, b: usize, d: &Device) -> f64 {
        self.inner.validate(m, val, b, d).await
    }
}

#[test]
fn a_run_that_ranks_every_epoch_keeps_its_best_at_the_end() {
    let _rng = rng_shared();
    let (train_set, val) = subset(500);
    let device = Device::flex();
    let spec = ModelSpec::basic();
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.patience = None;
    settings.epochs = 3;
    for (at_end, kept) in [(true, 2), (false, 3)] {
        device.seed(1);
        let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
        let mut objective = ScriptedValidation {
            inner: Reconstruction::for_spec(&spec.train, 0),
            script: vec![0.5, 0.2, 0.4],
            epoch: 0,
        };
        let mut learner = RanksEveryEpoch {
            inner: Supervised::new(&mut objective, &settings),
            at_end,
        };
        let mut snaps = Snapshots::default();
        let out = pollster::block_on(latentlab::training::train(
            model,
            &mut learner,
            &train_set,
            &val,
            &settings,
            &device,
            &mut snaps,
        ));
        assert_eq!(out.stop, StopReason::Completed);
        assert_eq!(out.model_epoch, kept, "at_end {at_end}");
        assert_eq!(
            weights(&out.model),
            snaps.0[kept - 1],
            "weights of epoch {kept}"
        );
    }
}

/// Turns the loss into NaN from the `at`-th training batch of `batch_size` images on. Counted in
/// images: a step may draw its batch in several shards.
struct Poisoned {
    inner: Reconstruction,
    at: usize,
    batch_size: usize,
    seen: usize,
}

impl Objective for Poisoned {
    type Model = Autoencoder;
    /// The batch, and whether its loss is poisoned.
    type Batch = (<Reconstruction as Objective>::Batch, bool);
    fn batch(&mut self, images: &Images, idx: &[usize], d: &Device, training: bool) -> Self::Batch {
        let mut poisoned = false;
        if training {
            self.seen += idx.len();
            poisoned = self.seen > (self.at - 1) * self.batch_size;
        }
        (self.inner.batch(images, idx, d, training), poisoned)
    }
    fn batch_loss(&self, m: &Autoencoder, (batch, poisoned): Self::Batch) -> Tensor<1> {
        let loss = self.inner.batch_loss(m, batch);
        if poisoned { loss * f32::NAN } else { loss }
    }
}

#[test]
fn nan_loss_stops_with_a_clear_error_and_keeps_good_weights() {
    let _rng = rng_shared();
    let (train, val) = subset(1000);
    let device = Device::flex();
    device.seed(2);
    let mut spec = ModelSpec::basic();
    spec.train.batch_size = 100; // 8 batches per epoch
    let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.epochs = 5;
    settings.read_every = 3;
    let mut objective = Poisoned {
        inner: Reconstruction::for_spec(&spec.train, 0),
        at: 12,
        batch_size: 100,
        seen: 0,
    };
    let out = pollster::block_on(fit(
        model,
        &mut objective,
        &train,
        &val,
        &settings,
        &device,
        &mut NoHooks,
    ));
    // Batch 12 is batch 4 of epoch 2; the read after batch 6 sees it.
    assert!(
        matches!(
            out.stop,
            StopReason::Diverged {
                epoch: 2,
                batch: 6,
                ..
            }
        ),
        "{:?}",
        out.stop
    );
    assert_eq!(out.model_epoch, 1);
    let message = out.divergence().unwrap();
    assert!(
        message.contains("NaN") && message.contains("epoch 2"),
        "{message}"
    );
    assert!(weights(&out.model).iter().all(|w| w.is_finite()));
}

/// Stops after the first progress report.
struct StopEarly;
impl Hooks<Autoencoder> for StopEarly {
    async fn on_progress(&mut self, _p: &latentlab::training::Progress) -> Control {
        Control::Stop
    }
}

#[test]
fn a_hook_can_cancel() {
    let _rng = rng_shared();
    let (train, val) = subset(1000);
    let device = Device::flex();
    let spec = ModelSpec::basic();
    let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut settings = FitSettings::from_spec(&spec.train, 1);
    settings.batch_size = 50;
    settings.read_every = 2;
    let mut objective = Reconstruction::for_spec(&spec.train, 0);
    let out = pollster::block_on(fit(
        model,
        &mut objective,
        &train,
        &val,
        &settings,
        &device,
        &mut StopEarly,
    ));
    assert_eq!(out.stop, StopReason::Cancelled);
    assert!(out.history.is_empty());
}

/// Largest absolute difference between two weight vectors.
fn max_change(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_learning_rate_decays_per_epoch() {
    let _rng = rng_shared();
    // With a decay of 1e-6 the second epoch trains at lr x 1e-6: Adam's steps (about lr each)
    // then barely move the weights, while at a constant rate they move as much as in epoch 1.
    let run = |decay: Option<f64>| {
        let mut spec = ModelSpec::basic();
        spec.train.batch_size = 64;
        spec.train.patience = None;
        spec.train.lr_decay = decay;
        let (train, val) = subset(640);
        let device = Device::flex();
        device.seed(4);
        let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
        let mut settings = FitSettings::from_spec(&spec.train, 4);
        settings.epochs = 2;
        let mut snapshots = Snapshots::default();
        pollster::block_on(fit(
            model,
            &mut Reconstruction::for_spec(&spec.train, 0),
            &train,
            &val,
            &settings,
            &device,
            &mut snapshots,
        ));
        max_change(&snapshots.0[0], &snapshots.0[1])
    };
    let constant = run(None);
    let decayed = run(Some(1e-6));
    assert!(
        constant > 1e-4,
        "epoch 2 at a constant rate moved weights by {constant}"
    );
    assert!(
        decayed < 1e-6,
        "epoch 2 at lr x 1e-6 moved weights by {decayed}"
    );
}
