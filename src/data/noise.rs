//! The study's corruptions, seeded and composable: uniform random noise, salt and pepper, a
//! random hole and a random rotation; and a random shift (augmentation for the judge). The
//! page's corruption controls and denoising training use this same code.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::mnist::PIXELS;

/// One corruption.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Noise {
    /// UniformRandomNoise(amount): add U(-amount/2, amount/2) to every pixel, then clip to [0, 1].
    Uniform { amount: f32 },
    /// SaltNPepper(amount): that fraction of the pixels set to 0 or 1 (even odds).
    SaltPepper { amount: f32 },
    /// RandomHole(size): a size x size square at a random place set to 0.
    Hole { size: usize },
    /// RandomRotation(degrees): rotate by an angle from U(-degrees, degrees) about the centre
    /// (bilinear, zero outside).
    Rotation { degrees: f32 },
    /// Shift(pixels): translate by whole pixels, dx and dy each from -pixels..=pixels (zero
    /// where the image moved away): the augmentation that keeps a classifier from learning
    /// where in the frame a stroke sits.
    Shift { pixels: usize },
}

impl Noise {
    /// Corrupts one 28x28 image in place; values stay in [0, 1].
    pub fn apply(&self, image: &mut [f32], rng: &mut impl Rng) {
        match *self {
            Noise::Uniform { amount } => {
                for p in image.iter_mut() {
                    let delta = (rng.random::<f32>() - 0.5) * amount;
                    *p = (*p + delta).clamp(0.0, 1.0);
                }
            }
            Noise::SaltPepper { amount } => {
                for p in image.iter_mut() {
                    if rng.random::<f32>() < amount {
                        *p = if rng.random::<bool>() { 1.0 } else { 0.0 };
                    }
                }
            }
            Noise::Hole { size } => {
                let size = size.min(28);
                if size > 0 {
                    let (x0, y0) = (
                        rng.random_range(0..=28 - size),
                        rng.random_range(0..=28 - size),
                    );
                    for y in y0..y0 + size {
                        image[y * 28 + x0..y * 28 + x0 + size].fill(0.0);
                    }
                }
            }
            Noise::Rotation { degrees } => {
                let angle = (rng.random::<f32>() * 2.0 - 1.0) * degrees.to_radians();
                rotate(image, angle);
            }
            Noise::Shift { pixels } => {
                let p = pixels.min(27) as i32;
                let (dx, dy) = (rng.random_range(-p..=p), rng.random_range(-p..=p));
                shift(image, dx, dy);
            }
        }
    }
}

/// Rotates a 28x28 image by `angle` radians about its centre, sampling bilinearly.
fn rotate(image: &mut [f32], angle: f32) {
    let src = image.to_vec();
    let (sin, cos) = angle.sin_cos();
    let c = 13.5f32;
    let at = |x: i32, y: i32| {
        if (0..28).contains(&x) && (0..28).contains(&y) {
            src[y as usize * 28 + x as usize]
        } else {
            0.0
        }
    };
    for y in 0..28 {
        for x in 0..28 {
            // Inverse mapping: where in the source does this destination pixel come from?
            let (dx, dy) = (x as f32 - c, y as f32 - c);
            let sx = cos * dx + sin * dy + c;
            let sy = -sin * dx + cos * dy + c;
            let (x0, y0) = (sx.floor() as i32, sy.floor() as i32);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + at(x0 + 1, y0) * fx * (1.0 - fy)
                + at(x0, y0 + 1) * (1.0 - fx) * fy
                + at(x0 + 1, y0 + 1) * fx * fy;
            image[y * 28 + x] = v.clamp(0.0, 1.0);
        }
    }
}

/// Moves a 28x28 image by (dx, dy) pixels; what moves in from outside is 0.
fn shift(image: &mut [f32], dx: i32, dy: i32) {
    let src = image.to_vec();
    for y in 0..28i32 {
        for x in 0..28i32 {
            let (sx, sy) = (x - dx, y - dy);
            image[(y * 28 + x) as usize] = if (0..28).contains(&sx) && (0..28).contains(&sy) {
                src[(sy * 28 + sx) as usize]
            } else {
                0.0
            };
        }
    }
}

/// Corruptions applied one after the other, e.g. `urn:0.7,snp:0.1`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoiseStack(pub Vec<Noise>);

impl NoiseStack {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Corrupts every image of `pixels` (n x 784) in place; the same seed gives the same noise.
    pub fn apply(&self, pixels: &mut [f32], seed: u64) {
        if self.0.is_empty() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for image in pixels.chunks_mut(PIXELS) {
            for noise in &self.0 {
                noise.apply(image, &mut rng);
            }
        }
    }
}

impl fmt::Display for NoiseStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return write!(f, "none");
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|n| match n {
                Noise::Uniform { amount } => format!("urn:{amount}"),
                Noise::SaltPepper { amount } => format!("snp:{amount}"),
                Noise::Hole { size } => format!("hole:{size}"),
                Noise::Rotation { degrees } => format!("rot:{degrees}"),
                Noise::Shift { pixels } => format!("shift:{pixels}"),
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

impl FromStr for NoiseStack {
    type Err = String;

    /// Parses `kind:value` items separated by commas or `+`: urn, snp, hole, rot, shift (or
    /// `none`).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(Self::default());
        }
        let mut out = Vec::new();
        for item in s.split([',', '+']) {
            let (kind, value) = item.trim().split_once(':').ok_or_else(|| {
                format!("noise '{item}' is not kind:value (e.g. urn:0.7, snp:0.1, hole:8, rot:30)")
            })?;
            let number = |what: &str| -> Result<f32, String> {
                let v: f32 = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("noise '{item}': {what} '{value}' is not a number"))?;
                if !v.is_finite() || v < 0.0 {
                    return Err(format!("noise '{item}': {what} must be zero or positive"));
                }
                Ok(v)
            };
            out.push(match kind.trim().to_ascii_lowercase().as_str() {
                "urn" | "uniform" => Noise::Uniform {
                    amount: number("amount")?,
                },
                "snp" | "salt_pepper" => {
                    let amount = number("amount")?;
                    if amount > 1.0 {
                        return Err(format!(
                            "noise '{item}': a salt-and-pepper fraction must be at most 1"
                        ));
                    }
                    Noise::SaltPepper { amount }
                }
                "hole" => Noise::Hole {
                    size: number("size")?.round() as usize,
                },
                "rot" | "rotation" => Noise::Rotation {
                    degrees: number("degrees")?,
                },
                "shift" => Noise::Shift {
                    pixels: number("pixels")?.round() as usize,
                },
                other => {
                    return Err(format!(
                        "unknown noise '{other}' (urn, snp, hole, rot, shift)"
                    ));
                }
            });
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit() -> Vec<f32> {
        (0..PIXELS)
            .map(|i| {
                if (i % 28) > 10 && (i % 28) < 16 {
                    0.9
                } else {
                    0.1
                }
            })
            .collect()
    }

    #[test]
    fn parses_and_prints() {
        let stack: NoiseStack = "urn:0.7,snp:0.1".parse().unwrap();
        assert_eq!(
            stack.0,
            vec![
                Noise::Uniform { amount: 0.7 },
                Noise::SaltPepper { amount: 0.1 }
            ]
        );
        assert_eq!(stack.to_string(), "urn:0.7,snp:0.1");
        let stack: NoiseStack = "rot:10,shift:2".parse().unwrap();
        assert_eq!(stack.0[1], Noise::Shift { pixels: 2 });
        assert_eq!(stack.to_string(), "rot:10,shift:2");
        assert_eq!("URN:2+snp:0.1".parse::<NoiseStack>().unwrap().0.len(), 2);
        assert!("none".parse::<NoiseStack>().unwrap().is_empty());
        assert!("urn".parse::<NoiseStack>().is_err());
        assert!(
            "blur:3"
                .parse::<NoiseStack>()
                .unwrap_err()
                .contains("unknown noise")
        );
        assert!("snp:2".parse::<NoiseStack>().is_err());
        assert!("urn:-1".parse::<NoiseStack>().is_err());
    }

    #[test]
    fn every_noise_is_seeded_and_stays_in_range() {
        for spec in [
            "urn:2",
            "snp:0.3",
            "hole:9",
            "rot:45",
            "urn:0.7,snp:0.1,hole:5,rot:20",
            "shift:3",
        ] {
            let stack: NoiseStack = spec.parse().unwrap();
            let clean: Vec<f32> = digit().repeat(3);
            let (mut a, mut b, mut c) = (clean.clone(), clean.clone(), clean.clone());
            stack.apply(&mut a, 1);
            stack.apply(&mut b, 1);
            stack.apply(&mut c, 2);
            assert_eq!(a, b, "{spec}: same seed");
            assert_ne!(a, c, "{spec}: other seed");
            assert_ne!(a, clean, "{spec}: changes the image");
            assert!(
                a.iter().all(|p| (0.0..=1.0).contains(p)),
                "{spec}: in [0, 1]"
            );
        }
    }

    #[test]
    fn each_noise_does_what_it_says() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let clean = digit();

        let mut img = clean.clone();
        Noise::SaltPepper { amount: 0.5 }.apply(&mut img, &mut rng);
        let changed: Vec<f32> = img
            .iter()
            .zip(&clean)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| *a)
            .collect();
        assert!(changed.iter().all(|&p| p == 0.0 || p == 1.0));
        assert!(
            (300..480).contains(&changed.len()),
            "about half the pixels: {}",
            changed.len()
        );

        let mut img = clean.clone();
        Noise::Hole { size: 6 }.apply(&mut img, &mut rng);
        assert_eq!(img.iter().zip(&clean).filter(|(a, b)| a != b).count(), 36);

        let mut img = clean.clone();
        Noise::Uniform { amount: 0.2 }.apply(&mut img, &mut rng);
        assert!(
            img.iter()
                .zip(&clean)
                .all(|(a, b)| (a - b).abs() <= 0.1 + 1e-6)
        );

        // A 0-degree rotation is the identity; 90 degrees turns columns into rows.
        let mut img = clean.clone();
        rotate(&mut img, 0.0);
        assert!(img.iter().zip(&clean).all(|(a, b)| (a - b).abs() < 1e-5));
        let mut img = clean.clone();
        rotate(&mut img, std::f32::consts::FRAC_PI_2);
        assert!((img[13 * 28 + 2] - 0.9).abs() < 1e-4 && (img[2 * 28 + 13] - 0.1).abs() < 1e-4);

        // A shift moves every pixel by (dx, dy) and fills what comes in with 0.
        let mut img = clean.clone();
        shift(&mut img, 2, -1);
        for y in 0..28usize {
            for x in 0..28usize {
                let want = if x >= 2 && y < 27 {
                    clean[(y + 1) * 28 + x - 2]
                } else {
                    0.0
                };
                assert_eq!(img[y * 28 + x], want, "({x}, {y})");
            }
        }
        // Random shifts stay within the bound and keep the pixels' values.
        for _ in 0..20 {
            let mut img = clean.clone();
            Noise::Shift { pixels: 2 }.apply(&mut img, &mut rng);
            let kept: Vec<f32> = img.iter().copied().filter(|&p| p > 0.0).collect();
            assert!(kept.len() >= 26 * 26 && kept.iter().all(|v| clean.contains(v)));
        }
    }
}
