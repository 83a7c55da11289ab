//! `latentlab generate`: digits from a trained GAN, as an IDX image file (magic 2051, with an IDX
//! label file beside it when the digits are of mixed classes) or as a PNG grid.

use std::fs;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::backend::Backend;
use super::{CliResult, files};
use crate::data::idx;
use crate::inference;
use crate::model::CLASSES;
use crate::render;
use crate::training::adversarial::gaussian;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// GAN directory (written by `gan`) or model file.
    #[arg(long)]
    model: PathBuf,
    /// Only this digit (conditional GANs); without it a conditional GAN cycles through 0-9.
    #[arg(long)]
    class: Option<usize>,
    /// How many digits.
    #[arg(long, default_value_t = 100)]
    n: usize,
    /// Output: FILE.png for a grid, anything else for an IDX image file.
    #[arg(long)]
    out: PathBuf,
    /// Keep each digit the best of this many candidates by the discriminator instead of the
    /// spec's number (1: the generator alone).
    #[arg(long)]
    rank: Option<usize>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
}

fn write(path: &Path, bytes: &[u8]) -> CliResult {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(args: GenerateArgs) -> CliResult {
    if args.n == 0 {
        return Err("--n must be at least 1".into());
    }
    let device = args.backend.device()?;
    let (mut spec, model) = files::load_gan(&args.model, &device)?;
    if let Some(rank) = args.rank {
        spec.rank = rank;
        spec.validate().map_err(|e| format!("--rank {rank}: {e}"))?;
    }
    let conditional = spec.kind.conditional();
    let classes: Option<Vec<usize>> = match (args.class, conditional) {
        (Some(k), _) if k >= CLASSES => {
            return Err(format!("--class {k}: a digit from 0 to 9"));
        }
        (Some(_), false) => {
            return Err(format!(
                "--class: {} is a {} GAN, which draws digits of no chosen class",
                args.model.display(),
                spec.kind.name()
            ));
        }
        (Some(k), true) => Some(vec![k; args.n]),
        (None, true) => Some((0..args.n).map(|i| i % CLASSES).collect()),
        (None, false) => None,
    };
    // The spec's number of candidates per digit; the discriminator keeps the best.
    let noise = gaussian(
        &mut ChaCha8Rng::seed_from_u64(args.seed),
        args.n * spec.rank,
        spec.noise,
    );
    let pixels = pollster::block_on(inference::generate(
        &model,
        &spec,
        (&noise, spec.rank),
        classes.as_deref(),
        &device,
    ));
    let is_png = args
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if is_png {
        let tiles: Vec<&[f32]> = pixels.chunks(784).collect();
        return files::write_png(&args.out, &render::grid(&tiles, 10, 2, 2));
    }
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    write(&args.out, &idx::encode_images(&bytes))?;
    // Mixed classes need their labels beside the images; one chosen class is in its name.
    if let (Some(classes), None) = (&classes, args.class) {
        let labels: Vec<u8> = classes.iter().map(|&c| c as u8).collect();
        let mut path = args.out.clone().into_os_string();
        path.push(".labels");
        write(Path::new(&path), &idx::encode_labels(&labels))?;
    }
    Ok(())
}
