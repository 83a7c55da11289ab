//! The MNIST dataset (or Fashion-MNIST: same format) held as u8 pixels, with seeded splits.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use super::idx::{self, IMAGE_MAGIC, IdxError, LABEL_MAGIC, maybe_gunzip};

/// Pixels per image (28x28).
pub const PIXELS: usize = 28 * 28;
/// The standard file names, in the order train images, train labels, test images, test labels.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

#[derive(Debug, Error, PartialEq)]
pub enum DataError {
    #[error(transparent)]
    Idx(#[from] IdxError),
    #[error("{0}")]
    Missing(String),
    #[error("cannot split {n} images into {what}")]
    BadSplit { n: usize, what: String },
}

/// A set of images with their labels. Pixels stay u8 (a quarter of the memory of f32) and are
/// scaled to [0, 1] when a batch is made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl Images {
    /// Pairs pixels (n x 784) with labels (n); the counts must agree.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>) -> Self {
        assert_eq!(
            pixels.len(),
            labels.len() * PIXELS,
            "pixels and labels disagree"
        );
        Self { pixels, labels }
    }

    /// Parses an image file and a label file (gzip or raw), checking that their counts match.
    pub fn from_idx(images: (&str, &[u8]), labels: (&str, &[u8])) -> Result<Self, DataError> {
        let pixels = idx::parse_images(images.0, images.1)?;
        let label_vec = idx::parse_labels(labels.0, labels.1)?;
        if pixels.len() / PIXELS != label_vec.len() {
            return Err(IdxError::CountMismatch {
                images: images.0.to_string(),
                n_images: pixels.len() / PIXELS,
                labels: labels.0.to_string(),
                n_labels: label_vec.len(),
            }
            .into());
        }
        Ok(Self::new(pixels, label_vec))
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The 784 pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Image `i` as f32 in [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut pixels = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Self {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// The first `n` images (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            pixels: self.pixels[..n * PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// A seeded permutation of 0..len.
    fn permutation(&self, seed: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        order
    }

    /// Seeded train/validation split: `val_fraction` of the images (rounded) go to validation.
    pub fn split(&self, val_fraction: f64, seed: u64) -> Result<(Self, Self), DataError> {
        let n_val = (self.len() as f64 * val_fraction).round() as usize;
        if !(0.0..1.0).contains(&val_fraction) || n_val == 0 || n_val >= self.len() {
            return Err(DataError::BadSplit {
                n: self.len(),
                what: format!("a validation fraction of {val_fraction}"),
            });
        }
        let order = self.permutation(seed);
        Ok((self.select(&order[n_val..]), self.select(&order[..n_val])))
    }

    /// Fold `fold` of a seeded `k`-fold partition: (train = the other folds, validation = this one).
    /// Folds are disjoint and together cover every image; their sizes differ by at most one.
    pub fn kfold(&self, k: usize, fold: usize, seed: u64) -> Result<(Self, Self), DataError> {
        if k < 2 || fold >= k || k > self.len() {
            return Err(DataError::BadSplit {
                n: self.len(),
                what: format!("fold {fold} of {k}"),
            });
        }
        let order = self.permutation(seed);
        let bounds = |f: usize| f * self.len() / k;
        let (lo, hi) = (bounds(fold), bounds(fold + 1));
        let train: Vec<usize> = order[..lo].iter().chain(&order[hi..]).copied().collect();
        Ok((self.select(&train), self.select(&order[lo..hi])))
    }
}

/// The whole dataset: 60k training images (split later into train/validation) and the 10k test
/// images, which are only ever used for the final evaluation.
#[derive(Clone, Debug, Default)]
pub struct Mnist {
    pub train: Images,
    pub test: Images,
}

/// A (name, bytes) pair as [`Mnist::from_idx`] takes it.
fn file(f: &(u32, String, Vec<u8>)) -> (&str, &[u8]) {
    (f.1.as_str(), f.2.as_slice())
}

impl Mnist {
    /// Builds the dataset from the four IDX files, each given as (name, bytes), in the order of
    /// [`FILE_NAMES`].
    pub fn from_idx(files: [(&str, &[u8]); 4]) -> Result<Self, DataError> {
        Ok(Self {
            train: Images::from_idx(files[0], files[1])?,
            test: Images::from_idx(files[2], files[3])?,
        })
    }

    /// Builds the dataset from four files in any order and under any names (files a person picked
    /// or dropped), recognised by content: magic number says images or labels, and the larger
    /// image and label files are the training set. Each file may be gzip or raw.
    pub fn from_unordered(files: Vec<(String, Vec<u8>)>) -> Result<Self, String> {
        if files.len() != 4 {
            return Err(format!(
                "pick the four MNIST files (train/test images and labels); got {} file(s)",
                files.len()
            ));
        }
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for (name, bytes) in files {
            let raw = maybe_gunzip(&name, &bytes).map_err(|e| e.to_string())?;
            let word = |at: usize| {
                raw.get(at..at + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            };
            let count = word(4).unwrap_or(0);
            match word(0) {
                Some(IMAGE_MAGIC) => images.push((count, name, raw)),
                Some(LABEL_MAGIC) => labels.push((count, name, raw)),
                _ => {
                    return Err(format!(
                        "{name}: not an IDX image or label file (wrong magic number)"
                    ));
                }
            }
        }
        if images.len() != 2 || labels.len() != 2 {
            return Err(format!(
                "need two image files and two label files; got {} image and {} label file(s)",
                images.len(),
                labels.len()
            ));
        }
        images.sort_by_key(|f| std::cmp::Reverse(f.0));
        labels.sort_by_key(|f| std::cmp::Reverse(f.0));
        Self::from_idx([
            file(&images[0]),
            file(&labels[0]),
            file(&images[1]),
            file(&labels[1]),
        ])
        .map_err(|e| e.to_string())
    }

    /// The seeded 80/20 train/validation split of the training set used throughout the study.
    pub fn train_val(&self, seed: u64) -> Result<(Images, Images), DataError> {
        self.train.split(0.2, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> Images {
        let pixels = (0..n * PIXELS).map(|i| (i / PIXELS) as u8).collect();
        Images::new(pixels, (0..n).map(|i| (i % 10) as u8).collect())
    }

    fn ids(images: &Images) -> Vec<u8> {
        (0..images.len()).map(|i| images.image(i)[0]).collect()
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let data = toy(50);
        let (train, val) = data.split(0.2, 7).unwrap();
        assert_eq!((train.len(), val.len()), (40, 10));
        let mut all: Vec<u8> = ids(&train).into_iter().chain(ids(&val)).collect();
        all.sort();
        assert_eq!(all, (0..50).collect::<Vec<u8>>());
        assert_eq!(data.split(0.2, 7).unwrap().1, val, "same seed, same split");
        assert_ne!(
            data.split(0.2, 8).unwrap().1,
            val,
            "other seed, other split"
        );
        // Labels travel with their images.
        for i in 0..val.len() {
            assert_eq!(val.labels()[i], val.image(i)[0] % 10);
        }
    }

    #[test]
    fn kfold_folds_are_disjoint_and_cover() {
        let data = toy(23);
        let mut seen = Vec::new();
        for fold in 0..5 {
            let (train, val) = data.kfold(5, fold, 3).unwrap();
            assert_eq!(train.len() + val.len(), 23);
            let v = ids(&val);
            assert!(ids(&train).iter().all(|t| !v.contains(t)));
            seen.extend(v);
        }
        seen.sort();
        assert_eq!(seen, (0..23).collect::<Vec<u8>>());
        assert!(data.kfold(1, 0, 3).is_err());
        assert!(data.kfold(5, 5, 3).is_err());
    }

    #[test]
    fn bad_splits_are_errors() {
        assert!(toy(3).split(0.0, 1).is_err());
        assert!(toy(3).split(1.0, 1).is_err());
        assert!(toy(1).split(0.5, 1).is_err());
    }

    #[test]
    fn mismatched_counts_name_both_files() {
        let imgs = idx::encode_images(&vec![0; 3 * PIXELS]);
        let labels = idx::encode_labels(&[1, 2]);
        let err = Images::from_idx(("imgs", &imgs), ("labs", &labels)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("imgs") && msg.contains("labs") && msg.contains('3'),
            "{msg}"
        );
    }

    #[test]
    fn picked_files_are_recognised_by_content_in_any_order() {
        let train_images = idx::encode_images(&vec![1; 5 * PIXELS]);
        let train_labels = idx::encode_labels(&[0, 1, 2, 3, 4]);
        let test_images = idx::encode_images(&vec![2; 2 * PIXELS]);
        let test_labels = idx::encode_labels(&[7, 8]);
        let files = vec![
            ("d".to_string(), test_labels),
            ("a".to_string(), train_images),
            ("c".to_string(), test_images.clone()),
            ("b".to_string(), train_labels),
        ];
        let mnist = Mnist::from_unordered(files).unwrap();
        assert_eq!((mnist.train.len(), mnist.test.len()), (5, 2));
        assert_eq!(mnist.test.labels(), &[7, 8]);
        assert_eq!(mnist.test.image(0)[0], 2);

        let err = Mnist::from_unordered(vec![("x".into(), test_images)]).unwrap_err();
        assert!(err.contains("four"), "{err}");
        let junk = vec![("junk.txt".to_string(), b"hello world, not idx".to_vec()); 4];
        let err = Mnist::from_unordered(junk).unwrap_err();
        assert!(err.contains("junk.txt") && err.contains("magic"), "{err}");
    }
}
