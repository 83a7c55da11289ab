//! Pruning: each layer loses its group's fraction of its remaining weights on schedule, pruned
//! weights stay zero while training goes on, and the zeros (the mask) survive a save and load.

use burn::prelude::*;
use latentlab::model::{Autoencoder, ModelSpec, PruneSpec};
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
