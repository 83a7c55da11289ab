//! Model files: a save/load round trip gives identical outputs; a file for another architecture
//! or not a model at all is a clear error.

use burn::prelude::*;
use latentlab::data::images_to_tensor;
use latentlab::model::{Autoencoder, ModelSpec};
use latentlab::store::{self, StoreError};

use crate::common::{mnist, rng_shared};

#[test]
fn round_trip_gives_identical_outputs() {
    let _rng = rng_shared();
    let device = Device::flex();
    device.seed(9);
    for spec in [ModelSpec::basic(), ModelSpec::best()] {
        let model = Autoencoder::new(&spec.arch, &device).unwrap();
        let x = images_to_tensor(&mnist().test, &[0, 1, 2, 3], &device);
        let before = model
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let bytes = store::save(model, &spec);
        let (loaded_spec, loaded) = store::load("m.bpk", &bytes, &device).unwrap();
        assert_eq!(loaded_spec, spec);
        let after = loaded.forward(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(before, after);
    }
}

/// The path the page takes on WebGPU (weights read back asynchronously into a CPU copy) writes
/// the same file as the direct one, and the copy computes the same outputs.
#[test]
fn saving_through_a_cpu_copy_writes_the_same_file() {
    let _rng = rng_shared();
    let device = Device::flex();
    device.seed(3);
    let spec = ModelSpec::best();
    let model = Autoencoder::new(&spec.arch, &device).unwrap();
    let x = images_to_tensor(&mnist().test, &[5, 6], &device);
    let direct = model
        .forward(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let copy = pollster::block_on(store::to_cpu(model.clone()));
    let copied = copy.forward(x).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(direct, copied);
    let via_copy = pollster::block_on(store::save_async(model.clone(), &spec));
    assert_eq!(via_copy, store::save(model, &spec));
}

#[test]
fn weights_for_another_architecture_are_rejected() {
    let _rng = rng_shared();
    let device = Device::flex();
    let bytes = store::save(
        Autoencoder::new(&ModelSpec::basic().arch, &device).unwrap(),
        &ModelSpec::basic(),
    );
    let err = store::load_with_spec("basic.bpk", &bytes, &ModelSpec::best(), &device).unwrap_err();
    assert!(matches!(err, StoreError::WrongArchitecture { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("basic.bpk") && message.contains("different architecture"),
        "{message}"
    );
}

#[test]
fn garbage_is_not_a_model() {
    let device = Device::flex();
    let err = store::load("x.bpk", b"definitely not burnpack", &device).unwrap_err();
    assert!(matches!(err, StoreError::NotAModel { .. }), "{err}");
    assert!(err.to_string().contains("x.bpk"));
}
