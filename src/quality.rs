//! How good generated digits are, measured by a judge: a digit classifier trained by latentlab
//! itself (`latentlab judge`, the `judge` preset), independent of any GAN.
//!
//! - accuracy: the fraction of digits generated for class c that the judge reads as c;
//! - recognisability: the judge's mean top probability, and how the judged classes spread;
//! - diversity: mean pairwise distance of judge features within a class, beside the same for
//!   real test digits of that class (a collapsed generator draws one digit again and again);
//! - Fréchet distance between Gaussians fitted to judge features of generated and real digits
//!   (FID's formula on our judge's features), beside the same between two disjoint sets of real
//!   digits of the same size: the floor that sampling alone gives.
//!
//! Features are the judge's latent code (its encoder's output, the input of its last layer).

use burn::prelude::*;
use burn::tensor::activation::softmax;
use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{BatchOrder, Images, images_to_tensor};
use crate::model::{CLASSES, Classifier};
use crate::training::read_values;

/// Judge features and class probabilities of a set of images.
#[derive(Clone, Debug, Default)]
pub struct Judged {
    /// Row-major [n, dim].
    pub features: Vec<f32>,
    pub dim: usize,
    /// Row-major [n, 10].
    pub probs: Vec<f32>,
}

impl Judged {
    pub fn len(&self) -> usize {
        self.probs.len() / CLASSES
    }

    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }

    /// The judge's reading of image `i`: (class, probability).
    pub fn verdict(&self, i: usize) -> (usize, f32) {
        let p = &self.probs[i * CLASSES..(i + 1) * CLASSES];
        let (class, prob) = p
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (c, &v)| if v > b.1 { (c, v) } else { b });
        (class, prob)
    }

    fn rows(&self, which: &[usize]) -> Vec<&[f32]> {
        which
            .iter()
            .map(|&i| &self.features[i * self.dim..(i + 1) * self.dim])
            .collect()
    }
}

/// Runs the judge (in validation mode) over `images` [n, 1, 28, 28] in batches.
pub async fn judge(model: &Classifier, images: Tensor<4>) -> Judged {
    let n = images.dims()[0];
    let mut out = Judged::default();
    for rows in BatchOrder::sequential(n, 500) {
        let batch = images
            .clone()
            .slice([rows[0]..rows[rows.len() - 1] + 1, 0..1, 0..28, 0..28]);
        let features = model.encoder.forward(batch);
        out.dim = features.dims()[1];
        let probs = softmax(model.head.forward(features.clone()), 1);
        let flat = |t: Tensor<2>| {
            let [a, b] = t.dims();
            t.reshape([a * b])
        };
        out.features
            .extend(read_values(flat(features)).await.iter().map(|&v| v as f32));
        out.probs
            .extend(read_values(flat(probs)).await.iter().map(|&v| v as f32));
    }
    out
}

/// The judge's verdicts on real `images` (their indices `which`), as a tensor batch.
pub async fn judge_real(
    model: &Classifier,
    images: &Images,
    which: &[usize],
    device: &Device,
) -> Judged {
    judge(model, images_to_tensor(images, which, device)).await
}

/// Mean and covariance of feature rows.
pub struct Gaussian {
    mean: DVector<f64>,
    cov: DMatrix<f64>,
}

impl Gaussian {
    pub fn fit(rows: &[&[f32]]) -> Self {
        let n = rows.len();
        let dim = rows.first().map_or(0, |r| r.len());
        let x = DMatrix::from_fn(n, dim, |i, j| rows[i][j] as f64);
        let mean = DVector::from_fn(dim, |j, _| x.column(j).mean());
        let centred = DMatrix::from_fn(n, dim, |i, j| x[(i, j)] - mean[j]);
        let cov = centred.transpose() * &centred / (n.max(2) - 1) as f64;
        Self { mean, cov }
    }
}

/// Symmetric PSD square root (negative eigenvalues from rounding clamp to 0).
fn sqrt_psd(m: DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new(m);
    let d = DMatrix::from_diagonal(&eigen.eigenvalues.map(|v| v.max(0.0).sqrt()));
    &eigen.eigenvectors * d * eigen.eigenvectors.transpose()
}

/// Fréchet distance between two Gaussians: |μa - μb|² + tr(Ca + Cb - 2 (Ca Cb)^½), with
/// tr (Ca Cb)^½ computed as tr (Ca^½ Cb Ca^½)^½, which is symmetric.
pub fn frechet(a: &Gaussian, b: &Gaussian) -> f64 {
    let diff = &a.mean - &b.mean;
    let root_a = sqrt_psd(a.cov.clone());
    let middle = &root_a * &b.cov * &root_a;
    let middle = (&middle + middle.transpose()) * 0.5;
    let cross = sqrt_psd(middle).trace();
    diff.dot(&diff) + a.cov.trace() + b.cov.trace() - 2.0 * cross
}

/// Mean Euclidean distance over all pairs of rows.
pub fn mean_pairwise_distance(rows: &[&[f32]]) -> f64 {
    let (mut sum, mut pairs) = (0.0f64, 0usize);
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let d: f32 = rows[i]
                .iter()
                .zip(rows[j])
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            sum += (d as f64).sqrt();
            pairs += 1;
        }
    }
    sum / pairs.max(1) as f64
}

/// One digit's scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassQuality {
    pub class: usize,
    /// Fraction of the digits generated for this class that the judge reads as it.
    pub accuracy: f64,
    /// Mean pairwise judge-feature distance of the generated digits of this class...
    pub diversity: f64,
    /// ...and of as many real test digits of this class.
    pub real_diversity: f64,
}

/// Everything the judge says of a generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Generated digits judged.
    pub n: usize,
    /// Conditional generators: per digit. Unconditional: empty.
    pub per_class: Vec<ClassQuality>,
    /// Mean over the digits of per-class accuracy (conditional generators).
    pub accuracy: Option<f64>,
    /// The judge's mean top probability over all generated digits.
    pub mean_max_prob: f64,
    /// Fraction of generated digits judged as each digit.
    pub class_share: Vec<f64>,
    /// Diversity of all generated digits over that of as many real ones (any class).
    pub diversity_ratio: f64,
    /// Fréchet distance of judge features, generated vs real, and real vs real at the same n.
    pub frechet: f64,
    pub frechet_real: f64,
}

impl Quality {
    /// The lowest per-class accuracy and diversity ratio (conditional generators).
    pub fn worst_class(&self) -> Option<(f64, f64)> {
        (!self.per_class.is_empty()).then(|| {
            self.per_class
                .iter()
                .fold((1.0f64, f64::INFINITY), |(a, d), c| {
                    (
                        a.min(c.accuracy),
                        d.min(c.diversity / c.real_diversity.max(1e-12)),
                    )
                })
        })
    }

    /// One line for a terminal.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let (Some(acc), Some((worst_acc, worst_div))) = (self.accuracy, self.worst_class()) {
            s += &format!(
                "judged accuracy {:.1}% (worst digit {:.1}%), diversity >= {:.2}x real, ",
                acc * 100.0,
                worst_acc * 100.0,
                worst_div
            );
        }
        let top = self.class_share.iter().cloned().fold(0.0, f64::max);
        s += &format!(
            "max-prob {:.3}, top class share {:.1}%, diversity {:.2}x real, Fréchet {:.2} (real vs real {:.2})",
            self.mean_max_prob,
            top * 100.0,
            self.diversity_ratio,
            self.frechet,
            self.frechet_real
        );
        s
    }
}

/// Real digits judged once, to compare generators against: two disjoint sets of `n`, and per
/// class `n / 10` digits for the per-class diversity.
pub struct Reference {
    pub n: usize,
    first: Gaussian,
    second_frechet: f64,
    diversity: f64,
    class_diversity: Vec<f64>,
}

impl Reference {
    /// From `images` (needs 2n of them; seeded choice).
    pub async fn new(
        judge_model: &Classifier,
        images: &Images,
        n: usize,
        seed: u64,
        device: &Device,
    ) -> Result<Self, String> {
        if images.len() < 2 * n {
            return Err(format!(
                "the reference needs {} real images, {} given",
                2 * n,
                images.len()
            ));
        }
        let mut order: Vec<usize> = (0..images.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let judged = judge_real(judge_model, images, &order[..2 * n], device).await;
        let all: Vec<usize> = (0..2 * n).collect();
        let rows = judged.rows(&all);
        let first = Gaussian::fit(&rows[..n]);
        let second = Gaussian::fit(&rows[n..]);
        let per = n / CLASSES;
        let class_diversity = (0..CLASSES)
            .map(|c| {
                let of_class: Vec<usize> = (0..2 * n)
                    .filter(|&i| images.labels()[order[i]] as usize == c)
                    .take(per)
                    .collect();
                mean_pairwise_distance(&judged.rows(&of_class))
            })
            .collect();
        Ok(Self {
            n,
            second_frechet: frechet(&first, &second),
            diversity: mean_pairwise_distance(&rows[..n.min(1000)]),
            first,
            class_diversity,
        })
    }

    /// Scores `judged` generated digits; `classes[i]` is the digit image i was drawn for
    /// (conditional generators).
    pub fn score(&self, judged: &Judged, classes: Option<&[usize]>) -> Quality {
        let n = judged.len();
        let all: Vec<usize> = (0..n).collect();
        let rows = judged.rows(&all);
        let mut share = vec![0.0; CLASSES];
        let mut max_prob = 0.0f64;
        for i in 0..n {
            let (c, p) = judged.verdict(i);
            share[c] += 1.0 / n as f64;
            max_prob += p as f64 / n as f64;
        }
        let per_class: Vec<ClassQuality> = match classes {
            None => Vec::new(),
            Some(classes) => (0..CLASSES)
                .map(|c| {
                    let mine: Vec<usize> = (0..n).filter(|&i| classes[i] == c).collect();
                    let right = mine.iter().filter(|&&i| judged.verdict(i).0 == c).count();
                    ClassQuality {
                        class: c,
                        accuracy: right as f64 / mine.len().max(1) as f64,
                        diversity: mean_pairwise_distance(&judged.rows(&mine)),
                        real_diversity: self.class_diversity[c],
                    }
                })
                .collect(),
        };
        let accuracy = (!per_class.is_empty())
            .then(|| per_class.iter().map(|c| c.accuracy).sum::<f64>() / CLASSES as f64);
        Quality {
            n,
            accuracy,
            mean_max_prob: max_prob,
            class_share: share,
            diversity_ratio: mean_pairwise_distance(&rows[..n.min(1000)])
                / self.diversity.max(1e-12),
            frechet: frechet(&Gaussian::fit(&rows), &self.first),
            frechet_real: self.second_frechet,
            per_class,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frechet_of_gaussians_by_hand() {
        // Diagonal covariances: FD = |Δμ|² + Σ (σa - σb)².
        let a: Vec<Vec<f32>> = vec![
            vec![1.0, 0.0],
            vec![-1.0, 0.0],
            vec![0.0, 2.0],
            vec![0.0, -2.0],
        ];
        let b: Vec<Vec<f32>> = a
            .iter()
            .map(|r| vec![r[0] * 3.0 + 5.0, r[1] + 1.0])
            .collect();
        let ga = Gaussian::fit(&a.iter().map(|r| r.as_slice()).collect::<Vec<_>>());
        let gb = Gaussian::fit(&b.iter().map(|r| r.as_slice()).collect::<Vec<_>>());
        // a: var x = 2/3, var y = 8/3; b: var x = 6, var y = 8/3; means (0,0) vs (5,1).
        let (sa, sb) = ((2.0f64 / 3.0).sqrt(), 6.0f64.sqrt());
        let want = 25.0 + 1.0 + (sa - sb).powi(2);
        let got = frechet(&ga, &gb);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        assert!(frechet(&ga, &ga).abs() < 1e-9);
    }

    #[test]
    fn pairwise_distance_by_hand() {
        let rows: Vec<&[f32]> = vec![&[0.0, 0.0], &[3.0, 4.0], &[0.0, 4.0]];
        // 5, 4, 3 → mean 4.
        assert!((mean_pairwise_distance(&rows) - 4.0).abs() < 1e-9);
        assert_eq!(mean_pairwise_distance(&rows[..1]), 0.0);
    }
}
