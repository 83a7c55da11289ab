//! GANs: shapes of every kind, losses on hand-made cases, the minibatch deviation, weight
//! clipping, the spectral norm's Lipschitz bound and the gradient penalty checked numerically, a short ACGAN run that a quickly trained judge reads well above chance, and the
//! time budget of the shared engine.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use latentlab::data::Images;
use latentlab::model::{
    ArchSpec, CLASSES, Classifier, Conditioning, ConvSpec, Gan, GanKind, GanSpec, ModelSpec,
    stddev_group,
};
use latentlab::quality::Reference;
use latentlab::training::{
    Adversarial, Classification, FitSettings, GanLosses, NoHooks, PENALTY_STEP, Scorer,
    SpectralNorm, StopReason, clip_weights, fit, gradient_penalty, train,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{mnist, rng_shared};

fn settings(batch_size: usize, epochs: usize) -> FitSettings {
    FitSettings {
        lr: 2e-4,
        lr_decay: 1.0,
        weight_decay: 0.0,
        batch_size,
        epochs,
        patience: None,
        seed: 5,
        read_every: 5,
        max_seconds: None,
    }
}

#[test]
fn every_kind_builds_and_has_the_right_shapes() {
    let _rng = rng_shared();
    let device = Device::flex();
    // Ours also with the class embedding beside the noise, without the minibatch deviation.
    let mut variant = GanSpec::ours(GanKind::Acgan);
    variant.conditioning = Conditioning::Concat;
    variant.embedding = 16;
    variant.minibatch_std = false;
    for kind in GanKind::ALL {
        let mut specs = vec![GanSpec::ours(kind), GanSpec::study(kind)];
        if kind == GanKind::Acgan {
            specs.push(variant.clone());
        }
        for spec in specs {
            let gan = Gan::new(&spec, &device).unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            let z = Tensor::random([3, spec.noise], Distribution::Normal(0.0, 1.0), &device);
            let classes = kind.conditional().then(|| {
                Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 4, 9], [3]), &device)
            });
            let images = gan.generator.forward(z, classes);
            assert_eq!(images.dims(), [3, 1, 28, 28], "{}", spec.name);
            let values = images.clone().into_data().try_to_vec::<f32>().unwrap();
            assert!(
                values.iter().all(|v| (0.0..=1.0).contains(v)),
                "sigmoid output"
            );
            let out = gan.discriminator.forward(images);
            assert_eq!(out.dims(), [3, kind.outputs()], "{}", spec.name);
        }
    }
}

/// `change` applied to the preset of `kind` makes a spec whose error mentions `needle`.
fn refused(kind: GanKind, change: impl Fn(&mut GanSpec), needle: &str) {
    let mut spec = GanSpec::ours(kind);
    change(&mut spec);
    let error = spec.validate().expect_err(needle).to_string();
    assert!(error.contains(needle), "{needle}: {error}");
}

#[test]
fn impossible_gan_specs_are_refused() {
    use GanKind::{Acgan, Gan};
    refused(
        Acgan,
        |s| s.conditioning = Conditioning::None,
        "needs a class",
    );
    refused(Gan, |s| s.train.lr_d = f64::NAN, "lr_d");
    refused(Gan, |s| s.arch.conv[0].kernel = 40, "kernel");
    refused(Gan, |s| s.noise = 0, "noise");
    refused(Acgan, |s| s.truncation = 0.0, "truncation");
    refused(Gan, |s| s.rank = 0, "rank");
    refused(Gan, |s| s.rank = 65, "rank");
    refused(
        GanKind::Wgan,
        |s| s.arch.conv.truncate(1),
        "critic_norm follows every discriminator convolution but the first",
    );
    refused(Acgan, |s| s.train.lr_decay = Some(1.5), "lr_decay");
    refused(Acgan, |s| s.train.class_weight = -1.0, "class_weight");
    refused(Acgan, |s| s.train.average = Some(1.0), "average");
    refused(
        GanKind::WganGp,
        |s| s.train.penalty = None,
        "penalty weight",
    );
    refused(
        GanKind::WganGp,
        |s| s.train.penalty = Some(-1.0),
        "penalty weight",
    );
    refused(
        GanKind::WganSn,
        |s| s.train.penalty = Some(10.0),
        "gradient penalty of wgan-gp",
    );
    refused(
        GanKind::WganGp,
        |s| s.minibatch_std = true,
        "no minibatch_std",
    );
}

/// The truncation trick scales the noise of drawn digits (and only that): drawing noise z at
/// truncation 0.5 gives what z / 2 gives at 1, and the same sampler stream at another truncation
/// draws other digits.
#[test]
fn truncation_scales_the_noise_of_drawn_digits() {
    let _rng = rng_shared();
    let device = Device::flex();
    device.seed(3);
    let mut spec = GanSpec::ours(GanKind::Acgan);
    let gan = Gan::new(&spec, &device).unwrap();
    let z = latentlab::training::adversarial::noise_for_seeds(&[1, 2, 3, 4], spec.noise);
    let half: Vec<f32> = z.iter().map(|v| v * 0.5).collect();
    let classes = [0, 3, 6, 9];
    let draw = |noise: &[f32], truncation: f64| {
        let mut spec = spec.clone();
        spec.truncation = truncation;
        pollster::block_on(latentlab::inference::generate(
            &gan,
            &spec,
            (noise, 1),
            Some(&classes),
            &device,
        ))
    };
    let (a, b) = (draw(&z, 0.5), draw(&half, 1.0));
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
    assert!(
        a.iter()
            .zip(draw(&z, 1.0))
            .any(|(x, y)| (x - y).abs() > 1e-3)
    );
    // The judge's sampler draws at the spec's truncation.
    let sample = |spec: &GanSpec| {
        let mut sampler = latentlab::training::Sampler::new(spec, 9);
        let images = sampler.generate(&gan, 4, Some(&classes), &device);
        images.into_data().try_to_vec::<f32>().unwrap()
    };
    let full = sample(&spec);
    spec.truncation = 0.5;
    let truncated = sample(&spec);
    assert!(
        full.iter()
            .zip(&truncated)
            .any(|(x, y)| (x - y).abs() > 1e-3)
    );
}

/// Best-of-N drawing: each digit is the candidate (of its `rank` consecutive noise rows) that
/// the discriminator rates most real, for an unconditional kind and for the study's ACGAN (the
/// log-odds of the drawn digit against "fake"); `best_noise` finds the noise it came from, and
/// a spec written before `rank` existed draws the generator alone.
#[test]
fn drawing_keeps_the_candidate_the_discriminator_rates_most_real() {
    let _rng = rng_shared();
    let device = Device::flex();
    device.seed(11);
    for kind in [GanKind::Gan, GanKind::AcganStudy] {
        let mut spec = GanSpec::ours(kind);
        spec.rank = 3;
        let gan = Gan::new(&spec, &device).unwrap();
        let n = 5;
        let noise =
            latentlab::training::adversarial::noise_for_seeds(&[7, 8, 9, 10, 11], spec.noise * 3);
        let classes: Option<Vec<usize>> = kind.conditional().then(|| vec![2, 7, 0, 9, 4]);
        let class_tensor = |c: &[usize]| {
            let c: Vec<i64> = c.iter().map(|&c| c as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(c.clone(), [c.len()]), &device)
        };
        // Every candidate drawn and rated by hand, in one batch as `draw` rates them.
        let all =
            Tensor::<2>::from_data(TensorData::new(noise.clone(), [n * 3, spec.noise]), &device);
        let candidate_classes: Option<Vec<usize>> = classes
            .as_ref()
            .map(|c| c.iter().flat_map(|&k| [k; 3]).collect());
        let images = gan
            .generator
            .forward(all, candidate_classes.as_deref().map(class_tensor));
        let outputs = gan
            .discriminator
            .forward(images.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let cols = kind.outputs();
        let rating = |row: usize| match &candidate_classes {
            Some(c) => outputs[row * cols + c[row]] - outputs[row * cols + CLASSES],
            None => outputs[row * cols],
        };
        let best: Vec<usize> = (0..n)
            .map(|i| {
                (0..3)
                    .max_by(|&a, &b| rating(i * 3 + a).total_cmp(&rating(i * 3 + b)))
                    .unwrap()
            })
            .collect();
        // Not all first candidates, or the test would not tell ranking from drawing alone.
        assert!(best.iter().any(|&b| b != 0), "{}: {best:?}", kind.name());
        let pixels = images.into_data().try_to_vec::<f32>().unwrap();
        let drawn = pollster::block_on(latentlab::inference::generate(
            &gan,
            &spec,
            (&noise, 3),
            classes.as_deref(),
            &device,
        ));
        assert_eq!(drawn.len(), n * 784);
        for (i, &b) in best.iter().enumerate() {
            let want = &pixels[(i * 3 + b) * 784..(i * 3 + b + 1) * 784];
            let got = &drawn[i * 784..(i + 1) * 784];
            assert!(
                want.iter().zip(got).all(|(x, y)| (x - y).abs() < 1e-5),
                "{}: digit {i} is not candidate {b}",
                kind.name()
            );
        }
        // The noise of each kept candidate draws the same digit from the generator alone.
        let ends = pollster::block_on(latentlab::inference::best_noise(
            &gan,
            &spec,
            (&noise, 3),
            classes.as_deref(),
            &device,
        ));
        assert_eq!(ends.len(), n * spec.noise);
        let alone = pollster::block_on(latentlab::inference::generate(
            &gan,
            &spec,
            (&ends, 1),
            classes.as_deref(),
            &device,
        ));
        assert!(alone.iter().zip(&drawn).all(|(x, y)| (x - y).abs() < 1e-4));
    }
    // A spec file from before `rank` draws one candidate per digit.
    let mut json = serde_json::to_value(GanSpec::ours(GanKind::Gan)).unwrap();
    json.as_object_mut().unwrap().remove("rank");
    let old: GanSpec = serde_json::from_value(json).unwrap();
    assert_eq!(old.rank, 1);
    assert_eq!(GanSpec::ours(GanKind::Gan).rank, 8);
    assert_eq!(GanSpec::ours(GanKind::Acgan).rank, 1);
}

/// One-row logits [real/fake, digits...] as a tensor.
fn logits(rows: &[&[f32]], device: &Device) -> Tensor<2> {
    let cols = rows[0].len();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), device)
}

fn value(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

#[test]
fn losses_on_hand_made_cases() {
    let device = Device::flex();
    let ln2 = std::f64::consts::LN_2;
    let labels = || Tensor::<1, Int>::from_data(TensorData::new(vec![3i64], [1]), &device);
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-4, "{a} vs {b}");

    // GAN: undecided logits cost ln 2 per term; a sure, right discriminator costs ~0.
    let d = GanLosses::plain(GanKind::Gan).discriminator_loss(
        logits(&[&[0.0]], &device),
        logits(&[&[0.0]], &device),
        labels(),
        None,
    );
    close(value(d), 2.0 * ln2);
    let d = GanLosses::plain(GanKind::Gan).discriminator_loss(
        logits(&[&[20.0]], &device),
        logits(&[&[-20.0]], &device),
        labels(),
        None,
    );
    close(value(d), 0.0);
    // Non-saturating: the generator's loss is -ln sigmoid(z) of its fakes.
    let g = GanLosses::plain(GanKind::Gan).generator_loss(logits(&[&[-2.0]], &device), None);
    close(value(g), (1.0 + 2f64.exp()).ln());

    // WGAN: the critic's mean score on fakes minus on reals; the generator's is minus the fakes'.
    let d = GanLosses::plain(GanKind::Wgan).discriminator_loss(
        logits(&[&[3.0], &[1.0]], &device),
        logits(&[&[-1.0], &[0.0]], &device),
        labels(),
        None,
    );
    close(value(d), -0.5 - 2.0);
    let g =
        GanLosses::plain(GanKind::Wgan).generator_loss(logits(&[&[-1.0], &[0.0]], &device), None);
    close(value(g), 0.5);

    // Two-head ACGAN: real/fake BCE plus the class cross-entropy, weighed for the generator.
    let mut fake = vec![0.0f32; CLASSES + 1];
    fake[0] = 0.0; // undecided real/fake
    let class = Some(Tensor::<1, Int>::from_data(
        TensorData::new(vec![3i64], [1]),
        &device,
    ));
    // Uniform digit logits: the cross-entropy is ln 10.
    let g = |w| {
        let losses = GanLosses {
            class_weight: w,
            ..GanLosses::plain(GanKind::Acgan)
        };
        value(losses.generator_loss(logits(&[&fake], &device), class.clone()))
    };
    close(g(1.0), ln2 + 10f64.ln());
    close(g(0.25), ln2 + 0.25 * 10f64.ln());
    close(g(0.0), ln2);

    // Its discriminator: a sure real 3 and a sure fake with undecided digit logits. Classifying
    // the fake as the 3 it was drawn for costs ln 10 over the two rows; real digits only, 0.
    let mut real_three = vec![-20.0f32; CLASSES + 1];
    real_three[0] = 20.0;
    real_three[1 + 3] = 20.0;
    let mut sure_fake = vec![0.0f32; CLASSES + 1];
    sure_fake[0] = -20.0;
    let d = |classify_fakes| {
        let losses = GanLosses {
            classify_fakes,
            ..GanLosses::plain(GanKind::Acgan)
        };
        value(losses.discriminator_loss(
            logits(&[&real_three], &device),
            logits(&[&sure_fake], &device),
            labels(),
            class.clone(),
        ))
    };
    close(d(true), 10f64.ln() / 2.0);
    close(d(false), 0.0);

    // The study's ACGAN: 11-way cross-entropy, fakes to class 10.
    let mut sure = vec![-20.0f32; CLASSES + 1];
    sure[3] = 20.0;
    let mut fake_sure = vec![-20.0f32; CLASSES + 1];
    fake_sure[CLASSES] = 20.0;
    let d = GanLosses::plain(GanKind::AcganStudy).discriminator_loss(
        logits(&[&sure], &device),
        logits(&[&fake_sure], &device),
        labels(),
        class.clone(),
    );
    close(value(d), 0.0);
    let g =
        GanLosses::plain(GanKind::AcganStudy).generator_loss(logits(&[&fake_sure], &device), class);
    assert!(value(g) > 30.0, "a fake seen as fake is far from its digit");
}

#[test]
fn minibatch_deviation_tells_a_collapsed_group_apart() {
    let _rng = rng_shared();
    let device = Device::flex();
    // The same image x in a group of four copies and in a group of four different images.
    let x = Tensor::<4>::random([1, 1, 28, 28], Distribution::Default, &device);
    let others = Tensor::<4>::random([3, 1, 28, 28], Distribution::Default, &device);
    let copies = Tensor::cat(vec![x.clone(); 4], 0);
    let mixed = Tensor::cat(vec![x, others], 0);
    let first = |d: &latentlab::model::Discriminator, batch: Tensor<4>| -> Vec<f32> {
        let out = d.forward_grouped(batch, 4);
        out.slice([0..1, 0..CLASSES + 1])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    };
    let differ = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    };

    let mut spec = GanSpec::ours(GanKind::Acgan);
    spec.minibatch_std = true;
    let d = Gan::new(&spec, &device).unwrap().discriminator;
    let gap = differ(&first(&d, copies.clone()), &first(&d, mixed.clone()));
    assert!(
        gap > 1e-4,
        "the group's spread reaches the outputs (gap {gap})"
    );

    spec.minibatch_std = false;
    let d = Gan::new(&spec, &device).unwrap().discriminator;
    let gap = differ(&first(&d, copies), &first(&d, mixed));
    assert!(
        gap < 1e-5,
        "without it each image is judged alone (gap {gap})"
    );
    assert_eq!(stddev_group(64), 4);
    assert_eq!(stddev_group(6), 2);
    assert_eq!(stddev_group(7), 1);
}

/// A `wgan` whose critic has layer norm (`critic_norm`, as its preset has now).
fn wgan_with_critic_norm() -> GanSpec {
    let mut spec = GanSpec::ours(GanKind::Wgan);
    spec.critic_norm = true;
    spec
}

#[test]
fn the_critics_layer_norm_rates_each_digit_on_its_own_and_undoes_a_layers_scale() {
    let _rng = rng_shared();
    let device = Device::flex();
    let spec = wgan_with_critic_norm();
    let gan = Gan::new(&spec, &device).unwrap();
    let d = gan.discriminator;
    assert_eq!(
        d.norm.len(),
        d.conv.len() - 1,
        "after every conv but the first"
    );
    let images = Tensor::<4>::random([5, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let batched = scores(&d, images.clone());
    // Per image, unlike batch norm: each digit alone is rated as it is in the batch.
    for (i, score) in batched.iter().enumerate() {
        let alone = scores(&d, images.clone().narrow(0, i, 1));
        assert!(
            (alone[0] - score).abs() < 1e-5,
            "{i}: {} vs {score}",
            alone[0]
        );
    }
    // The second convolution's weights and bias tripled: the norm undoes it (but for its
    // epsilon in the variance: 2e-4 relative here), where without the norm it moves every score.
    assert!(tripling_the_second_conv_moves_scores_by(&d, images.clone()) < 2e-3);
    let mut spec = GanSpec::ours(GanKind::Wgan);
    spec.critic_norm = false;
    let plain = Gan::new(&spec, &device).unwrap();
    assert!(tripling_the_second_conv_moves_scores_by(&plain.discriminator, images) > 0.1);
}

/// `d`'s outputs for `images`, row after row.
fn scores(d: &latentlab::model::Discriminator, images: Tensor<4>) -> Vec<f32> {
    d.forward(images).into_data().try_to_vec::<f32>().unwrap()
}

/// The largest relative change of `d`'s scores of `images` when its second convolution's
/// weights and bias are tripled.
fn tripling_the_second_conv_moves_scores_by(
    d: &latentlab::model::Discriminator,
    images: Tensor<4>,
) -> f32 {
    let mut tripled = d.clone();
    let conv = &mut tripled.conv[1];
    conv.weight = conv.weight.clone().map(|w| w.mul_scalar(3.0));
    conv.bias = conv.bias.take().map(|b| b.map(|b| b.mul_scalar(3.0)));
    let (before, after) = (scores(d, images.clone()), scores(&tripled, images));
    before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b).abs() / b.abs().max(1e-2))
        .fold(0.0, f32::max)
}

#[test]
fn clipping_keeps_critic_weights_in_range_through_training() {
    let _rng = rng_shared();
    let device = Device::flex();
    // With layer norm in the critic (its scales and shifts are clipped too) and the minibatch
    // deviation (its weight and bias too): every parameter of the critic, biases included.
    let mut spec = wgan_with_critic_norm();
    spec.minibatch_std = true;
    let gan = Gan::new(&spec, &device).unwrap();
    assert!(
        floats(&gan.discriminator).iter().any(|w| w.abs() > 0.01),
        "not clipped before"
    );
    let clipped = clip_weights(gan.discriminator.clone(), 0.01);
    let gan = Gan {
        discriminator: clipped,
        generator: gan.generator,
    };
    assert!(
        floats(&gan.discriminator)
            .iter()
            .all(|w| w.abs() <= 0.01 + 1e-7)
    );

    // Every critic step of a WGAN run clips again.
    let (train_set, val) = mnist().train.take(320).split(0.2, 1).unwrap();
    let model = Gan::new(&spec, &device.clone().autodiff()).unwrap();
    let mut learner = Adversarial::new(&spec, 1, &device).unwrap();
    let out = pollster::block_on(train(
        model,
        &mut learner,
        &train_set,
        &val,
        &settings(64, 1),
        &device,
        &mut NoHooks,
    ));
    assert_eq!(out.history.len(), 1);
    assert!(
        floats(&out.model.valid().discriminator)
            .iter()
            .all(|w| w.abs() <= 0.01 + 1e-7)
    );
    assert_eq!(out.history[0].losses.len(), 2, "d and g reported");
}

/// The largest input-gradient norm of the critic over random images: a lower bound of its
/// Lipschitz constant (first-order autodiff is enough for that). `d` lives on an autodiff device.
fn max_gradient_norm(d: &latentlab::model::Discriminator, device: &Device) -> f32 {
    let n = 128;
    let x =
        Tensor::<4>::random([n, 1, 28, 28], Distribution::Uniform(0.0, 1.0), device).require_grad();
    // Each image's score depends on that image alone (no batch norm, no dropout), so the
    // gradient of the sum holds every image's own gradient.
    let grads = d.forward(x.clone()).sum().backward();
    let g = x.grad(&grads).expect("the input takes part");
    g.reshape([n, 784])
        .square()
        .sum_dim(1)
        .sqrt()
        .max()
        .into_scalar()
}

#[test]
fn spectral_normalisation_makes_the_critic_1_lipschitz() {
    let _rng = rng_shared();
    let device = Device::flex().autodiff();
    // A tiny critic with large weights: far from 1-Lipschitz before the projection. Without
    // the minibatch deviation (the preset has it), so each image's score depends on that image
    // alone, as `max_gradient_norm` needs; the deviation's part has a test of its own below.
    let mut spec = GanSpec::ours(GanKind::WganSn);
    spec.minibatch_std = false;
    let (spec, d) = tiny_critic(spec, 20.0, &device);
    let before = max_gradient_norm(&d, &device);
    assert!(before > 1.5, "the test critic starts steep: {before}");
    let mut sn = SpectralNorm::new(&spec, &device).unwrap();
    let projected = sn.project(d);
    let after = max_gradient_norm(&projected, &device);
    // Power iteration approaches each layer's norm from below: allow a hair above 1.
    assert!(after <= 1.01, "gradient norm {after} after the projection");
    assert!(
        after > 1e-3,
        "the projection does not flatten the critic: {after}"
    );
    // Projected weights stay leaves the optimiser can update.
    assert!(projected.conv[0].weight.val().is_require_grad());
}

/// A tiny critic for `spec` (one 3x3 convolution, a hidden layer of 16) with weights and biases
/// drawn uniformly within `scale / sqrt(fan_in)` by a generator of its own, on an autodiff
/// device, and the spec it was built from. The draws do not come from burn's generator: it is
/// one per process and tests on other threads draw from it, so a seeded critic taken from it
/// differs from run to run (a critic once came out too flat for the penalty test).
fn tiny_critic(
    mut spec: GanSpec,
    scale: f32,
    device: &Device,
) -> (GanSpec, latentlab::model::Discriminator) {
    spec.arch = ArchSpec {
        conv: vec![ConvSpec {
            channels: 4,
            kernel: 3,
            stride: 2,
            padding: 1,
        }],
        hidden: vec![16],
        ..spec.arch
    };
    let mut d = Gan::new(&spec, device).unwrap().discriminator;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for c in d.conv.iter_mut() {
        let [_, inputs, kh, kw] = c.weight.dims();
        let bound = scale / ((inputs * kh * kw) as f32).sqrt();
        c.weight = redraw(c.weight.clone(), bound, &mut rng);
        c.bias = c.bias.take().map(|b| redraw(b, bound, &mut rng));
    }
    for l in d.linear.iter_mut() {
        let bound = scale / (l.weight.dims()[0] as f32).sqrt();
        l.weight = redraw(l.weight.clone(), bound, &mut rng);
        l.bias = l.bias.take().map(|b| redraw(b, bound, &mut rng));
    }
    (spec, d)
}

/// `param` with new values, uniform in `[-bound, bound)` from `rng`, still a trainable leaf.
fn redraw<const D: usize>(
    param: burn::module::Param<Tensor<D>>,
    bound: f32,
    rng: &mut ChaCha8Rng,
) -> burn::module::Param<Tensor<D>> {
    param.map(|t| uniform(t.dims(), -bound..bound, rng, &t.device()).require_grad())
}

/// A tensor of `dims` with values uniform in `range`, drawn from `rng`.
fn uniform<const D: usize>(
    dims: [usize; D],
    range: std::ops::Range<f32>,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Tensor<D> {
    let values: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| rng.random_range(range.clone()))
        .collect();
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// WGAN-GP's penalty, mean (‖∇ₓD(x)‖ - 1)², from input gradients directly (first-order
/// autodiff evaluates it; it cannot differentiate it).
fn penalty_by_input_gradients(d: &latentlab::model::Discriminator, x: &Tensor<4>) -> f64 {
    let n = x.dims()[0];
    let probe = x.clone().detach().require_grad();
    let grads = d.forward(probe.clone()).sum().backward();
    let g = probe.grad(&grads).expect("the input takes part");
    let norms = g.reshape([n, 784]).square().sum_dim(1).sqrt();
    (norms - 1.0).square().mean().into_scalar::<f32>() as f64
}

/// The finite-difference penalty (`gradient_penalty`) has the value of WGAN-GP's penalty, and
/// its gradient for the critic's weights is that of WGAN-GP's penalty, checked against central
/// differences of the penalty computed from input gradients. The weight gradient is checked on
/// a critic with tanh: with LeakyReLU the penalty is piecewise smooth in the weights, and a
/// central difference across the kinks of thousands of units measures the jumps, not the slope.
#[test]
fn the_gradient_penalty_and_its_weight_gradient_match_wgan_gp() {
    let _rng = rng_shared();
    let device = Device::flex().autodiff();
    let x = uniform(
        [16, 1, 28, 28],
        0.0..1.0,
        &mut ChaCha8Rng::seed_from_u64(12),
        &device,
    );

    // The kind's own critic (LeakyReLU), steep enough that every gradient norm is far from 1.
    let (_, d) = tiny_critic(GanSpec::ours(GanKind::WganGp), 3.0, &device);
    let value = gradient_penalty(&d, x.clone(), PENALTY_STEP).into_scalar::<f32>() as f64;
    let exact = penalty_by_input_gradients(&d, &x);
    assert!(exact > 0.5, "the test critic is steep: {exact}");
    // The tolerances below hold with room over 16 draws of critic and digits (seeds 1-16):
    // LeakyReLU's penalty was at most 3.3% off (exact while the step stays on one linear piece,
    // but over 16 digits it crosses the kinks of a few units), tanh's at most 0.8%, and the
    // weight gradients at most 7.4%. A wrong factor, sign or step would be far outside them.
    assert!(
        (value - exact).abs() <= 0.05 * exact,
        "LeakyReLU: finite-difference penalty {value}, from input gradients {exact}"
    );

    let mut smooth = GanSpec::ours(GanKind::WganGp);
    smooth.leak = 0.0;
    smooth.arch.activation = latentlab::model::Activation::Tanh;
    let (_, d) = tiny_critic(smooth, 3.0, &device);
    let penalty = gradient_penalty(&d, x.clone(), PENALTY_STEP);
    let value = penalty.clone().into_scalar::<f32>() as f64;
    let exact = penalty_by_input_gradients(&d, &x);
    assert!(exact > 0.5, "the test critic is steep: {exact}");
    assert!(
        (value - exact).abs() <= 0.01 * exact,
        "tanh: finite-difference penalty {value}, from input gradients {exact}"
    );
    let grads = penalty.backward();
    let weight = d.conv[0].weight.val();
    let dims = weight.dims();
    let analytic = weight
        .grad(&grads)
        .expect("the penalty reaches the critic's weights")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let w0 = weight.inner().into_data().try_to_vec::<f32>().unwrap();
    let delta = 1e-3f32;
    for entry in [0usize, 5, 13, 22, 31] {
        let at = |shift: f32| {
            let mut w = w0.clone();
            w[entry] += shift;
            let mut moved = d.clone();
            moved.conv[0].weight = moved.conv[0]
                .weight
                .clone()
                .map(|_| Tensor::<4>::from_data(TensorData::new(w, dims), &device).require_grad());
            penalty_by_input_gradients(&moved, &x)
        };
        let numeric = (at(delta) - at(-delta)) / (2.0 * delta as f64);
        let a = analytic[entry] as f64;
        assert!(
            (a - numeric).abs() <= 0.1 * numeric.abs().max(0.1),
            "weight {entry}: penalty gradient {a}, central difference {numeric}"
        );
    }
}

/// A quick judge (one epoch on 6,000 digits) and an ACGAN trained on 6,000 digits for a few
/// epochs: the judge reads the generated digits as the class asked for well above chance.
#[test]
fn a_short_acgan_run_makes_digits_a_judge_recognises() {
    let _rng = rng_shared();
    let device = Device::flex();
    let data = mnist();
    let (train_set, val): (Images, Images) = data.train.take(7000).split(1.0 / 7.0, 2).unwrap();

    let mut judge_spec = ModelSpec::judge();
    judge_spec.train.epochs = 2;
    judge_spec.train.patience = None;
    device.seed(3);
    let judge = Classifier::new(&judge_spec.arch, &device.clone().autodiff()).unwrap();
    let judged = pollster::block_on(fit(
        judge,
        &mut Classification::default(),
        &train_set,
        &val,
        &latentlab::training::FitSettings::from_spec(&judge_spec.train, 3),
        &device,
        &mut NoHooks,
    ));
    let judge = judged.model.valid();
    let accuracy =
        pollster::block_on(latentlab::inference::confusion(&judge, &data.test, &device)).accuracy();
    assert!(accuracy > 0.9, "the quick judge reads digits: {accuracy}");

    let mut spec = GanSpec::ours(GanKind::Acgan);
    spec.train.epochs = 3;
    spec.train.lr_d = 5e-4;
    spec.train.lr_g = 5e-4;
    let model = Gan::new(&spec, &device.clone().autodiff()).unwrap();
    let mut learner = Adversarial::new(&spec, 4, &device).unwrap();
    let reference = pollster::block_on(Reference::new(&judge, &val, 200, 1, &device)).unwrap();
    learner.scorer = Some(Scorer {
        judge,
        reference,
        reports: Vec::new(),
    });
    let out = pollster::block_on(train(
        model,
        &mut learner,
        &train_set,
        &val,
        &settings(64, spec.train.epochs),
        &device,
        &mut NoHooks,
    ));
    assert_eq!(out.stop, StopReason::Completed);
    let reports = &learner.scorer.as_ref().unwrap().reports;
    assert_eq!(reports.len(), 3, "judged after every epoch");
    let last = reports.last().unwrap();
    let accuracy = last.accuracy.unwrap();
    assert!(
        accuracy > 0.5,
        "judged accuracy {accuracy} after 3 short epochs (chance: 0.1): {}",
        last.summary()
    );
    assert_eq!(last.per_class.len(), CLASSES);
    assert!(last.frechet.is_finite() && last.frechet_real.is_finite());
    // The score is the Fréchet distance, and it fell as the generator learned.
    assert!(out.history.last().unwrap().val_loss < out.history[0].val_loss * 1.5);
    assert_eq!(out.history[0].val_loss, reports[0].frechet);
    // A judged run hands back its best-judged generator even when it ran all its epochs.
    let best = out
        .history
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .unwrap();
    assert_eq!(out.model_epoch, best.epoch);
}

#[test]
fn a_time_budget_stops_the_run_and_keeps_the_best_weights() {
    let _rng = rng_shared();
    let device = Device::flex();
    let mut spec = ModelSpec::basic();
    spec.train.batch_size = 32;
    let (train_set, val) = mnist().train.take(2000).split(0.2, 1).unwrap();
    let model = latentlab::model::Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut s = FitSettings::from_spec(&spec.train, 1);
    s.epochs = 1000;
    s.max_seconds = Some(1.5);
    let started = std::time::Instant::now();
    let out = pollster::block_on(fit(
        model,
        &mut latentlab::training::Reconstruction::for_spec(&spec.train, 0),
        &train_set,
        &val,
        &s,
        &device,
        &mut NoHooks,
    ));
    assert!(started.elapsed().as_secs_f64() < 30.0);
    let StopReason::OutOfTime { best_epoch } = out.stop else {
        panic!("{:?}", out.stop)
    };
    assert_eq!(out.model_epoch, best_epoch);
    let best = out
        .history
        .iter()
        .map(|r| r.val_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        out.val_loss(),
        Some(best),
        "the best epoch's weights are kept"
    );
}

/// Every float of a module (weights, biases, batch norm's running statistics), in visit order.
fn floats<M: Module>(module: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let data = param.val().into_data().convert::<f32>();
            self.0.extend(data.try_to_vec::<f32>().unwrap());
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// The generator's running average: each update keeps its share of the average (after the
/// warm-up rule: the first update keeps 1/10) of every weight, while batch norm's statistics
/// stay the live generator's; and a GAN learner with `average` hands back that average, not the
/// live generator.
#[test]
fn the_generators_running_average_blends_every_float_and_is_what_a_run_keeps() {
    use latentlab::training::{Average, Learner};
    let _rng = rng_shared();
    let device = Device::flex();
    let start = Gan::new(&GanSpec::ours(GanKind::Acgan), &device)
        .unwrap()
        .generator;
    struct Shift;
    impl burn::module::ModuleMapper for Shift {
        fn map_float<const D: usize>(
            &mut self,
            p: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            p.map(|w| w + 1.0)
        }
    }
    let was = floats(&start);
    let live = start.clone().map(&mut Shift);
    // burn's clones share batch norm's running statistics (one `RunningState` behind an Arc),
    // so shifting the clone moved those of `start` too; the average shares them as well.
    let shared: Vec<bool> = floats(&start)
        .iter()
        .zip(&was)
        .map(|(now, before)| now != before)
        .collect();
    assert!(
        shared.iter().any(|&s| s),
        "batch norm's statistics are shared"
    );
    assert!(shared.iter().any(|&s| !s), "the weights are not");
    let mut average = Average::new(&start, 0.999);
    let check = |average: &Average<latentlab::model::Generator>, mixed: f32| {
        let off: Vec<(usize, f32, f32)> = floats(&average.module)
            .iter()
            .zip(&was)
            .zip(&shared)
            .enumerate()
            .filter(|(_, ((a, w), s))| {
                let want = if **s { *w + 1.0 } else { *w + mixed };
                (**a - want).abs() >= 1e-5
            })
            .map(|(i, ((a, w), _))| (i, *w, *a))
            .take(5)
            .collect();
        assert!(off.is_empty(), "(index, start, average) {off:?}");
    };
    average.update(&live);
    check(&average, 0.9); // the first update keeps 1/10 of the average
    average.update(&live);
    check(&average, 1.0 - 0.1 * 2.0 / 11.0); // the second keeps 2/11

    // In a run: after two steps the kept generator is the average, the critic the live one.
    let mut spec = GanSpec::ours(GanKind::Acgan);
    spec.train.average = Some(0.999);
    let autodiff = device.clone().autodiff();
    let images = mnist().train.take(128);
    let mut model = Gan::new(&spec, &autodiff).unwrap();
    let mut learner = Adversarial::new(&spec, 1, &device).unwrap();
    for batch in [(0..64).collect::<Vec<_>>(), (64..128).collect()] {
        model = learner.step(model, &images, &batch, &autodiff).0;
    }
    let kept = learner.kept(&model);
    assert_ne!(floats(&kept.generator), floats(&model.generator));
    assert_eq!(floats(&kept.discriminator), floats(&model.discriminator));
    // Without `average` the run keeps the live generator.
    spec.train.average = None;
    let mut learner = Adversarial::new(&spec, 1, &device).unwrap();
    let model = learner
        .step(model, &images, &(0..64).collect::<Vec<_>>(), &autodiff)
        .0;
    assert_eq!(
        floats(&learner.kept(&model).generator),
        floats(&model.generator)
    );
}

/// A GAN step cut into shards (one per CPU thread, `training/shards.rs`) learns as one pass over
/// the whole batch does: a seeded first step (both nets learn) on pools of 1, 2 and 3 threads
/// moves every weight of both nets alike, for the paired conditional GAN with the minibatch
/// deviation (its groups dealt whole to the shards) and for the critic's gradient penalty.
/// Without batch norm: with it each shard normalises by its own statistics.
#[test]
fn a_gan_step_in_shards_moves_the_weights_as_one_pass_does() {
    use latentlab::training::Learner;
    let _rng = rng_shared();
    let device = Device::flex();
    let autodiff = device.clone().autodiff();
    let images = mnist().train.take(96);
    let batch: Vec<usize> = (0..96).collect();
    for kind in [GanKind::Acgan, GanKind::WganGp] {
        let mut spec = GanSpec::ours(kind);
        spec.batch_norm = false;
        let start = Gan::new(&spec, &autodiff).unwrap();
        let before = floats(&start); // also draws the lazily initialised weights, once
        let step_on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut learner = Adversarial::new(&spec, 3, &device).unwrap();
                let (model, losses) = learner.step(start.clone(), &images, &batch, &autodiff);
                (
                    floats(&model),
                    losses.into_data().try_to_vec::<f32>().unwrap(),
                )
            })
        };
        let (whole, whole_losses) = step_on(1);
        let moved = whole.iter().zip(&before).filter(|(a, b)| a != b).count();
        assert!(
            moved > whole.len() / 2,
            "{kind:?}: the step moved {moved} floats"
        );
        for threads in [2, 3] {
            let (sharded, losses) = step_on(threads);
            // Adam's first step moves a weight by up to the rate (1e-4 to 2e-4) whatever the
            // gradient's size; float rounding of the summed shards moves it by far less (an ulp
            // or two of weights near 1). Except where the whole batch's gradient is 0 but for
            // rounding (the critic's output bias under the Wasserstein loss: real and fake
            // terms cancel): Adam scales that noise up to the rate, in either direction. A
            // shard's gradient lost or miscounted would move most weights by about the rate.
            let off = whole
                .iter()
                .zip(&sharded)
                .filter(|(a, b)| (*a - *b).abs() > 2e-6)
                .count();
            assert!(
                off <= whole.len() / 1000,
                "{kind:?} on {threads} threads: {off} of {} floats differ",
                whole.len()
            );
            // The losses: the discriminator's before either net moved; the generator's after the
            // discriminator's step (so off by what that output bias moved).
            let [d, g] = [0, 1].map(|i| (whole_losses[i] - losses[i]).abs());
            assert!(
                d < 1e-5 * whole_losses[0].abs().max(1.0),
                "{kind:?}: {losses:?} vs {whole_losses:?}"
            );
            assert!(g < 1e-3, "{kind:?}: {losses:?} vs {whole_losses:?}");
        }
    }
}

/// The minibatch deviation's weights belong to the critic's last layer: the projection bounds
/// them too (they start at norm 5 here).
#[test]
fn spectral_normalisation_bounds_the_minibatch_deviations_weight() {
    // The deviation is one more input of the critic's last layer: the projection must bound
    // that layer's weights and the deviation's together (one output: the norm of the two
    // weight vectors joined), not each on its own, and keep their ratio.
    let device = Device::flex().autodiff();
    let mut spec = GanSpec::ours(GanKind::WganSn);
    spec.minibatch_std = true;
    let (spec, mut d) = tiny_critic(spec, 1.0, &device);
    let stddev = d.stddev.as_mut().expect("built with the deviation");
    stddev.weight = stddev
        .weight
        .clone()
        .map(|w| (w.ones_like() * 5.0).require_grad());
    let last_norm = |d: &latentlab::model::Discriminator| -> f32 {
        let w = d.linear.last().expect("a last layer").weight.val();
        w.square().sum().sqrt().into_scalar()
    };
    let before = last_norm(&d);
    assert!(before > 0.1, "the last layer has weights ({before})");
    let projected = SpectralNorm::new(&spec, &device).unwrap().project(d);
    let layer = last_norm(&projected);
    let deviation: f32 = projected
        .stddev
        .as_ref()
        .expect("kept")
        .weight
        .val()
        .square()
        .sum()
        .sqrt()
        .into_scalar();
    let joined = (layer * layer + deviation * deviation).sqrt();
    assert!(
        (joined - 1.0).abs() < 1e-4,
        "the last layer with the deviation has norm {joined} (layer {layer}, deviation {deviation})"
    );
    assert!(
        (deviation / layer - 5.0 / before).abs() < 1e-3 * (5.0 / before),
        "both scaled alike: {deviation} / {layer} against 5 / {before}"
    );
}
