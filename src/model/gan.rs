//! GANs made from an autoencoder's architecture, as the study made them: the discriminator is the
//! encoder (its latent layer gives the discriminator's outputs) and the generator is the decoder
//! (its latent layer takes the noise and the class).
//!
//! What a [`GanSpec`] adds to the [`ArchSpec`]: the kind (which losses and outputs), how the
//! class reaches the generator, batch norm in the generator and the discriminator's LeakyReLU
//! slope. README's "GANs" section says which of these made the nets train, with numbers.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Embedding, EmbeddingConfig, GroupNorm,
    GroupNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::autoencoder::{Autoencoder, activate};
use super::classifier::CLASSES;
use super::spec::{Activation, ArchSpec, ConvSpec, SpecError};
use crate::kernels;

/// Which GAN: its discriminator's outputs and its losses (`training/adversarial.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanKind {
    /// One logit, binary cross-entropy, non-saturating generator loss.
    Gan,
    /// A critic's score, the Wasserstein loss, weights clipped after every critic step.
    Wgan,
    /// The Wasserstein loss with every critic layer spectrally normalised after each step.
    WganSn,
    /// The Wasserstein loss plus WGAN-GP's gradient penalty, its input-gradient norm taken by a
    /// finite difference along the gradient (first-order autodiff is enough: see
    /// `training/adversarial.rs`, `gradient_penalty`).
    WganGp,
    /// Two heads (real/fake logit and class logits), class-conditional generator.
    Acgan,
    /// The study's ACGAN: 11 logits [0..9, fake] under cross-entropy.
    AcganStudy,
}

impl GanKind {
    pub const ALL: [GanKind; 6] = [
        GanKind::Gan,
        GanKind::Wgan,
        GanKind::WganSn,
        GanKind::WganGp,
        GanKind::Acgan,
        GanKind::AcganStudy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GanKind::Gan => "gan",
            GanKind::Wgan => "wgan",
            GanKind::WganSn => "wgan-sn",
            GanKind::WganGp => "wgan-gp",
            GanKind::Acgan => "acgan",
            GanKind::AcganStudy => "acgan-study",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the generator is told which digit to draw.
    pub fn conditional(self) -> bool {
        matches!(self, GanKind::Acgan | GanKind::AcganStudy)
    }

    /// Whether the losses are Wasserstein (a critic's unbounded score).
    pub fn wasserstein(self) -> bool {
        matches!(self, GanKind::Wgan | GanKind::WganSn | GanKind::WganGp)
    }

    /// Number of discriminator outputs.
    pub fn outputs(self) -> usize {
        match self {
            GanKind::Gan | GanKind::Wgan | GanKind::WganSn | GanKind::WganGp => 1,
            // [0..9, fake] for the study's form; [real/fake, 0..9] for the two-head form.
            GanKind::Acgan | GanKind::AcganStudy => CLASSES + 1,
        }
    }

    /// How real the discriminator rates each image, from its outputs [n, outputs] on images
    /// drawn for `classes` (conditional kinds): the real/fake logit or the critic's score; for
    /// the study's ACGAN the log-odds of the drawn digit against "fake". [n].
    pub fn realness(self, outputs: Tensor<2>, classes: Option<Tensor<1, Int>>) -> Tensor<1> {
        let [n, _] = outputs.dims();
        match (self, classes) {
            (GanKind::AcganStudy, Some(classes)) => {
                let digit = outputs.clone().gather(1, classes.reshape([n, 1]));
                let fake = outputs.slice([0..n, CLASSES..CLASSES + 1]);
                (digit - fake).reshape([n])
            }
            _ => outputs.slice([0..n, 0..1]).reshape([n]),
        }
    }
}

/// How the class reaches the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conditioning {
    /// No class: noise alone.
    None,
    /// The study's: a class embedding as wide as the noise, the noise added to it.
    Add,
    /// The embedding and the noise side by side (the noise keeps its own dimensions, so it can
    /// vary a digit's style without moving it towards another class).
    Concat,
    /// The noise scaled by a class embedding as wide as it (elementwise), as Keras's ACGAN
    /// example does: every noise dimension reaches the first layer through every class.
    Multiply,
}

/// The optimiser of both nets.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GanOptimizer {
    Adam {
        beta1: f64,
        beta2: f64,
    },
    /// Without momentum, as the WGAN paper trains its critic.
    RmsProp,
}

/// How a GAN is trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanTrain {
    pub optimizer: GanOptimizer,
    pub lr_g: f64,
    pub lr_d: f64,
    /// Both learning rates are multiplied by this after every epoch; `None`: constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<f64>,
    pub batch_size: usize,
    pub epochs: usize,
    /// The generator learns on every `u_g`-th batch, the discriminator on every `u_d`-th (the
    /// study's update periods); with `balance` these are starting values.
    pub u_g: usize,
    pub u_d: usize,
    /// Adapt the periods to keep the two losses close (the study's ACGAN): see
    /// `training/adversarial.rs` for the rule.
    #[serde(default)]
    pub balance: bool,
    /// WGAN: critic weights clipped to [-clip, clip] after every critic step.
    #[serde(default)]
    pub clip: Option<f64>,
    /// The target of real images in the real/fake cross-entropy (one-sided label smoothing:
    /// 0.9 keeps the discriminator from growing over-confident); 1 is plain.
    #[serde(default = "one")]
    pub real_label: f64,
    /// Two-head ACGAN: the weight of the class term in the generator's loss (1: ACGAN's).
    /// Lower lets the real/fake term, which rewards variety, count for more than being easy
    /// to classify.
    #[serde(default = "one")]
    pub class_weight: f64,
    /// Two-head ACGAN: the discriminator's digit head also learns the digits fakes were drawn
    /// for (ACGAN's own loss); false: real digits only (`training/adversarial.rs`).
    #[serde(default = "yes")]
    pub classify_fakes: bool,
    /// The generator's weights averaged over its steps, keeping this share of the average per
    /// step (e.g. 0.999; `training/average.rs`): the average is judged, shown and saved instead
    /// of the live generator. None: the live generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    /// `wgan-gp`: the weight of the gradient penalty in the critic's loss (the WGAN-GP paper's
    /// 10). Only that kind has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalty: Option<f64>,
    /// WGAN kinds: the critic takes this many steps before each of the generator's first
    /// [`BURST_START`] steps and before every [`BURST_EVERY`]-th, `u_g` between, so that the
    /// generator learns from a critic trained close to optimal (the WGAN paper's code: 100).
    /// Needs `u_d` = 1 and no `balance`. None: every `u_g`-th batch throughout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critic_bursts: Option<usize>,
}

/// The generator steps that [`GanTrain::critic_bursts`] precede: the first ones...
pub const BURST_START: usize = 25;
/// ...and every this many after them.
pub const BURST_EVERY: usize = 500;

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

fn one_candidate() -> usize {
    1
}

/// The most candidates per digit a spec may ask for: the draw costs that many generator and
/// discriminator passes.
pub const MAX_RANK: usize = 64;

/// A GAN: the architecture both nets are built from and what makes them a GAN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GanSpec {
    pub name: String,
    pub kind: GanKind,
    /// Convolutions and hidden widths of both nets. `latent` is ignored: the discriminator's
    /// last layer has [`GanKind::outputs`] units and the generator's first reads
    /// [`GanSpec::generator_input`] numbers.
    pub arch: ArchSpec,
    /// Gaussian noise dimensions of the generator.
    pub noise: usize,
    pub conditioning: Conditioning,
    /// Class embedding width (Concat); Add uses the noise width.
    #[serde(default)]
    pub embedding: usize,
    /// Batch norm after every generator layer but the output.
    #[serde(default)]
    pub batch_norm: bool,
    /// The discriminator's LeakyReLU slope (its activation, whatever `arch` says); 0: the
    /// arch's activation.
    #[serde(default)]
    pub leak: f64,
    /// Minibatch standard deviation (ProGAN's): the discriminator's last layer also reads how
    /// much its features vary within each group of 4 images, so a generator that draws one
    /// digit for every noise is told apart from real digits. Batches are ordered by digit and
    /// fakes are drawn for the real batch's digits, so the groups compared hold the same digits
    /// (see `training/adversarial.rs`).
    #[serde(default)]
    pub minibatch_std: bool,
    /// Layer norm (a group norm of one group: each image's features normalised over channels and
    /// positions, a scale and shift per channel) after every discriminator convolution but the
    /// first, as DCGAN's and the WGAN paper's critic had batch norm there. Per image, unlike
    /// batch norm: the critic rates a digit the same in a batch of fakes as beside real digits.
    #[serde(default)]
    pub critic_norm: bool,
    /// The noise's scale when digits are drawn to judge or to show (`generate`, the sample grid,
    /// the page): the truncation trick, below 1 trading variety for cleaner digits. Training
    /// always draws N(0, 1).
    #[serde(default = "one")]
    pub truncation: f64,
    /// Candidates drawn per digit when digits are drawn to judge or to give (`generate`, the
    /// page's grid, not the fixed sample grid or the walk): the discriminator rates them and the
    /// one it rates most real is kept (best-of-N discriminator rejection sampling, after Azadi
    /// et al. 2019). 1 draws the generator alone.
    #[serde(default = "one_candidate")]
    pub rank: usize,
    pub train: GanTrain,
}

impl GanSpec {
    /// Numbers the generator's first layer reads: noise, plus the class embedding (Concat).
    pub fn generator_input(&self) -> usize {
        match self.conditioning {
            Conditioning::Concat => self.noise + self.embedding,
            Conditioning::None | Conditioning::Add | Conditioning::Multiply => self.noise,
        }
    }

    /// The architecture the discriminator is built from (its latent = its outputs).
    fn discriminator_arch(&self) -> ArchSpec {
        ArchSpec {
            latent: self.kind.outputs(),
            decoder_dropout: 0.0,
            ..self.arch.clone()
        }
    }

    /// The architecture the generator is built from (its latent = its input).
    fn generator_arch(&self) -> ArchSpec {
        ArchSpec {
            latent: self.generator_input(),
            encoder_dropout: 0.0,
            ..self.arch.clone()
        }
    }

    /// Checks the spec: both nets' shapes, sizes, and the training settings.
    pub fn validate(&self) -> Result<(), SpecError> {
        let train = |m: String| Err(SpecError::Train(m));
        // Before the shapes: with no noise the generator's input layer has no width, which the
        // shape check would report as a latent size instead of naming this field.
        if self.noise == 0 {
            return train("the noise needs at least 1 dimension".into());
        }
        self.discriminator_arch().shapes()?;
        self.generator_arch().shapes()?;
        if self.kind.conditional() == (self.conditioning == Conditioning::None) {
            return train(format!(
                "a {} generator {} a class (conditioning {:?})",
                self.kind.name(),
                if self.kind.conditional() {
                    "needs"
                } else {
                    "takes no"
                },
                self.conditioning
            ));
        }
        if self.critic_norm && self.arch.conv.len() < 2 {
            return train(format!(
                "critic_norm follows every discriminator convolution but the first: it needs two \
                 or more, not {}",
                self.arch.conv.len()
            ));
        }
        if self.conditioning == Conditioning::Concat && self.embedding == 0 {
            return train("a concatenated class embedding needs a width of at least 1".into());
        }
        let t = &self.train;
        for (what, lr) in [("lr_g", t.lr_g), ("lr_d", t.lr_d)] {
            if !(lr.is_finite() && lr > 0.0) {
                return train(format!("{what} must be a positive number, not {lr}"));
            }
        }
        if !(1..=MAX_RANK).contains(&self.rank) {
            return train(format!(
                "rank {}: draw 1 to {MAX_RANK} candidates per digit",
                self.rank
            ));
        }
        if !(self.truncation.is_finite() && self.truncation > 0.0) {
            return train(format!(
                "truncation {} must be a positive number",
                self.truncation
            ));
        }
        super::spec::check_lr_decay(t.lr_decay).map_err(SpecError::Train)?;
        if t.batch_size == 0 || t.u_g == 0 || t.u_d == 0 {
            return train("batch_size, u_g and u_d must be at least 1".into());
        }
        if let Some(c) = t.clip
            && !(c.is_finite() && c > 0.0)
        {
            return train(format!("clip must be a positive number, not {c}"));
        }
        if !(0.5..=1.0).contains(&t.real_label) {
            return train(format!("real_label {} must be in [0.5, 1]", t.real_label));
        }
        if !(t.class_weight.is_finite() && t.class_weight >= 0.0) {
            return train(format!(
                "class_weight must be a number >= 0, not {}",
                t.class_weight
            ));
        }
        if let Some(a) = t.average
            && !(0.0..1.0).contains(&a)
        {
            return train(format!("average {a} must be in [0, 1)"));
        }
        match (self.kind, t.penalty) {
            (GanKind::WganGp, Some(w)) if w.is_finite() && w > 0.0 => {}
            (GanKind::WganGp, w) => {
                return train(format!(
                    "wgan-gp needs a penalty weight > 0 (the paper's 10), not {w:?}"
                ));
            }
            (kind, Some(_)) => {
                return train(format!(
                    "penalty is the gradient penalty of wgan-gp, not of {}",
                    kind.name()
                ));
            }
            (_, None) => {}
        }
        if let Some(burst) = t.critic_bursts
            && (burst == 0 || t.u_d != 1 || t.balance || !self.kind.wasserstein())
        {
            return train(format!(
                "critic_bursts ({burst}) must be at least 1, for a wgan kind with u_d 1 and no balance"
            ));
        }
        if !(0.0..1.0).contains(&self.leak) {
            return train(format!("leak {} must be in [0, 1)", self.leak));
        }
        // The penalty's slope is taken image by image (`training::gradient_penalty`), which a
        // score that also reads the other images of a group would falsify.
        if self.kind == GanKind::WganGp && self.minibatch_std {
            return train(
                "wgan-gp's gradient penalty needs each image's score alone: no minibatch_std"
                    .into(),
            );
        }
        Ok(())
    }

    /// The study's nets for `kind`: `best`'s encoder and decoder, its ReLU and dropout, no batch
    /// norm, the class embedding summed with noise; Adam at `best`'s learning rate (the ACGAN at
    /// 2e-4).
    pub fn study(kind: GanKind) -> Self {
        let best = super::ModelSpec::best();
        let (optimizer, lr, u_g, u_d, clip) = if kind.wasserstein() {
            // Its WGAN: u_g = 5, u_d = 1, weights clipped (RMSprop at the WGAN paper's rate).
            (GanOptimizer::RmsProp, 5e-5, 5, 1, Some(0.01))
        } else {
            (
                GanOptimizer::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                },
                best.train.lr,
                1,
                1,
                None,
            )
        };
        // The study gives no rate for its GANs. At `best`'s rate (2.9e-3, constant) or twice it
        // (decayed by 0.88 per epoch) the ACGAN's generator draws black from the first epoch on
        // (every digit judged a 1); at 2e-4, the DCGAN and ACGAN papers' rate, it draws what the
        // study reports: a digit shape per class with little variety and no convincing 6
        // (judged 43.5% after 20 epochs; README, "GANs").
        let lr = if kind.conditional() { 2e-4 } else { lr };
        Self {
            name: if kind == GanKind::AcganStudy {
                kind.name().into()
            } else {
                format!("{}-study", kind.name())
            },
            kind,
            arch: best.arch.clone(),
            noise: best.arch.latent,
            conditioning: if kind.conditional() {
                Conditioning::Add
            } else {
                Conditioning::None
            },
            embedding: 0,
            batch_norm: false,
            leak: 0.0,
            minibatch_std: false,
            critic_norm: false,
            truncation: 1.0,
            rank: 1,
            train: GanTrain {
                optimizer,
                lr_g: lr,
                lr_d: lr,
                lr_decay: None,
                batch_size: best.train.batch_size,
                epochs: 20,
                u_g,
                u_d,
                balance: kind == GanKind::AcganStudy,
                clip,
                real_label: 1.0,
                class_weight: 1.0,
                classify_fakes: true,
                average: None,
                penalty: (kind == GanKind::WganGp).then_some(10.0),
                critic_bursts: None,
            },
        }
    }

    /// Ours, the nets that train: a DCGAN-like pair on the same encoder/decoder layout
    /// (two 4x4 stride-2 convolutions, 32 and 64 channels, no hidden layer), batch norm in the
    /// generator, LeakyReLU(0.2) in the discriminator, Adam(0.5, 0.999) at 2e-4, real labels
    /// smoothed to 0.9. The ACGAN scales its 64 noise dimensions by a class embedding and its
    /// discriminator reads the minibatch deviation: with the embedding beside the noise
    /// (concatenated) every noise vector drew the same digit of a class (diversity 0.10x of
    /// real digits after 3 minutes, with or without the deviation; 0.88x scaled: README, "GANs").
    pub fn ours(kind: GanKind) -> Self {
        let conv = |channels| ConvSpec {
            channels,
            kernel: 4,
            stride: 2,
            padding: 1,
        };
        // Per kind: the optimiser, its rate and per-epoch decay, the generator's update period
        // and the critic's clipping.
        let (optimizer, lr, lr_decay, u_g, clip) = match kind {
            GanKind::Wgan => (GanOptimizer::RmsProp, 5e-5, None, 5, Some(0.01)),
            // Half the base rate, decayed per epoch, the generator stepped with the critic.
            // `wgan-sn` at a decay of 0.9: judged max-prob 0.820, top class 19.0%, Fréchet 148
            // after 15 minutes, against 0.770, 23.4%, 200 at a constant 2e-4 and 0.796, 21.3%,
            // 194 with the critic 5 steps per generator step. `wgan-gp` at 0.95: 0.908, 15.1%,
            // Fréchet 49.7 after 30 minutes on one thread, against 0.910, 17.0%, 67.8 at 0.9
            // and (in 15 minutes) 0.864, 74.8 with the WGAN-GP paper's 5 critic steps per
            // generator step at a constant 1e-4 (README, "GANs").
            GanKind::WganSn | GanKind::WganGp => (
                GanOptimizer::Adam {
                    beta1: 0.5,
                    beta2: 0.9,
                },
                1e-4,
                Some(if kind == GanKind::WganGp { 0.95 } else { 0.9 }),
                1,
                None,
            ),
            // ACGANs and `gan`: three times the base rate of 2e-4, decayed by 0.85 per epoch
            // (0.2x by epoch 11). For the ACGAN in 15 minutes on 2 cores: validation Fréchet
            // 12.3 after 10 epochs, against 16.1 at 2x decayed by 0.88 and 19.5 at a constant
            // 2e-4 (ahead at every epoch); test Fréchet 17.2 against 20.2 and 28.5, every digit
            // judged >= 95% (README, "GANs").
            _ => (
                GanOptimizer::Adam {
                    beta1: 0.5,
                    beta2: 0.999,
                },
                3.0 * 2e-4,
                Some(0.85),
                1,
                None,
            ),
        };
        Self {
            name: kind.name().into(),
            kind,
            arch: ArchSpec {
                conv: vec![conv(32), conv(64)],
                hidden: vec![],
                latent: 1,
                encoder_dropout: 0.0,
                decoder_dropout: 0.0,
                activation: Activation::Relu,
            },
            noise: 64,
            conditioning: if kind.conditional() {
                Conditioning::Multiply
            } else {
                Conditioning::None
            },
            embedding: 0,
            batch_norm: true,
            leak: 0.2,
            // `gan` too: after 12 epochs its judged max-prob 0.875 and top class 17.1% with the
            // deviation, 0.81 and 25% (4 epochs) without. `wgan-sn` too, its weights projected
            // with the critic's last layer as one matrix: 0.835, top class 15.2%, Fréchet 124
            // against 0.805, 25.0%, 194 without, two 20-minute runs side by side. Not `wgan`:
            // clipped with the critic, its weight moves nothing (0.817 with it, 0.818 without);
            // nor `wgan-gp`, whose penalty needs each image's score alone (README, "GANs").
            minibatch_std: kind.conditional() || matches!(kind, GanKind::Gan | GanKind::WganSn),
            // `wgan`: clipped weights alone leave the critic's layers at whatever scale the
            // clip allows; with layer norm after its second convolution the clipped critic
            // judged max-prob 0.818, diversity 0.72x, Fréchet 167 after 20 minutes against
            // 0.743-0.781, 0.50-0.59x, 183-247 without (README, "GANs").
            critic_norm: kind == GanKind::Wgan,
            truncation: 1.0,
            // The unconditional kinds keep the best of 8 candidates by their discriminator: a
            // trained `gan` judged max-prob 0.882 drawn alone, 0.910 best of 4, 0.913 best of
            // 8 and 0.920 best of 16; Fréchet distance 58.7, 41.9, 31.8, 30.8 (README, "GANs").
            rank: if kind.conditional() { 1 } else { 8 },
            train: GanTrain {
                optimizer,
                lr_g: lr,
                lr_d: lr,
                lr_decay,
                batch_size: 64,
                epochs: 30,
                u_g,
                u_d: 1,
                balance: false,
                clip,
                real_label: if kind.wasserstein() { 1.0 } else { 0.9 },
                // The generator's class term weighed 2 and the digit head learning real digits
                // only: judged accuracy after 12 epochs 96.8% (worst digit 91%) against 95.5%
                // (87%) with weight 1, and 79.8% (45%) with fakes classified too (README, "GANs").
                class_weight: if kind.conditional() { 2.0 } else { 1.0 },
                classify_fakes: false,
                average: None,
                penalty: (kind == GanKind::WganGp).then_some(10.0),
                // Not the WGAN paper's critic bursts: with them `wgan` read the same as without,
                // within its epoch-to-epoch swings (README, "GANs").
                critic_bursts: None,
            },
        }
    }

    /// The preset of a name: a kind (ours), or `acgan-study` (the study's ACGAN).
    pub fn preset(name: &str) -> Option<Self> {
        match GanKind::parse(name)? {
            GanKind::AcganStudy => Some(Self::study(GanKind::AcganStudy)),
            kind => Some(Self::ours(kind)),
        }
    }
}

/// The arch's activation, or LeakyReLU with slope `leak` when that is set.
fn act<const D: usize>(activation: Activation, leak: f64, x: Tensor<D>) -> Tensor<D> {
    if leak > 0.0 {
        kernels::leaky_relu(x, leak)
    } else {
        activate(activation, x)
    }
}

/// The encoder's layers, read as a discriminator: images to [`GanKind::outputs`] numbers.
#[derive(Module, Debug)]
pub struct Discriminator {
    pub conv: Vec<Conv2d>,
    /// Layer norm after each convolution but the first (`GanSpec::critic_norm`; else empty).
    pub norm: Vec<GroupNorm>,
    pub linear: Vec<Linear>,
    dropout: Vec<Dropout>,
    /// Minibatch standard deviation: its one input (the group's feature spread) to the outputs,
    /// added to the last layer's (the same as that layer reading one more feature).
    pub stddev: Option<Linear>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    leak: f64,
}

/// The size of the groups the minibatch standard deviation is taken over, for a batch (or each
/// half of a real + fake batch) of `n`: 4, or less when 4 does not divide `n`, so no group
/// straddles two halves.
pub fn stddev_group(n: usize) -> usize {
    [4, 2, 1]
        .into_iter()
        .find(|g| n.is_multiple_of(*g))
        .expect("1 divides everything")
}

/// Per row of `h` [batch, features], the mean over features of their standard deviation within
/// the row's group (consecutive rows, `group` of them): [batch, 1].
fn group_spread(h: Tensor<2>, group: usize) -> Tensor<2> {
    let [batch, features] = h.dims();
    let x = h.reshape([batch / group, group, features]);
    let centred = x.clone() - x.mean_dim(1);
    let std = kernels::sqrt(centred.square().mean_dim(1) + 1e-8);
    std.mean_dim(2).repeat_dim(1, group).reshape([batch, 1])
}

impl Discriminator {
    /// [batch, 1, 28, 28] images in [0, 1] to [batch, outputs].
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let group = stddev_group(images.dims()[0]);
        self.forward_features(images, group).1
    }

    /// As [`Discriminator::forward`], with the minibatch standard deviation taken over groups
    /// of `group` consecutive images (which must divide the batch).
    pub fn forward_grouped(&self, images: Tensor<4>, group: usize) -> Tensor<2> {
        self.forward_features(images, group).1
    }

    /// The input of the last layer (features) and the outputs.
    fn forward_features(&self, images: Tensor<4>, group: usize) -> (Tensor<2>, Tensor<2>) {
        let mut x = images;
        for (i, conv) in self.conv.iter().enumerate() {
            let mut y = kernels::conv2d(conv, x);
            if let Some(norm) = i.checked_sub(1).and_then(|j| self.norm.get(j)) {
                y = norm.forward(y);
            }
            x = act(self.activation, self.leak, y);
        }
        let mut h: Tensor<2> = x.flatten(1, 3);
        let last = self.linear.len() - 1;
        for (i, (linear, dropout)) in self.linear.iter().zip(&self.dropout).enumerate() {
            if i == last {
                let mut out = linear.forward(super::dropout::apply(dropout, h.clone()));
                if let Some(stddev) = &self.stddev {
                    out = out + stddev.forward(group_spread(h.clone(), group));
                }
                return (h, out);
            }
            h = act(
                self.activation,
                self.leak,
                linear.forward(super::dropout::apply(dropout, h)),
            );
        }
        unreachable!("a discriminator has at least one linear layer")
    }
}

/// The decoder's layers, read as a generator: noise (and a class) to image logits.
#[derive(Module, Debug)]
pub struct Generator {
    pub embedding: Option<Embedding>,
    pub linear: Vec<Linear>,
    pub conv: Vec<ConvTranspose2d>,
    /// Batch norm after each linear layer (empty without batch norm).
    norm_linear: Vec<BatchNorm>,
    /// Batch norm after each transposed convolution but the last.
    norm_conv: Vec<BatchNorm>,
    dropout: Vec<Dropout>,
    #[module(skip)]
    unflatten: [usize; 3],
    #[module(skip)]
    conditioning: Conditioning,
    #[module(skip)]
    activation: Activation,
}

impl Generator {
    /// `noise` [batch, noise] (and `classes` [batch] for a conditional generator) to
    /// [batch, 1, 28, 28] logits.
    pub fn forward_logits(&self, noise: Tensor<2>, classes: Option<Tensor<1, Int>>) -> Tensor<4> {
        let embed = |classes: Option<Tensor<1, Int>>| -> Tensor<2> {
            let classes = classes.expect("a conditional generator needs classes");
            let [batch] = classes.dims();
            let e = self
                .embedding
                .as_ref()
                .expect("built with an embedding")
                .forward(classes.reshape([batch, 1]));
            let width = e.dims()[2];
            e.reshape([batch, width])
        };
        let mut h = match self.conditioning {
            Conditioning::None => noise,
            Conditioning::Add => embed(classes) + noise,
            Conditioning::Multiply => embed(classes) * noise,
            Conditioning::Concat => Tensor::cat(vec![embed(classes), noise], 1),
        };
        for (i, (linear, dropout)) in self.linear.iter().zip(&self.dropout).enumerate() {
            h = linear.forward(super::dropout::apply(dropout, h));
            if let Some(norm) = self.norm_linear.get(i) {
                h = norm.forward(h);
            }
            h = act(self.activation, 0.0, h);
        }
        let [c, s, _] = self.unflatten;
        let batch = h.dims()[0];
        let mut x: Tensor<4> = h.reshape([batch, c, s, s]);
        let last = self.conv.len() - 1;
        for (i, conv) in self.conv.iter().enumerate() {
            x = kernels::conv_transpose2d(conv, x);
            if i < last {
                if let Some(norm) = self.norm_conv.get(i) {
                    x = norm.forward(x);
                }
                x = act(self.activation, 0.0, x);
            }
        }
        x
    }

    /// Images in (0, 1).
    pub fn forward(&self, noise: Tensor<2>, classes: Option<Tensor<1, Int>>) -> Tensor<4> {
        kernels::sigmoid(self.forward_logits(noise, classes))
    }
}

/// The two nets of a GAN, trained together and saved as one file.
#[derive(Module, Debug)]
pub struct Gan {
    pub generator: Generator,
    pub discriminator: Discriminator,
}

impl Gan {
    /// Both nets for `spec` on `device` (weights from the device's RNG).
    pub fn new(spec: &GanSpec, device: &Device) -> Result<Self, SpecError> {
        spec.validate()?;
        let d_arch = spec.discriminator_arch();
        let g_arch = spec.generator_arch();
        let encoder = Autoencoder::new(&d_arch, device)?.encoder;
        let decoder = Autoencoder::new(&g_arch, device)?.decoder;
        let shapes = g_arch.shapes()?;

        let d_dropout = (0..encoder.linear.len())
            .map(|i| {
                let p = if i + 1 < encoder.linear.len() {
                    d_arch.encoder_dropout
                } else {
                    0.0
                };
                DropoutConfig::new(p).init()
            })
            .collect();
        let g_dropout = (0..decoder.linear.len())
            .map(|i| {
                let p = if i > 0 { g_arch.decoder_dropout } else { 0.0 };
                DropoutConfig::new(p).init()
            })
            .collect();
        let (norm_linear, norm_conv) = if spec.batch_norm {
            let widths = &shapes.linear;
            // The decoder's linear layers output the widths from the last hidden back to flat.
            let lin = (0..decoder.linear.len())
                .map(|i| BatchNormConfig::new(widths[widths.len() - 2 - i]).init(device))
                .collect();
            // Transposed convolution j mirrors encoder conv n-1-j and writes that one's input
            // channels; all but the last (the image) are normalised.
            let conv = shapes
                .conv
                .iter()
                .rev()
                .take(shapes.conv.len() - 1)
                .map(|c| BatchNormConfig::new(c.in_channels).init(device))
                .collect();
            (lin, conv)
        } else {
            (Vec::new(), Vec::new())
        };
        let embedding = match spec.conditioning {
            Conditioning::None => None,
            Conditioning::Add | Conditioning::Multiply => {
                Some(EmbeddingConfig::new(CLASSES, spec.noise).init(device))
            }
            Conditioning::Concat => {
                Some(EmbeddingConfig::new(CLASSES, spec.embedding).init(device))
            }
        };
        // One group: each image normalised over all its channels and positions (layer norm).
        let d_norm = if spec.critic_norm {
            (encoder.conv.iter().skip(1))
                .map(|conv| GroupNormConfig::new(1, conv.weight.dims()[0]).init(device))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            generator: Generator {
                embedding,
                linear: decoder.linear,
                conv: decoder.conv,
                norm_linear,
                norm_conv,
                dropout: g_dropout,
                unflatten: shapes.conv_out(),
                conditioning: spec.conditioning,
                activation: spec.arch.activation,
            },
            discriminator: Discriminator {
                norm: d_norm,
                conv: encoder.conv,
                linear: encoder.linear,
                dropout: d_dropout,
                stddev: spec
                    .minibatch_std
                    .then(|| LinearConfig::new(1, spec.kind.outputs()).init(device)),
                activation: spec.arch.activation,
                leak: spec.leak,
            },
        })
    }

    /// Digits drawn best of `rank`: `noise` holds `rank` consecutive rows per digit (scaled
    /// already), `classes` one digit per digit drawn (conditional kinds). Each digit's
    /// candidates are generated and rated by the discriminator, and the one it rates most real
    /// is kept. [n, 1, 28, 28] in (0, 1). The nets should be in inference mode (`valid`).
    pub fn draw(
        &self,
        kind: GanKind,
        noise: Tensor<2>,
        classes: Option<Tensor<1, Int>>,
        rank: usize,
    ) -> Tensor<4> {
        if rank <= 1 || noise.dims()[0] < rank {
            return self.generator.forward(noise, classes);
        }
        let pieces = self.rate(kind, noise, classes, rank);
        Tensor::cat(
            pieces
                .into_iter()
                .map(|(images, best)| {
                    let n = best.dims()[0];
                    // Row of each digit's best candidate within its piece.
                    let first = Tensor::<1, Int>::arange(0..n as i64, &best.device())
                        .mul_scalar(rank as i64);
                    images.select(0, first + best)
                })
                .collect(),
            0,
        )
    }

    /// As [`Gan::draw`], only which of each digit's `rank` candidates the discriminator rates
    /// most real: [n] in 0..rank (to find a drawn digit's noise again, e.g. to walk from it).
    /// `noise` holds at least one digit's candidates.
    pub fn best_candidates(
        &self,
        kind: GanKind,
        noise: Tensor<2>,
        classes: Option<Tensor<1, Int>>,
        rank: usize,
    ) -> Tensor<1, Int> {
        let pieces = self.rate(kind, noise, classes, rank.max(1));
        Tensor::cat(pieces.into_iter().map(|(_, best)| best).collect(), 0)
    }

    /// Every candidate's image and each digit's best candidate, in pieces of at most 256
    /// digits (so a large draw stays within memory).
    fn rate(
        &self,
        kind: GanKind,
        noise: Tensor<2>,
        classes: Option<Tensor<1, Int>>,
        rank: usize,
    ) -> Vec<(Tensor<4>, Tensor<1, Int>)> {
        const PIECE: usize = 256;
        let [rows, dim] = noise.dims();
        let n = rows / rank;
        // Each digit's class for each of its candidates.
        let classes = classes.map(|c| {
            c.narrow(0, 0, n)
                .reshape([n, 1])
                .repeat_dim(1, rank)
                .reshape([n * rank])
        });
        (0..n)
            .step_by(PIECE)
            .map(|start| {
                let end = (start + PIECE).min(n);
                let rows = start * rank..end * rank;
                let noise = noise.clone().slice([rows.clone(), 0..dim]);
                let classes = classes.clone().map(|c| c.narrow(0, rows.start, rows.len()));
                let images = self.generator.forward(noise, classes.clone());
                // One minibatch-deviation group per digit's candidates: they share its offset,
                // so the ranking is by each candidate's own score (in groups of 4 a candidate
                // would also be rated by the spread of the 3 it happened to be grouped with).
                let outputs = self.discriminator.forward_grouped(images.clone(), rank);
                let best = kind
                    .realness(outputs, classes)
                    .reshape([end - start, rank])
                    .argmax(1)
                    .reshape([end - start]);
                (images, best)
            })
            .collect()
    }
}
