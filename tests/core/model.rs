//! The autoencoder built from specs: shapes agree with the spec's inference for many specs.

use burn::prelude::*;
use latentlab::model::{ArchSpec, Autoencoder, ModelSpec};
use latentlab::search::{Candidate, RandomSuggest, SearchSettings, draw};

use crate::common::rng_shared;

fn check_forward(arch: &ArchSpec) {
    let device = Device::flex();
    let model = Autoencoder::new(arch, &device).expect("valid spec builds");
    let x = Tensor::<4>::ones([2, 1, 28, 28], &device);
    let z = model.encoder.forward(x.clone());
    assert_eq!(z.dims(), [2, arch.latent]);
    let y = model.forward(x);
    assert_eq!(y.dims(), [2, 1, 28, 28], "{arch:?}");
    let v = y.into_data().try_to_vec::<f32>().unwrap();
    assert!(v.iter().all(|p| *p > 0.0 && *p < 1.0), "sigmoid output");
    // The parameter count derived from the spec is the one burn builds.
    let (enc, dec) = arch.param_counts().unwrap();
    assert_eq!(model.num_params(), enc + dec);
}

#[test]
fn presets_build_and_reconstruct_28x28() {
    let _rng = rng_shared();
    check_forward(&ModelSpec::basic().arch);
    check_forward(&ModelSpec::best().arch);
}

/// The study's search space: 2-4 conv layers, kernels 2-6, strides 1-4, padding up to half the
/// kernel, 1-3 hidden layers. Every spec the inference accepts must build and output 28x28 (the
/// derived output paddings agree with burn's transposed convolution), and the inference must
/// reject the others before any tensor exists.
#[test]
fn random_specs_from_the_search_space_build_or_are_rejected() {
    let _rng = rng_shared();
    let mut random = RandomSuggest::new(5);
    let settings = SearchSettings { epochs: 1 };
    let (mut ok, mut rejected) = (0, 0);
    for _ in 0..60 {
        let arch = match draw(&mut random, &settings).unwrap() {
            Candidate::Valid(spec) | Candidate::Invalid(spec, _) => spec.arch,
        };
        match arch.shapes() {
            Ok(_) => {
                check_forward(&arch);
                ok += 1;
            }
            Err(e) => {
                assert!(Autoencoder::new(&arch, &Device::flex()).is_err());
                assert!(!e.to_string().is_empty());
                rejected += 1;
            }
        }
    }
    assert!(
        ok > 10 && rejected > 5,
        "both kinds covered: {ok} built, {rejected} rejected"
    );
}
