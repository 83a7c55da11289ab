//! Data: IDX parsing, the MNIST dataset with its seeded splits, and batches as tensors.

pub mod batch;
pub mod idx;
pub mod mnist;
pub mod noise;

pub use batch::{BatchOrder, images_to_pixels, images_to_tensor};
pub use idx::IdxError;
pub use mnist::{DataError, Images, Mnist};
pub use noise::{Noise, NoiseStack};
