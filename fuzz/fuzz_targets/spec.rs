//! Spec JSON (autoencoder, GAN, classifier) as `--spec` files and the page's editor give it:
//! any text parses and validates or gives an error naming the field, never a panic.
#![no_main]

use latentlab::model::{ClassifierSpec, GanSpec, ModelSpec, from_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(spec) = from_json::<ModelSpec>(text)
        && spec.validate().is_ok()
    {
        let _ = spec.arch.param_counts();
        let _ = spec.train.fits_data(1000);
    }
    if let Ok(spec) = from_json::<GanSpec>(text) {
        let _ = spec.validate();
    }
    let _ = from_json::<ClassifierSpec>(text);
});
