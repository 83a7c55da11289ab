//! `latentlab bench`: training and inference throughput of a spec on a backend, as one JSON line.

use std::path::PathBuf;

use web_time::Instant;

use super::backend::Backend;
use super::{CliResult, SpecArgs, files};
use crate::data::{BatchOrder, images_to_tensor};
use crate::model::{Autoencoder, GanSpec};
use crate::parallel::forward_in_pieces;
use crate::training::{gan_throughput, train_throughput};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    spec: SpecArgs,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    /// Seconds to time training, and again inference.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Time a GAN's training (gan, wgan, wgan-sn, wgan-gp, acgan, acgan-study) instead of an autoencoder.
    #[arg(long, value_name = "KIND")]
    gan: Option<String>,
    /// With --gan: print the GAN's spec (for benches/pytorch_gan.py) and stop.
    #[arg(long, requires = "gan")]
    print_spec: bool,
}

/// `bench --gan`: the GAN's training throughput (images/s of real digits), as one JSON line.
fn run_gan(args: &BenchArgs, kind: &str) -> CliResult {
    let spec = GanSpec::preset(kind).ok_or_else(|| format!("--gan {kind:?}: not a GAN kind"))?;
    if args.print_spec {
        println!(
            "{}",
            serde_json::to_string_pretty(&spec).expect("serialisable")
        );
        return Ok(());
    }
    let data = files::load_mnist(&args.data)?;
    let device = args.backend.device()?;
    let train = pollster::block_on(gan_throughput(&spec, &data.train, &device, args.seconds, 5))?;
    let line = serde_json::json!({
        "preset": spec.name,
        "backend": args.backend.name(),
        "train_images_per_s": train.images_per_s.round(),
        "batch_size": spec.train.batch_size,
        "train_images_timed": train.images,
        "threads": rayon::current_num_threads(),
    });
    println!("{line}");
    Ok(())
}

pub fn run(args: BenchArgs) -> CliResult {
    if let Some(kind) = &args.gan {
        return run_gan(&args, kind);
    }
    let spec = args.spec.load()?;
    spec.validate().map_err(|e| e.to_string())?;
    let data = files::load_mnist(&args.data)?;
    let device = args.backend.device()?;

    let train = pollster::block_on(train_throughput(
        &spec,
        &data.train,
        &device,
        args.seconds,
        5,
    ))?;

    // Inference: forward passes over the test set in batches of 1000 (cut into one piece per
    // thread, as the app's inference does), read back each time.
    let model = Autoencoder::new(&spec.arch, &device).map_err(|e| e.to_string())?;
    let batches = BatchOrder::sequential(data.test.len(), 1000);
    let (t0, mut images) = (Instant::now(), 0usize);
    'outer: loop {
        for indices in &batches {
            let x = images_to_tensor(&data.test, indices, &device);
            let out = forward_in_pieces(&model, x, Autoencoder::forward);
            pollster::block_on(out.into_data_async())
                .map_err(|e| format!("reading back: {e:?}"))?;
            images += indices.len();
            if t0.elapsed().as_secs_f64() >= args.seconds {
                break 'outer;
            }
        }
    }
    let infer_rate = images as f64 / t0.elapsed().as_secs_f64();

    let line = serde_json::json!({
        "preset": spec.name,
        "backend": args.backend.name(),
        "train_images_per_s": train.images_per_s.round(),
        "infer_images_per_s": infer_rate.round(),
        "batch_size": spec.train.batch_size,
        "train_images_timed": train.images,
        "threads": rayon::current_num_threads(),
    });
    println!("{line}");
    Ok(())
}
