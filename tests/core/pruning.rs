//! Pruning: each layer loses its group's fraction of its remaining weights on schedule, pruned
//! weights stay zero while training goes on, and the zeros (the mask) survive a save and load.

use burn::prelude::*;
use latentlab::model::{Autoencoder, ModelSpec, PruneReading, PruneScope, PruneSpec};
use latentlab::store;
use latentlab::training::{FitSettings, NoHooks, Pruning, fit_spec, sparsity};

use crate::common::{mnist, rng_shared};

/// Zero weights per layer after pruning `n` weights by `amount` of the remaining, `times` times.
fn expected_zeros(n: usize, amount: f64, times: usize) -> usize {
    let mut left = n;
    for _ in 0..times {
        left -= (amount * left as f64).floor() as usize;
    }
    n - left
}

fn amount_of(layer: &str, p: &PruneSpec) -> f64 {
    match layer {
        l if l.starts_with("encoder.conv") => p.encoder_conv,
        l if l.starts_with("encoder.linear") => p.encoder_linear,
        l if l.starts_with("decoder.linear") => p.decoder_linear,
        _ => p.decoder_conv,
    }
}

#[test]
fn pruned_weights_stay_zero_through_training_and_save_load() {
    let _rng = rng_shared();
    let (train, val) = mnist().train.take(600).split(0.2, 1).unwrap();
    let device = Device::flex();
    device.seed(11);
    let mut spec = ModelSpec::basic();
    let prune = PruneSpec {
        every: 2,
        encoder_conv: 0.5,
        encoder_linear: 0.4,
        decoder_linear: 0.25,
        decoder_conv: 0.1,
        ..PruneSpec::study()
    };
    spec.train.pruning = Some(prune.clone());
    let model = Autoencoder::new(&spec.arch, &device.clone().autodiff()).unwrap();
    let mut settings = FitSettings::from_spec(&spec.train, 3);
    // Prune at epoch 2 only; epoch 3 trains on with the masks held.
    settings.epochs = 3;
    settings.batch_size = 32;
    let out = pollster::block_on(fit_spec(
        model,
        &spec.train,
        &train,
        &val,
        &settings,
        &device,
        NoHooks,
    ));
    assert_eq!(out.history.len(), 3);
    let model = out.model.valid();

    let layers = pollster::block_on(sparsity(&model));
    assert_eq!(
        layers.len(),
        3 + 3 + 3 + 3,
        "every conv and linear weight of basic"
    );
    for l in &layers {
        let zeros = (l.zero_fraction * l.weights as f64).round() as usize;
        let want = expected_zeros(l.weights, amount_of(&l.layer, &prune), 1);
        assert_eq!(
            zeros, want,
            "{}: {zeros} zero weights after one prune and another epoch",
            l.layer
        );
    }

    // The zeros are in the file, and pruning again continues from them.
    let bytes = store::save(model, &spec);
    let (_, loaded) = store::load("pruned.bpk", &bytes, &device).unwrap();
    assert_eq!(pollster::block_on(sparsity(&loaded)), layers);
    let mut again = Pruning::new(Some(prune.clone()), NoHooks);
    let twice = pollster::block_on(sparsity(&pollster::block_on(again.prune(loaded))));
    for l in &twice {
        let zeros = (l.zero_fraction * l.weights as f64).round() as usize;
        assert_eq!(
            zeros,
            expected_zeros(l.weights, amount_of(&l.layer, &prune), 2),
            "{}",
            l.layer
        );
    }
}

#[test]
fn impossible_pruning_is_a_spec_error() {
    let mut spec = ModelSpec::best();
    spec.train.pruning = Some(PruneSpec {
        every: 0,
        ..PruneSpec::study()
    });
    assert!(spec.validate().unwrap_err().to_string().contains("every"));
    spec.train.pruning = Some(PruneSpec {
        encoder_linear: 1.0,
        ..PruneSpec::study()
    });
    assert!(
        spec.validate()
            .unwrap_err()
            .to_string()
            .contains("encoder linear")
    );
}

/// A fresh `basic` net (tanh, so its weights are all non-zero) to prune by hand.
fn fresh_net(seed: u64) -> Autoencoder {
    let _rng = rng_shared();
    let device = Device::flex();
    device.seed(seed);
    let mut arch = ModelSpec::basic().arch;
    arch.activation = latentlab::model::Activation::Tanh;
    Autoencoder::new(&arch, &device).unwrap()
}

fn zeros(model: &Autoencoder) -> Vec<(String, usize, usize)> {
    pollster::block_on(sparsity(model))
        .into_iter()
        .map(|l| {
            let z = (l.zero_fraction * l.weights as f64).round() as usize;
            (l.layer, z, l.weights)
        })
        .collect()
}

#[test]
fn a_target_reading_prunes_once_to_the_amount() {
    let prune = PruneSpec {
        reading: PruneReading::Target,
        ..PruneSpec::study()
    };
    let mut hooks = Pruning::new(Some(prune.clone()), NoHooks);
    let once = pollster::block_on(hooks.prune(fresh_net(5)));
    let after_one = zeros(&once);
    for (layer, z, n) in &after_one {
        let want = (amount_of(layer, &prune) * *n as f64).floor() as usize;
        assert_eq!(
            *z, want,
            "{layer}: the target sparsity after the first step"
        );
    }
    // The target is reached: a second step changes nothing.
    let twice = pollster::block_on(hooks.prune(once));
    assert_eq!(zeros(&twice), after_one);
}

#[test]
fn a_group_scope_ranks_the_layers_of_a_group_together() {
    let prune = PruneSpec {
        scope: PruneScope::Group,
        ..PruneSpec::study()
    };
    let net = fresh_net(6);
    let mut hooks = Pruning::new(Some(prune.clone()), NoHooks);
    let pruned = zeros(&pollster::block_on(hooks.prune(net)));
    // Each group loses its amount of its weights in total...
    for (group, amount) in [
        ("encoder.conv", prune.encoder_conv),
        ("encoder.linear", prune.encoder_linear),
        ("decoder.linear", prune.decoder_linear),
        ("decoder.conv", prune.decoder_conv),
    ] {
        let (z, n) = pruned
            .iter()
            .filter(|(l, _, _)| l.starts_with(group))
            .fold((0, 0), |(z, n), (_, lz, ln)| (z + lz, n + ln));
        assert_eq!(z, (amount * n as f64).floor() as usize, "{group}");
    }
    // ...but not evenly: layers of larger weights keep more (default init scales with fan-in).
    let fractions: Vec<f64> = pruned
        .iter()
        .filter(|(l, _, _)| l.starts_with("encoder.linear"))
        .map(|(_, z, n)| *z as f64 / *n as f64)
        .collect();
    assert!(
        fractions.windows(2).any(|w| (w[0] - w[1]).abs() > 0.01),
        "per-layer fractions differ under a global ranking: {fractions:?}"
    );
}

#[test]
fn pruning_stops_after_until() {
    let prune = PruneSpec::with_options("every=5,until=15").unwrap();
    let due: Vec<usize> = (1..=30).filter(|&e| prune.due(e)).collect();
    assert_eq!(due, vec![5, 10, 15]);
    assert_eq!(PruneSpec::with_options("").unwrap(), PruneSpec::study());
    let custom = PruneSpec::with_options("reading=target, scope=group, encoder_conv=0.2").unwrap();
    assert_eq!(custom.reading, PruneReading::Target);
    assert_eq!(custom.scope, PruneScope::Group);
    assert_eq!(custom.encoder_conv, 0.2);
    for bad in ["every", "reading=all", "scope=net", "until=x", "colour=red"] {
        assert!(PruneSpec::with_options(bad).is_err(), "{bad}");
    }
}
