//! The native command line (`latentlab`): the edge where files, the terminal and the backend
//! choice live. Everything it runs comes from the library, the same code the page runs.

mod arch;
mod backend;
mod bench;
mod cv;
mod eval;
pub mod files;
mod finetune;
mod gan;
mod generate;
mod interop;
mod judge;
mod latent;
mod plot;
mod progress;
mod score;
mod search;
mod serve;
mod table2;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::data::NoiseStack;
use crate::model::{ModelSpec, PruneSpec};
use crate::training::FitSettings;

pub use backend::Backend;

#[derive(Parser, Debug)]
#[command(
    name = "latentlab",
    version,
    about = "Convolutional autoencoders on MNIST (native CLI)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// How a training run goes: shared by `train` and `cv`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Override the spec's epoch count.
    #[arg(long)]
    epochs: Option<usize>,
    /// Override the spec's learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Multiply the learning rate by this after every epoch (e.g. 0.85), overriding the spec's.
    #[arg(long, value_name = "FACTOR")]
    lr_decay: Option<f64>,
    #[arg(long, value_enum, default_value = "flex")]
    backend: Backend,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Directory with the four MNIST IDX files.
    #[arg(long, default_value = files::DEFAULT_DATA_DIR)]
    data: PathBuf,
    /// Train on only the first N of the 60k training images (quick runs and tests).
    #[arg(long)]
    limit: Option<usize>,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// A time budget in minutes (per fold in cv): the epoch in progress is cut short and
    /// validated, and the best weights so far are kept.
    #[arg(long, value_name = "M")]
    max_minutes: Option<f64>,
}

impl RunArgs {
    /// `settings` with this run's time budget.
    fn budgeted(&self, mut settings: FitSettings) -> CliResult<FitSettings> {
        if let Some(m) = self.max_minutes {
            if !(m.is_finite() && m > 0.0) {
                return Err(format!("--max-minutes {m}: must be a positive number"));
            }
            settings.max_seconds = Some(m * 60.0);
        }
        Ok(settings)
    }

    /// MNIST from --data, its training set cut to --limit images.
    fn load_data(&self) -> CliResult<crate::data::Mnist> {
        if self.limit == Some(0) {
            return Err("--limit 0: train on at least 1 image".into());
        }
        let mut data = files::load_mnist(&self.data)?;
        if let Some(n) = self.limit {
            data.train = data.train.take(n);
        }
        Ok(data)
    }
}

/// Changes to a spec's training recipe from the command line: shared by `train` and `cv`.
#[derive(clap::Args, Debug, Clone)]
pub struct RecipeArgs {
    /// Corrupt the training inputs (targets stay clean), e.g. "urn:0.7,snp:0.1"; kinds: urn
    /// (uniform noise), snp (salt and pepper), hole (square hole), rot (rotation, degrees).
    #[arg(long)]
    noise: Option<NoiseStack>,
    /// Iterative autoencoding: average the loss over this many reconstructions fed back.
    #[arg(long)]
    iterations: Option<usize>,
    /// Prune. Alone: the study's schedule read literally (every 5 epochs; encoder conv 0.1,
    /// encoder linear 0.398, decoder linear 0.214, decoder conv 0.068 of each layer's
    /// remaining weights). With options over it, e.g. "reading=target,scope=group,until=20";
    /// keys every, until, reading (remaining|target), scope (layer|group) and the four amounts.
    #[arg(long, num_args = 0..=1, default_missing_value = "study", value_name = "OPTIONS")]
    prune: Option<String>,
}

impl RecipeArgs {
    /// Applies these options and --epochs to `spec`, then validates it.
    fn apply(&self, spec: &mut ModelSpec, run: &RunArgs) -> CliResult {
        if let Some(epochs) = run.epochs {
            spec.train.epochs = epochs;
        }
        if let Some(lr) = run.lr {
            spec.train.lr = lr;
        }
        if run.lr_decay.is_some() {
            spec.train.lr_decay = run.lr_decay;
        }
        if let Some(noise) = &self.noise {
            spec.train.noise = noise.clone();
        }
        if let Some(iterations) = self.iterations {
            spec.train.iterations = iterations;
        }
        if let Some(options) = &self.prune {
            spec.train.pruning = Some(PruneSpec::with_options(options)?);
        }
        spec.validate()
            .map(|_| ())
            .map_err(|e| format!("spec {}: {e}", spec.name))
    }
}

/// Which architecture and training recipe to use.
#[derive(clap::Args, Debug, Clone)]
pub struct SpecArgs {
    /// A preset from the study.
    #[arg(long, value_enum, default_value = "basic")]
    preset: Preset,
    /// A spec file (JSON, as written to spec.json) instead of a preset.
    #[arg(long, conflicts_with = "preset")]
    spec: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Preset {
    Basic,
    Best,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train an autoencoder and write model, spec, metrics and reconstructions to --out.
    Train(train::TrainArgs),
    /// K-fold cross-validation: mean and spread of validation loss; keeps the best fold's model.
    Cv(cv::CvArgs),
    /// Print the test loss of a trained model as JSON.
    Eval(eval::EvalArgs),
    /// Measure training and inference throughput; prints one JSON line.
    Bench(bench::BenchArgs),
    /// Print a spec's layer shapes and parameter counts.
    Arch(arch::ArchArgs),
    /// Fine-tune a digit classifier from a pretrained encoder (to a chosen depth, k-fold).
    Finetune(finetune::FinetuneArgs),
    /// The study's Table 2: fine-tune at every depth, 5-fold; Markdown and JSON.
    Table2(table2::Table2Args),
    /// Latent codes of the test set in 2D (PCA, t-SNE, slice), coloured by digit, as PNG.
    Latent(latent::LatentArgs),
    /// Train a GAN (gan, wgan, wgan-sn, wgan-gp, acgan, acgan-study); the judge scores it each epoch.
    Gan(gan::GanArgs),
    /// Digits from a trained GAN, as an IDX file (with labels) or a PNG grid.
    Generate(generate::GenerateArgs),
    /// Train the judge: a digit classifier from scratch that scores generated digits.
    Judge(judge::JudgeArgs),
    /// The judge's scores of a trained GAN against test digits (optionally at another truncation).
    Score(score::ScoreArgs),
    /// The study's hyperparameter search (optuna: TPE, median pruner; SQLite or PostgreSQL).
    Search(search::SearchArgs),
    /// One trial of a search, driven over stdin/stdout by `python/search.py` (not for hands).
    #[command(hide = true)]
    SearchTrial(search::TrialArgs),
    /// Write a model as safetensors that PyTorch loads (python/latentlab_torch.py).
    Export(interop::ExportArgs),
    /// Make a model from a PyTorch state dict (safetensors or .pt) and a spec.
    Import(interop::ImportArgs),
    /// A model's raw outputs on inputs from a safetensors file, written as safetensors.
    Infer(interop::InferArgs),
    /// Serve the web app (index.html, pkg/, style/, data/) on 127.0.0.1.
    Serve(serve::ServeArgs),
}

/// Runs the command line; errors are printed, not panicked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    backend::keep_freed_memory();
    backend::flush_denormals_to_zero();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Cv(args) => cv::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Arch(args) => arch::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Export(args) => interop::export(args),
        Command::Import(args) => interop::import(args),
        Command::Infer(args) => interop::infer(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Table2(args) => table2::run(args),
        Command::Latent(args) => latent::run(args),
        Command::Gan(args) => gan::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Judge(args) => judge::run(args),
        Command::Score(args) => score::run(args),
        Command::Search(args) => search::run(args),
        Command::SearchTrial(args) => search::run_trial(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors at the CLI edge are reported as text.
pub type CliResult<T = ()> = Result<T, String>;

impl SpecArgs {
    pub fn load(&self) -> CliResult<ModelSpec> {
        match &self.spec {
            Some(path) => files::read_spec(path),
            None => Ok(match self.preset {
                Preset::Basic => ModelSpec::basic(),
                Preset::Best => ModelSpec::best(),
            }),
        }
    }
}
