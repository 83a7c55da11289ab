//! Turning images into tensors, and the seeded order in which an epoch visits them.

use burn::prelude::*;
use burn::tensor::TensorData;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::mnist::{Images, PIXELS};

/// The pixels of the images at `indices`, one after the other, in [0, 1].
pub fn images_to_pixels(images: &Images, indices: &[usize]) -> Vec<f32> {
    let mut values = Vec::with_capacity(indices.len() * PIXELS);
    for &i in indices {
        values.extend(images.image(i).iter().map(|&p| p as f32 * (1.0 / 255.0)));
    }
    values
}

/// The images at `indices` as a [n, 1, 28, 28] tensor with pixels in [0, 1].
pub fn images_to_tensor(images: &Images, indices: &[usize], device: &Device) -> Tensor<4> {
    let values = images_to_pixels(images, indices);
    Tensor::from_data(TensorData::new(values, [indices.len(), 1, 28, 28]), device)
}

/// Seeded shuffled batches of indices, reshuffled every epoch (like a shuffling DataLoader that
/// keeps the last, smaller batch).
#[derive(Clone, Debug)]
pub struct BatchOrder {
    rng: ChaCha8Rng,
    len: usize,
    batch_size: usize,
}

impl BatchOrder {
    pub fn new(len: usize, batch_size: usize, seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            len,
            batch_size: batch_size.max(1),
        }
    }

    /// Number of batches per epoch.
    pub fn batches(&self) -> usize {
        self.len.div_ceil(self.batch_size)
    }

    /// The next epoch's batches.
    pub fn epoch(&mut self) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len).collect();
        order.shuffle(&mut self.rng);
        order
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Batches in dataset order, for evaluation.
    pub fn sequential(len: usize, batch_size: usize) -> Vec<Vec<usize>> {
        (0..len)
            .collect::<Vec<_>>()
            .chunks(batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_everything_once_and_differ() {
        let mut order = BatchOrder::new(10, 4, 1);
        assert_eq!(order.batches(), 3);
        let a = order.epoch();
        let b = order.epoch();
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut flat: Vec<usize> = a.concat();
        flat.sort();
        assert_eq!(flat, (0..10).collect::<Vec<_>>());
        assert_ne!(a, b);
        assert_eq!(BatchOrder::new(10, 4, 1).epoch(), a, "seeded");
    }

    #[test]
    fn tensor_scales_pixels() {
        let images = Images::new(
            (0..2 * PIXELS)
                .map(|i| if i < PIXELS { 255 } else { 51 })
                .collect(),
            vec![1, 2],
        );
        let t = images_to_tensor(&images, &[1, 0], &Device::flex());
        assert_eq!(t.dims(), [2, 1, 28, 28]);
        let v = t.into_data().try_into_vec::<f32>().unwrap();
        assert!((v[0] - 0.2).abs() < 1e-6 && (v[PIXELS] - 1.0).abs() < 1e-6);
    }
}
