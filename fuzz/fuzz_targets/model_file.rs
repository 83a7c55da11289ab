//! Model files (burnpack with a latentlab spec in the metadata) as `load_any` reads them for the
//! CLI and the page: any bytes load as a net or give an error, never a panic. (A spec's nets are
//! bounded by shape inference's parameter limit, so building one stays within memory.)
#![no_main]

use burn::prelude::Device;
use latentlab::store;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = store::check_finite("fuzz", bytes);
    let _ = store::load_any("fuzz", bytes, &Device::flex());
});
