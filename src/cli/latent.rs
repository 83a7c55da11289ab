//! `latentlab latent`: the test set's latent codes brought down to 2D (PCA, t-SNE or a slice
//! through two latent dimensions), coloured by digit, as a PNG; for an autoencoder's slice also
//! the grid of images decoded across it. Works on an autoencoder's encoder and on a fine-tuned
//! classifier's, so the two can be compared (the study's Figure 4).

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use web_time::Instant;

use super::backend::Backend;
use super::{CliResult, files, plot};
use crate::inference;
use crate::latent::{self, Method, Ranges};
use crate::render;

#[derive(clap::Args, Debug)]
pub struct LatentArgs {
    /// An autoencoder or a fine-tuned classifier (directory or model file).
    #[arg(long)]
    model: PathBuf,
    /// pca, tsne or slice.
    #[arg(long, default_value = "pca")]
    method: String,
    /// The two latent dimensions of a slice, e.g. "0,1".
    #[arg(long, default_value = "0,1")]
    dims: String,
    /// How many test images to embed (the first N of the 10k).
    #[arg(long, default_value_t = 10_000)]
    points: usize,
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Seeds t-SNE's starting layout.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The PNG to write (default: latent-<method>.png in the model's directory).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    quiet: bool,
}

fn parse_method(method: &str, dims: &str) -> CliResult<Method> {
    match method {
        "pca" => Ok(Method::Pca),
        "tsne" => Ok(Method::Tsne),
        "slice" => {
            let d: Vec<usize> = dims
                .split(',')
                .map(|d| d.trim().parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("--dims {dims:?}: two dimension numbers, e.g. 0,1"))?;
            match d[..] {
                [x, y] => Ok(Method::Slice { x, y }),
                _ => Err(format!("--dims {dims:?}: two dimension numbers, e.g. 0,1")),
            }
        }
        other => Err(format!("--method {other:?}: pca, tsne or slice")),
    }
}

pub fn run(args: LatentArgs) -> CliResult {
    let method = parse_method(&args.method, &args.dims)?;
    let device = args.backend.device()?;
    let data = files::load_mnist(&args.data)?;
    let test = data.test.take(args.points.min(data.test.len()));
    let classifier = files::is_classifier(&args.model)?;
    let (spec, encoder, decoder) = if classifier {
        let (spec, _, model) = files::load_classifier(&args.model, &device)?;
        (spec, model.encoder, None)
    } else {
        let (spec, model) = files::load_model(&args.model, &device)?;
        (spec, model.encoder.clone(), Some(model))
    };
    let dim = spec.arch.latent;
    let codes = pollster::block_on(inference::encode_images(&encoder, &test, &device));

    let bar = (!args.quiet && method == Method::Tsne).then(|| {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template(
                "t-SNE [{bar:30.cyan/blue}] {pos}/{len} iterations  eta {eta}",
            )
            .expect("valid template"),
        );
        bar
    });
    let started = Instant::now();
    let points = latent::embed(&codes, dim, method, args.seed, |i, total| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(i as u64);
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let dir = if args.model.is_dir() {
        args.model.clone()
    } else {
        args.model.parent().map(PathBuf::from).unwrap_or_default()
    };
    let file_name = match method {
        Method::Slice { x, y } => format!("latent-slice-{x}-{y}.png"),
        _ => format!("latent-{}.png", method.name()),
    };
    let out = args.out.clone().unwrap_or_else(|| dir.join(file_name));
    let kind = if classifier {
        "fine-tuned classifier"
    } else {
        "autoencoder"
    };
    plot::scatter(
        &out,
        &format!(
            "{} ({kind}): {} of {} test codes",
            spec.name,
            method.name(),
            test.len()
        ),
        &points,
        test.labels(),
    )?;

    // A slice of an autoencoder: also the images decoded across it (other dimensions at mean).
    let mut grid_path = None;
    if let (Method::Slice { x, y }, Some(model)) = (method, &decoder) {
        let steps = 12;
        let grid = latent::slice_grid(&Ranges::of(&codes, dim), x, y, steps);
        let images = pollster::block_on(inference::decode(model, &grid, dim, &device));
        let tiles: Vec<&[f32]> = images.chunks(784).collect();
        let path = out.with_file_name(format!("latent-slice-{x}-{y}-decoded.png"));
        files::write_png(&path, &render::grid(&tiles, steps, 2, 2))?;
        grid_path = Some(path.display().to_string());
    }
    println!(
        "{}",
        serde_json::json!({
            "model": args.model.display().to_string(),
            "kind": kind,
            "method": method.name(),
            "points": points.len(),
            "latent": dim,
            "seconds": seconds,
            "png": out.display().to_string(),
            "decoded_grid": grid_path,
        })
    );
    Ok(())
}
