//! Adversarial training: a generator and a discriminator, two optimisers, one [`Learner`] that
//! the engine's loop drives like any other (progress, hooks, stop, NaN stop, read-back).
//!
//! Per batch, the discriminator learns on every `u_d`-th batch and the generator on every
//! `u_g`-th (the study's update periods). With `balance` the periods adapt, as the study's ACGAN
//! did, to keep the two losses close. The rule: at every loss read-back (`read_every` batches),
//! with r = generator loss / discriminator loss over that window, the net whose loss is more than
//! 1.5x the other's learns on every batch and the other one batch in `k` more (k up to 5, one more
//! per window while it stays ahead); within 1.5x both learn on every batch.
//!
//! Losses by kind (logits z; D's real/fake target for real images `real_label`, 0 for fakes):
//! - `gan`: BCE(z_real, 1) + BCE(z_fake, 0); G: BCE(z_fake, 1) (non-saturating).
//! - `wgan`, `wgan-sn`: D: mean D(fake) - mean D(real); G: -mean D(fake). `wgan` clips every
//!   critic weight to [-c, c] after each critic step; `wgan-sn` divides each critic layer's
//!   weight by its spectral norm (largest singular value of the layer as an operator, by power
//!   iteration) when that exceeds 1, which makes the critic 1-Lipschitz (see [`SpectralNorm`]).
//! - `wgan-gp`: the Wasserstein losses, and for the critic WGAN-GP's gradient penalty
//!   λ (‖∇ₓD(x̂)‖ - 1)² at points x̂ between real and fake digits. Its gradient would need the
//!   derivative of an input gradient's norm, which burn's autodiff does not give (`Tensor::grad`
//!   hands back a tensor outside the graph, so there is no second-order term); the norm is
//!   measured instead by a finite difference along the input gradient, whose weight gradient is
//!   the penalty's (see [`gradient_penalty`]).
//! - `acgan-study`: 11 logits [0..9, fake], cross-entropy: reals to their digit, fakes to 10;
//!   G: fakes to the digit they were drawn for.
//! - `acgan`: logit 0 real/fake (as `gan`), logits 1..=10 the digit (cross-entropy for reals,
//!   and for fakes to the digit they were drawn for when `classify_fakes`); G: BCE(z_fake, 1) +
//!   w CE(digit), w = `class_weight`. Without `classify_fakes` the digit head is a classifier of
//!   real digits only, so a fake earns its class by looking like real digits of it, not by
//!   marks the head learnt from earlier fakes.
//!
//! With `average` (`GanTrain::average`) the learner keeps a running average of the generator's
//! weights, updated after each generator step (`training/average.rs`); the engine validates,
//! shows and keeps that average ([`Learner::kept`]), while the live generator goes on training.
//!
//! With the minibatch standard deviation (`GanSpec::minibatch_std`) the discriminator compares
//! how much groups of 4 images vary. For a conditional GAN each real batch is ordered by digit
//! and its fakes are drawn for the same digits in the same order, so a group of fakes holds the
//! same digits as its group of reals: a generator that draws one image per digit shows up.

use burn::module::Param;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::average::Average;
use super::classify::{cross_entropy, labels_to_tensor};
use super::engine::Learner;
use super::loss::reconstruction_loss;
use super::shards::{run_shards, sum_shards};
use crate::data::{Images, images_to_tensor};
use crate::model::gan::{BURST_EVERY, BURST_START};
use crate::model::{
    CLASSES, Discriminator, Gan, GanKind, GanOptimizer, GanSpec, Generator, LossKind, stddev_group,
};
use crate::parallel::{batch_ranges, cpu_pieces};
use crate::quality::{Quality, Reference, judge};

/// Mean binary cross-entropy of `logits` against a constant `target`.
fn bce(logits: Tensor<2>, target: f64) -> Tensor<1> {
    let t = logits.ones_like() * target;
    reconstruction_loss(LossKind::Bce, logits, t)
}

/// `n` x `dim` standard normal numbers from `rng` (Box-Muller), the same stream natively and
/// in wasm, so a seed names the same digits everywhere.
pub fn gaussian(rng: &mut ChaCha8Rng, n: usize, dim: usize) -> Vec<f32> {
    (0..n * dim)
        .map(|_| {
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

/// One noise vector per seed, each from its own stream: a digit is named by its seed, so it
/// can be drawn again or walked to.
pub fn noise_for_seeds(seeds: &[u64], dim: usize) -> Vec<f32> {
    seeds
        .iter()
        .flat_map(|&seed| gaussian(&mut ChaCha8Rng::seed_from_u64(seed), 1, dim))
        .collect()
}

/// Draws noise and classes for the generator, from one seeded stream.
pub struct Sampler {
    pub noise: usize,
    /// The spec's truncation: the scale of the noise of digits drawn to judge.
    truncation: f32,
    /// The spec's candidates per digit drawn to judge, and the kind that rates them.
    rank: usize,
    kind: GanKind,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(spec: &GanSpec, seed: u64) -> Self {
        Self {
            noise: spec.noise,
            truncation: spec.truncation as f32,
            rank: spec.rank,
            kind: spec.kind,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Whether the generator draws digits of given classes.
    pub fn conditional(&self) -> bool {
        self.kind.conditional()
    }

    /// Standard normal noise [n, noise].
    pub fn noise(&mut self, n: usize, device: &Device) -> Tensor<2> {
        let z = gaussian(&mut self.rng, n, self.noise);
        Tensor::from_data(TensorData::new(z, [n, self.noise]), device)
    }

    /// Images in (0, 1) from `gan` for the given digits (conditional generators; None:
    /// unconditional), from fresh noise scaled by the truncation, each the best of the spec's
    /// `rank` candidates by the discriminator ([`Gan::draw`]).
    pub fn generate(
        &mut self,
        gan: &Gan,
        n: usize,
        classes: Option<&[usize]>,
        device: &Device,
    ) -> Tensor<4> {
        let noise = self.noise(n * self.rank, device) * self.truncation;
        let classes = classes.map(|c| classes_to_tensor(c, device));
        gan.draw(self.kind, noise, classes, self.rank)
    }

    /// `n` uniform numbers in [0, 1) [n]: where WGAN-GP's penalty points lie between a real and
    /// a fake digit.
    pub fn uniform(&mut self, n: usize, device: &Device) -> Tensor<1> {
        let u: Vec<f32> = (0..n).map(|_| self.rng.random::<f32>()).collect();
        Tensor::from_data(TensorData::new(u, [n]), device)
    }

    /// Uniform random digits for a conditional generator (None otherwise).
    pub fn classes(&mut self, n: usize, device: &Device) -> Option<Tensor<1, Int>> {
        self.conditional().then(|| {
            let c: Vec<usize> = (0..n).map(|_| self.rng.random_range(0..CLASSES)).collect();
            classes_to_tensor(&c, device)
        })
    }
}

/// Digits as a [n] int tensor.
pub fn classes_to_tensor(classes: &[usize], device: &Device) -> Tensor<1, Int> {
    let c: Vec<i64> = classes.iter().map(|&c| c as i64).collect();
    Tensor::from_data(TensorData::new(c, [classes.len()]), device)
}

/// How a batch's discriminator outputs become the two nets' losses (module docs, by kind).
#[derive(Clone, Copy, Debug)]
pub struct GanLosses {
    pub kind: GanKind,
    /// The real/fake target of real digits.
    pub real_label: f64,
    /// Two-head ACGAN: the weight of the generator's class term.
    pub class_weight: f64,
    /// Two-head ACGAN: whether the discriminator's digit head also learns the digits fakes were
    /// drawn for (ACGAN's own loss), or real digits only.
    pub classify_fakes: bool,
}

impl GanLosses {
    /// The losses a spec asks for.
    pub fn of(spec: &GanSpec) -> Self {
        Self {
            kind: spec.kind,
            real_label: spec.train.real_label,
            class_weight: spec.train.class_weight,
            classify_fakes: spec.train.classify_fakes,
        }
    }

    /// The plain losses of `kind`: real labels 1, class term weighed 1, fakes classified.
    pub fn plain(kind: GanKind) -> Self {
        Self {
            kind,
            real_label: 1.0,
            class_weight: 1.0,
            classify_fakes: true,
        }
    }

    /// The discriminator's loss from its outputs on real digits (`labels`) and on fakes (drawn
    /// for `classes`, conditional GANs), each [n, outputs].
    pub fn discriminator_loss(
        &self,
        real: Tensor<2>,
        fake: Tensor<2>,
        labels: Tensor<1, Int>,
        classes: Option<Tensor<1, Int>>,
    ) -> Tensor<1> {
        let [n, cols] = real.dims();
        let m = fake.dims()[0];
        match self.kind {
            GanKind::Gan => bce(real, self.real_label) + bce(fake, 0.0),
            GanKind::Wgan | GanKind::WganSn | GanKind::WganGp => fake.mean() - real.mean(),
            GanKind::AcganStudy => {
                // One cross-entropy over both halves: reals to their digit, fakes to class 10.
                let fake_class =
                    Tensor::<1, Int>::zeros([m], &labels.device()).add_scalar(CLASSES as i64);
                cross_entropy(
                    Tensor::cat(vec![real, fake], 0),
                    Tensor::cat(vec![labels, fake_class], 0),
                )
            }
            GanKind::Acgan => {
                let real_fake = bce(real.clone().slice([0..n, 0..1]), self.real_label)
                    + bce(fake.clone().slice([0..m, 0..1]), 0.0);
                let real_digits = real.slice([0..n, 1..cols]);
                let digits = if self.classify_fakes {
                    let classes = classes.expect("a conditional GAN draws classes");
                    cross_entropy(
                        Tensor::cat(vec![real_digits, fake.slice([0..m, 1..cols])], 0),
                        Tensor::cat(vec![labels, classes], 0),
                    )
                } else {
                    cross_entropy(real_digits, labels)
                };
                real_fake + digits
            }
        }
    }

    /// The generator's loss from the discriminator's outputs on its fakes [n, outputs] (drawn
    /// for `classes`, conditional GANs).
    pub fn generator_loss(&self, fake: Tensor<2>, classes: Option<Tensor<1, Int>>) -> Tensor<1> {
        let [rows, cols] = fake.dims();
        match self.kind {
            GanKind::Gan => bce(fake, 1.0),
            GanKind::Wgan | GanKind::WganSn | GanKind::WganGp => fake.mean().neg(),
            GanKind::AcganStudy => cross_entropy(fake, classes.expect("a conditional GAN")),
            GanKind::Acgan => {
                bce(fake.clone().slice([0..rows, 0..1]), 1.0)
                    + cross_entropy(
                        fake.slice([0..rows, 1..cols]),
                        classes.expect("a conditional GAN"),
                    ) * self.class_weight
            }
        }
    }

    /// The discriminator's loss on `real` (digits `labels`) and `fake` (drawn for `classes`),
    /// in one forward pass over both.
    fn discriminator(
        &self,
        d: &Discriminator,
        real: Tensor<4>,
        labels: Tensor<1, Int>,
        fake: Tensor<4>,
        classes: Option<Tensor<1, Int>>,
    ) -> Tensor<1> {
        let n = real.dims()[0];
        // Groups of the minibatch deviation stay within the reals or within the fakes.
        let out = d.forward_grouped(Tensor::cat(vec![real, fake], 0), stddev_group(n));
        let [rows, cols] = out.dims();
        let real_out = out.clone().slice([0..n, 0..cols]);
        let fake_out = out.slice([n..rows, 0..cols]);
        self.discriminator_loss(real_out, fake_out, labels, classes)
    }

    /// The generator's loss from the discriminator's view of its `fake` images.
    fn generator(
        &self,
        d: &Discriminator,
        fake: Tensor<4>,
        classes: Option<Tensor<1, Int>>,
    ) -> Tensor<1> {
        self.generator_loss(d.forward(fake), classes)
    }
}

fn optimizer(kind: GanOptimizer) -> ModuleOptimizer {
    match kind {
        GanOptimizer::Adam { beta1, beta2 } => AdamConfig::new()
            .with_beta_1(beta1 as f32)
            .with_beta_2(beta2 as f32)
            .init(),
        GanOptimizer::RmsProp => RmsPropConfig::new().with_momentum(0.0).init(),
    }
}

/// A weight re-made outside the graph as a fresh leaf the optimiser keeps updating.
fn replace<const D: usize>(
    param: Param<Tensor<D>>,
    f: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Param<Tensor<D>> {
    param.map(|w| {
        if w.is_require_grad() {
            Tensor::from_inner(f(w.inner())).require_grad()
        } else {
            f(w)
        }
    })
}

/// WGAN's weight clipping: every critic weight and bias into [-c, c], the layer norms' scales
/// and shifts and the minibatch deviation's weight too (as the WGAN paper's code clamps every
/// parameter).
pub fn clip_weights(mut d: Discriminator, c: f64) -> Discriminator {
    for norm in d.norm.iter_mut() {
        norm.gamma = norm.gamma.take().map(|g| replace(g, |g| g.clamp(-c, c)));
        norm.beta = norm.beta.take().map(|b| replace(b, |b| b.clamp(-c, c)));
    }
    for conv in d.conv.iter_mut() {
        conv.weight = replace(conv.weight.clone(), |w| w.clamp(-c, c));
        conv.bias = conv.bias.take().map(|b| replace(b, |b| b.clamp(-c, c)));
    }
    for linear in d.linear.iter_mut().chain(d.stddev.iter_mut()) {
        linear.weight = replace(linear.weight.clone(), |w| w.clamp(-c, c));
        linear.bias = linear.bias.take().map(|b| replace(b, |b| b.clamp(-c, c)));
    }
    d
}

/// The step of the finite difference in [`gradient_penalty`], in pixel units along a unit
/// direction of the 784 pixels: small enough that the critic stays on one linear piece for
/// most points, large enough that f32 rounding of the two scores stays far below the slope.
pub const PENALTY_STEP: f64 = 1e-2;

/// WGAN-GP's gradient penalty, the mean over `points` [n, 1, 28, 28] (outside any graph) of
/// (‖∇ₓD(x)‖ - 1)², computed so that its gradient for the critic's weights needs only
/// first-order autodiff:
///  1. the input gradient g = ∇ₓD(x) in a pass of its own, kept outside the graph as its
///     direction u = g / ‖g‖;
///  2. in the graph, the critic's slope along u, s = (D(x + h u) - D(x)) / h.
///
/// s is ‖g‖ up to O(h) (exactly, for a critic of linear layers and LeakyReLU, while x + h u
/// stays on x's linear piece), and its gradient for the weights θ is u·∂g/∂θ = ∂‖g‖/∂θ, which
/// is what the penalty's gradient, 2 (‖g‖ - 1) ∂‖g‖/∂θ, needs. `d` must have no batch
/// statistics (no minibatch deviation): each image's score must depend on that image alone.
pub fn gradient_penalty(d: &Discriminator, points: Tensor<4>, step: f64) -> Tensor<1> {
    let n = points.dims()[0];
    let probe = points.clone().require_grad();
    let grads = d.clone().no_grad().forward(probe.clone()).sum().backward();
    let g = Tensor::<4>::from_inner(probe.grad(&grads).expect("the points take part"));
    let norm = g
        .clone()
        .flatten::<2>(1, 3)
        .square()
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12)
        .reshape([n, 1, 1, 1]);
    let stepped = points.clone() + (g / norm) * step;
    let scores = d.forward(Tensor::cat(vec![points, stepped], 0));
    let slope = (scores.clone().slice([n..2 * n, 0..1]) - scores.slice([0..n, 0..1])) / step;
    (slope - 1.0).square().mean()
}

/// Spectral normalisation of a critic, as a projection after each step: every layer's weight is
/// divided by the layer's spectral norm when that exceeds 1. The norm is of the layer as an
/// operator (for a convolution, of the convolution on its real input size, found by power
/// iteration through the convolution and its adjoint, the transposed convolution with the same
/// weight), so each layer is 1-Lipschitz and with LeakyReLU so is the critic. One power
/// iteration per step from the last one's vector (weights move little between steps).
pub struct SpectralNorm {
    /// Per conv layer: the power-iteration vector [1, c_in, side, side], the options.
    conv: Vec<(Tensor<4>, ConvOptions<2>, ConvTransposeOptions<2>)>,
    /// Per linear layer: the power-iteration vector [1, d_in].
    linear: Vec<Tensor<2>>,
    iterations: usize,
}

impl SpectralNorm {
    /// Vectors for the critic of `spec` (kept on `device` without autodiff: the power iteration
    /// works on the weights' values, outside any graph).
    pub fn new(spec: &GanSpec, device: &Device) -> Result<Self, crate::model::SpecError> {
        let device = &device.clone().inner();
        let arch = crate::model::ArchSpec {
            latent: spec.kind.outputs(),
            ..spec.arch.clone()
        };
        let shapes = arch.shapes()?;
        let normal = Distribution::Normal(0.0, 1.0);
        let conv = arch
            .conv
            .iter()
            .zip(&shapes.conv)
            .map(|(c, s)| {
                let v = Tensor::random([1, s.in_channels, s.input, s.input], normal, device);
                let forward = ConvOptions::new([c.stride; 2], [c.padding; 2], [1, 1], 1);
                let adjoint = ConvTransposeOptions::new(
                    [c.stride; 2],
                    [c.padding; 2],
                    [s.output_padding; 2],
                    [1, 1],
                    1,
                );
                (v, forward, adjoint)
            })
            .collect();
        // The last layer reads one more input with the minibatch deviation (its weights are
        // that input's row of the layer's matrix: `project`).
        let last = shapes.linear.len() - 2;
        let linear = shapes.linear[..=last]
            .iter()
            .enumerate()
            .map(|(i, &d_in)| {
                let d_in = d_in + usize::from(i == last && spec.minibatch_std);
                Tensor::random([1, d_in], normal, device)
            })
            .collect();
        Ok(Self {
            conv,
            linear,
            iterations: 20,
        })
    }

    /// Power iteration for a conv layer's spectral norm; returns σ as a one-element tensor.
    fn conv_sigma(
        v: &mut Tensor<4>,
        w: &Tensor<4>,
        forward: &ConvOptions<2>,
        adjoint: &ConvTransposeOptions<2>,
        iterations: usize,
    ) -> Tensor<1> {
        let mut sigma = None;
        for _ in 0..iterations {
            let unit = v.clone() / (v.clone().square().sum().sqrt().reshape([1, 1, 1, 1]) + 1e-12);
            let out = conv2d(unit, w.clone(), None, forward.clone());
            sigma = Some(out.clone().square().sum().sqrt());
            *v = conv_transpose2d(out, w.clone(), None, adjoint.clone());
        }
        sigma.expect("at least one iteration")
    }

    /// Power iteration for a linear layer's (weight [d_in, d_out]) spectral norm.
    fn linear_sigma(v: &mut Tensor<2>, w: &Tensor<2>, iterations: usize) -> Tensor<1> {
        let mut sigma = None;
        for _ in 0..iterations {
            let unit = v.clone() / (v.clone().square().sum().sqrt().reshape([1, 1]) + 1e-12);
            let out = unit.matmul(w.clone());
            sigma = Some(out.clone().square().sum().sqrt());
            *v = out.matmul(w.clone().transpose());
        }
        sigma.expect("at least one iteration")
    }

    /// The critic with every layer's spectral norm at most 1.
    pub fn project(&mut self, mut d: Discriminator) -> Discriminator {
        let iterations = self.iterations;
        for (conv, (v, forward, adjoint)) in d.conv.iter_mut().zip(self.conv.iter_mut()) {
            let w = conv.weight.val().inner();
            let sigma = Self::conv_sigma(v, &w, forward, adjoint, iterations).clamp_min(1.0);
            conv.weight = replace(conv.weight.clone(), |w| w / sigma.reshape([1, 1, 1, 1]));
        }
        let last = d.linear.len() - 1;
        for (i, (linear, v)) in d.linear.iter_mut().zip(self.linear.iter_mut()).enumerate() {
            // The minibatch deviation adds its one input to the last layer's outputs, exactly as
            // one more input of that layer: its weights [1, outputs] are one more row of the
            // layer's matrix [inputs, outputs], normalised with it, so the layer is 1-Lipschitz
            // in all its inputs together (apart, each at norm 1, they would allow √2).
            let deviation = d.stddev.as_mut().filter(|_| i == last);
            let w = linear.weight.val().inner();
            let whole = match &deviation {
                Some(stddev) => Tensor::cat(vec![w, stddev.weight.val().inner()], 0),
                None => w,
            };
            let sigma = Self::linear_sigma(v, &whole, iterations)
                .clamp_min(1.0)
                .reshape([1, 1]);
            linear.weight = replace(linear.weight.clone(), |w| w / sigma.clone());
            if let Some(stddev) = deviation {
                stddev.weight = replace(stddev.weight.clone(), |w| w / sigma);
            }
        }
        self.iterations = 1;
        d
    }
}

/// How a critic is kept Lipschitz after each of its steps.
enum Constraint {
    None,
    Clip(f64),
    Spectral(Box<SpectralNorm>),
}

/// The GAN learner: one batch is a discriminator step and/or a generator step.
pub struct Adversarial {
    losses: GanLosses,
    sampler: Sampler,
    optim_g: ModuleOptimizer,
    optim_d: ModuleOptimizer,
    /// The spec's learning rates, and the ones this epoch uses (scheduled).
    base_lr: (f64, f64),
    lr_g: f64,
    lr_d: f64,
    /// Current update periods (adapted with `balance`).
    pub u_g: usize,
    pub u_d: usize,
    balance: bool,
    /// Real batches ordered by digit, fakes drawn for their digits (minibatch deviation of a
    /// conditional GAN: module docs).
    paired: bool,
    /// The discriminator reads the minibatch deviation (its groups must stay within a shard).
    minibatch_std: bool,
    constraint: Constraint,
    /// `wgan-gp`: the weight of the gradient penalty in the critic's loss.
    penalty: Option<f64>,
    /// The spec's `average` decay, and the generator's running average once training started.
    average_decay: Option<f64>,
    average: Option<Average<Generator>>,
    batches: usize,
    /// `critic_bursts`: the critic's steps per generator step in a burst, the generator's steps
    /// so far and the batches since its last.
    bursts: Option<usize>,
    g_steps: usize,
    since_g: usize,
    last_d: Option<Tensor<1>>,
    last_g: Option<Tensor<1>>,
    /// Judges the generator at each validation: the score is the Fréchet distance (lower is
    /// better, and the run keeps the best-judged generator: `keeps_best_at_end`). Without it the
    /// score is the discriminator's loss on validation images and as many fakes.
    pub scorer: Option<Scorer>,
}

/// The judge, real digits to compare with, and every report so far (one per validation).
pub struct Scorer {
    /// The judge classifier on the plain device.
    pub judge: crate::model::Classifier,
    pub reference: Reference,
    pub reports: Vec<Quality>,
}

impl Scorer {
    /// Judges `n` digits from `gan` (for a conditional one, n/10 of each digit).
    pub async fn judge(
        &self,
        sampler: &mut Sampler,
        gan: &Gan,
        n: usize,
        device: &Device,
    ) -> Quality {
        let classes: Option<Vec<usize>> = sampler
            .conditional()
            .then(|| (0..n).map(|i| i % CLASSES).collect());
        let images = sampler.generate(gan, n, classes.as_deref(), device);
        let judged = judge(&self.judge, images).await;
        self.reference.score(&judged, classes.as_deref())
    }
}

impl Adversarial {
    /// A learner for `spec`, seeded (classes drawn for fakes) by `seed`. `device` is plain.
    pub fn new(
        spec: &GanSpec,
        seed: u64,
        device: &Device,
    ) -> Result<Self, crate::model::SpecError> {
        spec.validate()?;
        let t = &spec.train;
        let constraint = match (spec.kind, t.clip) {
            (GanKind::WganSn, _) => {
                Constraint::Spectral(Box::new(SpectralNorm::new(spec, device)?))
            }
            (GanKind::Wgan, Some(c)) => Constraint::Clip(c),
            _ => Constraint::None,
        };
        Ok(Self {
            losses: GanLosses::of(spec),
            paired: spec.minibatch_std && spec.kind.conditional(),
            minibatch_std: spec.minibatch_std,
            sampler: Sampler::new(spec, seed),
            optim_g: optimizer(t.optimizer),
            optim_d: optimizer(t.optimizer),
            base_lr: (t.lr_g, t.lr_d),
            lr_g: t.lr_g,
            lr_d: t.lr_d,
            u_g: t.u_g,
            u_d: t.u_d,
            balance: t.balance && !spec.kind.wasserstein(),
            constraint,
            penalty: t.penalty.filter(|_| spec.kind == GanKind::WganGp),
            average_decay: t.average,
            average: None,
            batches: 0,
            bursts: t.critic_bursts,
            g_steps: 0,
            since_g: 0,
            last_d: None,
            last_g: None,
            scorer: None,
        })
    }

    fn constrain(&mut self, d: Discriminator) -> Discriminator {
        match &mut self.constraint {
            Constraint::None => d,
            Constraint::Clip(c) => clip_weights(d, *c),
            Constraint::Spectral(sn) => sn.project(d),
        }
    }

    /// The study's balancing rule (module docs) from one window's mean losses [d, g].
    fn rebalance(&mut self, d: f64, g: f64) {
        const AHEAD: f64 = 1.5;
        const MAX_PERIOD: usize = 5;
        if g > AHEAD * d {
            self.u_g = 1;
            self.u_d = (self.u_d + 1).min(MAX_PERIOD);
        } else if d > AHEAD * g {
            self.u_d = 1;
            self.u_g = (self.u_g + 1).min(MAX_PERIOD);
        } else {
            self.u_g = 1;
            self.u_d = 1;
        }
    }

    /// Whether the generator learns on batch `t` (counted from 0): on every `u_g`-th, or with
    /// `critic_bursts` after that many critic steps at the start and every [`BURST_EVERY`]
    /// generator steps; always on the first. Counts the generator's steps.
    fn generator_turn(&mut self, t: usize) -> bool {
        let turn = self.g_steps == 0
            || match self.bursts {
                None => t.is_multiple_of(self.u_g),
                Some(burst) => {
                    let bursting =
                        self.g_steps < BURST_START || self.g_steps.is_multiple_of(BURST_EVERY);
                    self.since_g + 1 >= if bursting { burst } else { self.u_g }
                }
            };
        if turn {
            self.g_steps += 1;
            self.since_g = 0;
        } else {
            self.since_g += 1;
        }
        turn
    }

    /// `n` generated images (and their classes) from `generator` (any mode).
    pub fn sample(
        &mut self,
        generator: &Generator,
        n: usize,
        device: &Device,
    ) -> (Tensor<4>, Option<Tensor<1, Int>>) {
        let classes = self.sampler.classes(n, device);
        let images = generator.forward(self.sampler.noise(n, device), classes.clone());
        (images, classes)
    }

    /// The digits to draw fakes for in a step on `indices`: the real batch's own (paired), or
    /// uniform random ones.
    fn fake_classes(
        &mut self,
        images: &Images,
        indices: &[usize],
        device: &Device,
    ) -> Option<Tensor<1, Int>> {
        if self.paired {
            Some(labels_to_tensor(images, indices, device))
        } else {
            self.sampler.classes(indices.len(), device)
        }
    }
}

/// A batch's rows cut into shards (one per CPU thread, `training/shards.rs`): groups of `group`
/// consecutive rows (the minibatch deviation's groups, which must not straddle shards) dealt in
/// turn, so each shard holds every part of a batch ordered by digit; one shard for a batch too
/// small to split (fewer than [`MIN_PIECE`](crate::parallel::MIN_PIECE) rows a shard).
pub fn deal_groups(n: usize, pieces: usize, group: usize) -> Vec<Vec<usize>> {
    let k = batch_ranges(n, pieces).len();
    let mut shards = vec![Vec::with_capacity(n / k + group); k];
    for (g, start) in (0..n).step_by(group.max(1)).enumerate() {
        shards[g % k].extend(start..(start + group).min(n));
    }
    shards
}

/// Picks a shard's rows out of a tensor drawn for the whole batch (all of them for one shard).
struct Rows(Option<Tensor<1, Int>>);

impl Rows {
    fn new(rows: &[usize], n: usize, device: &Device) -> Self {
        let all = rows.len() == n;
        Self((!all).then(|| {
            let picked: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            Tensor::from_data(TensorData::new(picked, [rows.len()]), device)
        }))
    }

    fn of<const D: usize, K: burn::tensor::kind::Basic>(&self, t: Tensor<D, K>) -> Tensor<D, K> {
        match &self.0 {
            Some(rows) => t.select(0, rows.clone()),
            None => t,
        }
    }
}

/// What one shard of a GAN step starts from: its copies of the nets (the discriminator on its
/// turn only), its real digits and labels, its noise, digits to draw and penalty points, and its
/// share of the batch (each loss is weighted by it, so the shards' gradients sum to the batch's).
struct ShardInput {
    generator: Generator,
    discriminator: Option<Discriminator>,
    real: Option<(Tensor<4>, Tensor<1, Int>)>,
    noise: Tensor<2>,
    classes: Option<Tensor<1, Int>>,
    penalty: Option<(f64, Tensor<1>)>,
    share: f64,
}

/// A shard's fakes, kept (with the generator's graph on its turn) for the generator's step.
struct ShardFakes {
    generator: Generator,
    fake: Tensor<4>,
    classes: Option<Tensor<1, Int>>,
    share: f64,
}

/// The copy of a learning net a shard works on: the net itself for one shard; for more, a fork
/// (same parameter ids, its own autodiff leaves: `training/shards.rs`), made before
/// `run_shards` draws the mask seeds.
fn shard_copy<M: Module>(net: &M, single: bool, device: &Device) -> M {
    if single {
        net.clone()
    } else {
        net.clone().fork(device)
    }
}

/// `loss` weighted by a shard's share of the batch (untouched for the whole batch).
fn shared(loss: Tensor<1>, share: f64) -> Tensor<1> {
    if share == 1.0 { loss } else { loss * share }
}

impl ShardInput {
    /// The shard's fakes, and on the discriminator's turn its gradients and weighted loss.
    fn discriminator_step(
        self,
        losses: &GanLosses,
    ) -> (ShardFakes, Option<(GradientsParams, Tensor<1>)>) {
        let fake = self.generator.forward(self.noise, self.classes.clone());
        let d_step = self.discriminator.map(|d| {
            let (real, labels) = self.real.expect("real digits on the discriminator's turn");
            let mut loss = losses.discriminator(
                &d,
                real.clone(),
                labels,
                fake.clone().detach(),
                self.classes.clone(),
            );
            if let Some((weight, at)) = self.penalty {
                // WGAN-GP's points: each on the line from a fake to a real digit, at a uniform
                // random place.
                let at = at.reshape([real.dims()[0], 1, 1, 1]);
                let points = real * at.clone() + fake.clone().detach() * (at.neg() + 1.0);
                loss = loss + gradient_penalty(&d, points.detach(), PENALTY_STEP) * weight;
            }
            let loss = shared(loss, self.share);
            let reported = loss.clone().detach();
            (GradientsParams::from_grads(loss.backward(), &d), reported)
        });
        let fakes = ShardFakes {
            generator: self.generator,
            fake,
            classes: self.classes,
            share: self.share,
        };
        (fakes, d_step)
    }
}

impl ShardFakes {
    /// The generator's gradients and weighted loss through `critic` (updated, outside the graph).
    fn generator_step(
        self,
        losses: &GanLosses,
        critic: &Discriminator,
    ) -> (GradientsParams, Tensor<1>) {
        let loss = shared(
            losses.generator(critic, self.fake, self.classes),
            self.share,
        );
        let reported = loss.clone().detach();
        (
            GradientsParams::from_grads(loss.backward(), &self.generator),
            reported,
        )
    }
}

impl Learner for Adversarial {
    type Model = Gan;

    fn loss_names(&self) -> &'static [&'static str] {
        &["d", "g"]
    }

    fn schedule(&mut self, lr_factor: f64) {
        self.lr_g = self.base_lr.0 * lr_factor;
        self.lr_d = self.base_lr.1 * lr_factor;
    }

    /// The nets with the averaged generator, once there is one.
    fn kept(&self, model: &Gan) -> Gan {
        match &self.average {
            Some(average) => Gan {
                generator: average.module.clone(),
                discriminator: model.discriminator.clone(),
            },
            None => model.clone(),
        }
    }

    /// Only a judge's score ranks generators; the discriminator's loss does not.
    fn keeps_best(&self) -> bool {
        self.scorer.is_some()
    }

    fn keeps_best_at_end(&self) -> bool {
        self.scorer.is_some()
    }

    fn observe(&mut self, means: &[f64]) {
        if self.balance
            && let [d, g] = means
        {
            self.rebalance(*d, *g);
        }
    }

    fn step(
        &mut self,
        mut model: Gan,
        images: &Images,
        indices: &[usize],
        device: &Device,
    ) -> (Gan, Tensor<1>) {
        let n = indices.len();
        let t = self.batches;
        self.batches += 1;
        let mut ordered;
        let indices = if self.paired {
            ordered = indices.to_vec();
            ordered.sort_by_key(|&i| images.labels()[i]);
            &ordered[..]
        } else {
            indices
        };
        let d_turn = t.is_multiple_of(self.u_d) || self.last_d.is_none();
        let g_turn = self.generator_turn(t);
        // Everything random is drawn here for the whole batch, in one pass's order, and then
        // dealt to the shards: a seed draws the same digits on any number of threads.
        let classes = self.fake_classes(images, indices, device);
        let noise = self.sampler.noise(n, device);
        let penalty = match self.penalty {
            Some(weight) if d_turn => Some((weight, self.sampler.uniform(n, device))),
            _ => None,
        };

        // One batch of fakes serves both steps (as PyTorch's DCGAN example does): the
        // discriminator learns from it detached, then the generator learns through the
        // updated discriminator from the same graph (its own weights have not moved yet).
        // When the generator does not learn on this batch, its pass is not recorded: a graph
        // that no backward pass reads stays in autodiff's memory until the generator's next
        // backward pass, 100 of them in a `critic_bursts` burst.
        let group = if self.minibatch_std {
            stddev_group(n)
        } else {
            1
        };
        let plan = deal_groups(n, cpu_pieces(device), group);
        let single = plan.len() == 1;
        let shards: Vec<ShardInput> = plan
            .iter()
            .map(|rows| {
                let take = Rows::new(rows, n, device);
                ShardInput {
                    generator: if g_turn {
                        shard_copy(&model.generator, single, device)
                    } else {
                        model.generator.clone().no_grad()
                    },
                    discriminator: d_turn.then(|| shard_copy(&model.discriminator, single, device)),
                    real: d_turn.then(|| {
                        let at: Vec<usize> = rows.iter().map(|&r| indices[r]).collect();
                        (
                            images_to_tensor(images, &at, device),
                            labels_to_tensor(images, &at, device),
                        )
                    }),
                    noise: take.of(noise.clone()),
                    classes: classes.clone().map(|c| take.of(c)),
                    penalty: penalty.clone().map(|(w, u)| (w, take.of(u))),
                    share: rows.len() as f64 / n as f64,
                }
            })
            .collect();

        let losses = self.losses;
        let made = run_shards(shards, device, |shard| shard.discriminator_step(&losses));
        let (fakes, d_grads): (Vec<ShardFakes>, Vec<_>) = made.into_iter().unzip();
        if d_turn {
            let d_grads = d_grads.into_iter().flatten().collect();
            let (grads, loss) = sum_shards(&model.discriminator, d_grads);
            self.last_d = Some(loss);
            let d = self.optim_d.step(self.lr_d, model.discriminator, grads);
            model.discriminator = self.constrain(d);
        }
        if g_turn {
            // The discriminator only passes the gradient through: its own weights need none.
            let critic = model.discriminator.clone().no_grad();
            let shards = fakes.into_iter().map(|f| (f, critic.clone())).collect();
            let g_grads = run_shards(shards, device, |(fakes, critic)| {
                fakes.generator_step(&losses, &critic)
            });
            let (grads, loss) = sum_shards(&model.generator, g_grads);
            self.last_g = Some(loss);
            model.generator = self.optim_g.step(self.lr_g, model.generator, grads);
            if let Some(decay) = self.average_decay {
                self.average
                    .get_or_insert_with(|| Average::new(&model.generator, decay))
                    .update(&model.generator);
            }
        }
        let d = self.last_d.clone().expect("set above");
        let g = self.last_g.clone().expect("set above");
        (model, Tensor::cat(vec![d, g], 0))
    }

    async fn validate(
        &mut self,
        model: &Gan,
        val: &Images,
        batch_size: usize,
        device: &Device,
    ) -> f64 {
        if let Some(scorer) = self.scorer.as_ref() {
            let quality = scorer
                .judge(&mut self.sampler, model, scorer.reference.n, device)
                .await;
            let fd = quality.frechet;
            self.scorer.as_mut().expect("checked").reports.push(quality);
            return fd;
        }
        // The discriminator's loss on (up to) 2000 validation images and as many fakes.
        let n = val.len().min(2000);
        let mut sum: Option<Tensor<1>> = None;
        for indices in crate::data::BatchOrder::sequential(n, batch_size) {
            let real = images_to_tensor(val, &indices, device);
            let labels = labels_to_tensor(val, &indices, device);
            let (fake, classes) = self.sample(&model.generator, indices.len(), device);
            let loss = self
                .losses
                .discriminator(&model.discriminator, real, labels, fake, classes)
                * indices.len() as f64;
            sum = Some(match sum {
                Some(s) => s + loss,
                None => loss,
            });
        }
        match sum {
            Some(s) => super::engine::read_scalar(s).await / n as f64,
            None => f64::NAN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batches on which the generator of `spec` learns, among the first `n`.
    fn turns(spec: &GanSpec, n: usize) -> Vec<usize> {
        let mut learner = Adversarial::new(spec, 1, &Device::flex()).unwrap();
        (0..n).filter(|&t| learner.generator_turn(t)).collect()
    }

    fn gaps(turns: &[usize]) -> Vec<usize> {
        turns.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn critic_bursts_follow_the_wgan_papers_schedule() {
        let mut spec = GanSpec::ours(GanKind::Wgan);
        spec.train.u_g = 2;
        spec.train.critic_bursts = None;
        let plain = turns(&spec, 100);
        assert_eq!(plain, (0..100).step_by(2).collect::<Vec<_>>());

        spec.train.critic_bursts = Some(4);
        let bursts = turns(&spec, 2000);
        let gaps = gaps(&bursts);
        assert_eq!(bursts[0], 0, "the generator learns on the first batch");
        // Its first BURST_START steps follow 4 critic steps each, then every u_g-th batch,
        // until its BURST_EVERY-th step follows a burst again.
        assert!(gaps[..BURST_START - 1].iter().all(|&g| g == 4), "{gaps:?}");
        assert!(
            gaps[BURST_START - 1..BURST_EVERY - 1]
                .iter()
                .all(|&g| g == 2)
        );
        assert_eq!(gaps[BURST_EVERY - 1], 4);
        assert!(gaps[BURST_EVERY..].iter().all(|&g| g == 2));
    }

    #[test]
    fn shards_get_whole_groups_dealt_in_turn() {
        // 96 rows in groups of 4 on 2 threads: groups 0, 2, 4, ... and 1, 3, 5, ...
        let two = deal_groups(96, 2, 4);
        assert_eq!(two.len(), 2);
        assert_eq!(&two[0][..8], &[0, 1, 2, 3, 8, 9, 10, 11]);
        assert_eq!(&two[1][..4], &[4, 5, 6, 7]);
        for (pieces, group, n) in [(3, 4, 96), (2, 1, 101), (4, 2, 130), (2, 4, 70)] {
            let shards = deal_groups(n, pieces, group);
            let mut all: Vec<usize> = shards.concat();
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "every row once");
            for shard in &shards {
                // A group never straddles two shards.
                for rows in shard.chunks(group) {
                    assert_eq!(rows[0] % group, 0, "{shards:?}");
                    assert!(rows.windows(2).all(|w| w[1] == w[0] + 1));
                }
            }
            let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
            let spread = sizes.iter().max().unwrap() - sizes.iter().min().unwrap();
            assert!(spread <= group, "{sizes:?}");
        }
        // Too small a batch to split: one shard, in order.
        assert_eq!(deal_groups(40, 2, 4), vec![(0..40).collect::<Vec<_>>()]);
    }

    #[test]
    fn critic_bursts_are_refused_where_they_mean_nothing() {
        let mut spec = GanSpec::ours(GanKind::Wgan);
        spec.train.critic_bursts = Some(0);
        assert!(spec.validate().is_err());
        spec.train.critic_bursts = Some(100);
        assert!(spec.validate().is_ok());
        spec.train.u_d = 2;
        assert!(spec.validate().is_err());
        let mut gan = GanSpec::ours(GanKind::Gan);
        gan.train.critic_bursts = Some(100);
        let error = gan.validate().unwrap_err().to_string();
        assert!(error.contains("critic_bursts"), "{error}");
    }
}
