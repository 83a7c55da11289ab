//! The native command line (`latentlab`): the edge where files, the terminal and the backend
//! choice live. Everything it runs comes from the library, the same code the page runs.

mod arch;
mod backend;
mod bench;
mod cv;
mod eval;
pub mod files;
mod progress;
mod serve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::model::ModelSpec;

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
}

impl RunArgs {
    /// MNIST from --data, its training set cut to --limit images.
    fn load_data(&self) -> CliResult<crate::data::Mnist> {
        let mut data = files::load_mnist(&self.data)?;
        if let Some(n) = self.limit {
            data.train = data.train.take(n);
        }
        Ok(data)
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
