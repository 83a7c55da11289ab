//! IDX image and label files (gzip or raw) as MNIST's loader reads them: any bytes give pixels,
//! labels or an error, never a panic, a hang or an allocation the input does not pay for.
#![no_main]

use latentlab::data::idx;
use latentlab::data::mnist::Images;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let pixels = idx::parse_images("fuzz", bytes);
    let labels = idx::parse_labels("fuzz", bytes);
    // The same bytes as both files of a set: images and labels must agree in count.
    let _ = Images::from_idx(("fuzz-images", bytes), ("fuzz-labels", bytes));
    if let Ok(pixels) = pixels {
        assert_eq!(pixels.len() % (28 * 28), 0);
    }
    if let Ok(labels) = labels {
        assert!(labels.iter().all(|&l| l < 10));
    }
});
