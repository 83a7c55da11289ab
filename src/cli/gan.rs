//! `latentlab gan`: train a GAN through the engine's loop, with a sample grid per epoch and the
//! judge's scores per epoch (`metrics.json`) and at the end (against the test set).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Serialize;
use web_time::Instant;

use super::files::{self, METRICS_FILE};
use super::judge::DEFAULT_JUDGE_DIR;
use super::progress::TerminalProgress;
use super::{CliResult, RunArgs};
use crate::data::Images;
use crate::inference::SampleGrid;
use crate::model::{Classifier, Gan, GanKind, GanSpec};
use crate::quality::{Quality, Reference};
use crate::render;
use crate::training::{
    Adversarial, Control, EpochRecord, FitSettings, Hooks, Progress, Sampler, Scorer, StopReason,
    train,
};

/// The picture of the last epoch (per-epoch ones are `samples-epoch-NNN.png`).
pub const SAMPLES_FILE: &str = "samples.png";

#[derive(clap::Args, Debug)]
pub struct GanArgs {
    /// Which GAN: gan, wgan, wgan-sn, wgan-gp, acgan (ours) or acgan-study (the study's).
    #[arg(long, default_value = "acgan")]
    kind: String,
    /// A GAN spec file (JSON, as written to spec.json) instead of a kind's preset.
    #[arg(long, conflicts_with = "kind")]
    spec: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
    /// Output directory (default: runs/<kind>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The judge classifier (`latentlab judge`). Without one at the default place the GAN
    /// trains unjudged.
    #[arg(long)]
    judge: Option<PathBuf>,
    /// Digits generated for each judgement (a tenth of each digit for a conditional GAN); the
    /// real reference takes twice as many.
    #[arg(long, default_value_t = 1000)]
    judge_n: usize,
    /// The noise's scale when digits are drawn to judge or show (the truncation trick; the
    /// spec's, 1 in the presets). Training always draws N(0, 1).
    #[arg(long)]
    truncation: Option<f64>,
}

#[derive(Serialize)]
struct Metrics<'a> {
    spec: &'a GanSpec,
    backend: &'a str,
    seed: u64,
    train_images: usize,
    epochs: &'a [EpochRecord],
    /// The judge's scores after each epoch (against validation digits).
    quality: &'a [Quality],
    stop: &'a StopReason,
    model_epoch: usize,
    /// The judge's scores of the kept generator against test digits.
    test_quality: Option<Quality>,
    /// Update periods at the end (they adapt with `balance`).
    u_g: usize,
    u_d: usize,
    train_images_per_s: f64,
    wall_seconds: f64,
}

/// The sample grid after every epoch, written as `samples-epoch-NNN.png`.
struct GridFiles {
    dir: PathBuf,
    grid: SampleGrid,
    device: Device,
    error: Option<String>,
}

impl GridFiles {
    fn new(dir: &Path, spec: &GanSpec, seed: u64, device: &Device) -> Self {
        Self {
            dir: dir.to_path_buf(),
            grid: SampleGrid::new(spec, seed),
            device: device.clone(),
            error: None,
        }
    }

    async fn write(&mut self, model: &Gan, name: &str) -> CliResult {
        let pixels = self.grid.pixels(&model.generator, &self.device).await;
        let tiles: Vec<&[f32]> = pixels.chunks(784).collect();
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        files::write_png(&self.dir.join(name), &render::grid(&tiles, 10, 2, 2))
    }
}

impl Hooks<Gan> for GridFiles {
    async fn on_epoch(&mut self, model: &Gan, record: &EpochRecord) -> Control {
        let valid = model.valid();
        let name = format!("samples-epoch-{:03}.png", record.epoch);
        match self.write(&valid, &name).await {
            Ok(()) => Control::Continue,
            Err(e) => {
                self.error = Some(e);
                Control::Stop
            }
        }
    }
}

/// Terminal progress and the sample grids, in that order.
struct GanHooks {
    terminal: TerminalProgress,
    grid: GridFiles,
}

impl Hooks<Gan> for GanHooks {
    async fn on_progress(&mut self, p: &Progress) -> Control {
        Hooks::<Gan>::on_progress(&mut self.terminal, p).await
    }

    async fn on_epoch(&mut self, model: &Gan, record: &EpochRecord) -> Control {
        self.terminal.on_epoch(model, record).await;
        self.grid.on_epoch(model, record).await
    }
}

/// The spec the arguments ask for (a kind's preset or a file), with --epochs/--lr over it.
fn load_spec(args: &GanArgs) -> CliResult<GanSpec> {
    let mut spec = match &args.spec {
        Some(path) => files::read_gan_spec(path)?,
        None => GanSpec::preset(&args.kind).ok_or_else(|| {
            let kinds: Vec<&str> = GanKind::ALL.iter().map(|k| k.name()).collect();
            format!("--kind {:?}: one of {}", args.kind, kinds.join(", "))
        })?,
    };
    if let Some(epochs) = args.run.epochs {
        spec.train.epochs = epochs;
    }
    if let Some(lr) = args.run.lr {
        spec.train.lr_g = lr;
        spec.train.lr_d = lr;
    }
    if args.run.lr_decay.is_some() {
        spec.train.lr_decay = args.run.lr_decay;
    }
    if let Some(t) = args.truncation {
        spec.truncation = t;
    }
    spec.validate()
        .map_err(|e| format!("GAN spec {}: {e}", spec.name))?;
    Ok(spec)
}

/// The judge, if one is there: an explicit --judge must exist, the default place may not.
fn load_judge(args: &GanArgs, device: &Device) -> CliResult<Option<Classifier>> {
    let (path, explicit) = match &args.judge {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_JUDGE_DIR), false),
    };
    if !explicit && !path.exists() {
        if !args.run.quiet {
            eprintln!(
                "no judge at {DEFAULT_JUDGE_DIR} (`latentlab judge` trains one): the GAN is not scored"
            );
        }
        return Ok(None);
    }
    let (_, _, judge) =
        files::load_classifier(&path, device).map_err(|e| format!("the judge: {e}"))?;
    Ok(Some(judge.valid()))
}

pub fn run(args: GanArgs) -> CliResult {
    let device = args.run.backend.device()?;
    let spec = load_spec(&args)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&spec.name));
    files::output_dir(&out)?;
    let seed = args.run.seed;
    let data = args.run.load_data()?;
    let (train_set, val) = data.train_val(seed).map_err(|e| e.to_string())?;
    let judge = load_judge(&args, &device)?;
    device.seed(seed);
    let started = Instant::now();

    let model = Gan::new(&spec, &device.clone().autodiff()).map_err(|e| e.to_string())?;
    let mut learner = Adversarial::new(&spec, seed, &device).map_err(|e| e.to_string())?;
    if let Some(judge) = &judge {
        let reference =
            pollster::block_on(Reference::new(judge, &val, args.judge_n, seed, &device))?;
        learner.scorer = Some(Scorer {
            judge: judge.clone(),
            reference,
            reports: Vec::new(),
        });
    }
    let settings = args.run.budgeted(FitSettings::for_gan(&spec, seed))?;
    if !args.run.quiet {
        eprintln!(
            "training {} on {} ({} train images), up to {} epochs{}",
            spec.name,
            args.run.backend.name(),
            train_set.len(),
            spec.train.epochs,
            args.run
                .max_minutes
                .map_or(String::new(), |m| format!(" or {m} minutes"))
        );
    }
    let mut hooks = GanHooks {
        terminal: TerminalProgress::new(args.run.quiet),
        grid: GridFiles::new(&out, &spec, seed ^ 0x5a3_91e5, &device),
    };
    let outcome = pollster::block_on(train(
        model,
        &mut learner,
        &train_set,
        &val,
        &settings,
        &device,
        &mut hooks,
    ));
    if let Some(e) = hooks.grid.error.take() {
        return Err(e);
    }
    if let Some(message) = outcome.divergence() {
        return Err(message);
    }
    let model = outcome.model.valid();

    // The kept generator judged against test digits, from fresh noise.
    let test_quality = match &learner.scorer {
        Some(scorer) => Some(judge_on_test(
            &scorer.judge,
            &data.test,
            (&model, &spec),
            (args.judge_n, seed),
            &device,
        )?),
        None => None,
    };
    pollster::block_on(hooks.grid.write(&model, SAMPLES_FILE))?;
    let history = &outcome.history;
    let wall_seconds = started.elapsed().as_secs_f64();
    let metrics = Metrics {
        spec: &spec,
        backend: args.run.backend.name(),
        seed,
        train_images: train_set.len(),
        epochs: history,
        quality: learner.scorer.as_ref().map_or(&[], |s| &s.reports),
        stop: &outcome.stop,
        model_epoch: outcome.model_epoch,
        test_quality: test_quality.clone(),
        u_g: learner.u_g,
        u_d: learner.u_d,
        train_images_per_s: history.iter().map(|r| r.train_images_per_s).sum::<f64>()
            / history.len().max(1) as f64,
        wall_seconds,
    };
    files::save_gan(&out, model, &spec)?;
    files::write_json(&out.join(METRICS_FILE), &metrics)?;
    if !args.run.quiet {
        if let Some(q) = &test_quality {
            eprintln!("test: {}", q.summary());
        }
        eprintln!(
            "kept the generator of epoch {}, {:.0}s, {:.0} img/s; wrote {}",
            outcome.model_epoch,
            wall_seconds,
            metrics.train_images_per_s,
            out.display()
        );
    }
    Ok(())
}

/// `n` digits of `gan` (drawn at the spec's truncation and rank, from a stream of `seed`)
/// judged against as many test digits: what `gan` reports at the end and `score` prints.
pub fn judge_on_test(
    judge: &Classifier,
    test: &Images,
    (gan, spec): (&Gan, &GanSpec),
    (n, seed): (usize, u64),
    device: &Device,
) -> CliResult<Quality> {
    let reference = pollster::block_on(Reference::new(judge, test, n, seed, device))?;
    let scorer = Scorer {
        judge: judge.clone(),
        reference,
        reports: Vec::new(),
    };
    let mut sampler = Sampler::new(spec, seed ^ 0x7e57);
    Ok(pollster::block_on(scorer.judge(
        &mut sampler,
        gan,
        n,
        device,
    )))
}
