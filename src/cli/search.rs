//! `latentlab search`: the study's hyperparameter search with optuna as the engine.
//!
//! How Rust and optuna talk: `search` hands the process over to `python/search.py` (embedded in
//! the binary, run by the venv `scripts/setup-search.sh` owns). The driver runs
//! `study.optimize`, so optuna's TPE sampler, median pruner, RDB storage and heartbeats (a
//! killed worker's trial is failed by the next worker and retried with the same parameters)
//! all work as optuna documents them. Each trial is one `latentlab search-trial` process that
//! speaks JSON lines over its stdin/stdout: it asks the driver for every parameter as the
//! space's define-by-run code reaches it (so the space is written once, in Rust, for the CLI and
//! the page), reports each fold's validation loss (the driver feeds it to the pruner and answers
//! whether to stop), and ends with the objective. A net shape inference rejects ends the trial
//! before any training, recorded as pruned with its reason.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::progress::TerminalProgress;
use super::{CliResult, RunArgs};
use crate::search::{self, Candidate, Recorded, SearchSettings, Suggest};
use crate::training::{FitSettings, fit_fold};

/// The driver, in the binary so `latentlab search` works from any directory.
const DRIVER: &str = include_str!("../../python/search.py");

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// The study's name (one study per name in the storage).
    #[arg(long)]
    study: String,
    /// optuna storage URL; default: an SQLite file runs/search/<study>.db. A
    /// postgresql://user@host/db URL lets workers on many machines share one study.
    #[arg(long)]
    storage: Option<String>,
    /// Trials the study should hold when this worker stops (complete or stopped by the pruner;
    /// nets rejected by shape inference do not count): running the command again resumes.
    #[arg(long, default_value_t = 60)]
    trials: usize,
    /// Folds of cross-validation per trial (the study used 5).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Print the best trial's spec, the parameter importances and the history (PNG) instead of
    /// searching.
    #[arg(long)]
    report: bool,
    /// Where the report goes (default runs/search/<study>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The Python with optuna (default: $LATENTLAB_PYTHON, else the venv of setup-search.sh).
    #[arg(long)]
    python: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

/// The venv `scripts/setup-search.sh` makes.
fn default_python() -> PathBuf {
    if let Some(p) = std::env::var_os("LATENTLAB_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/latentlab/optuna-venv/bin/python")
}

pub fn run(args: SearchArgs) -> CliResult {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs/search").join(&args.study));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let storage = match &args.storage {
        Some(url) => url.clone(),
        None => {
            let db = std::path::absolute(PathBuf::from("runs/search"))
                .map_err(|e| e.to_string())?
                .join(format!("{}.db", args.study));
            format!("sqlite:///{}", db.display())
        }
    };
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    // The trial command: this binary, with the run's settings (the same seed, hence the same
    // folds, for every trial).
    let r = &args.run;
    let mut trial = vec![
        exe.display().to_string(),
        "search-trial".into(),
        "--folds".into(),
        args.folds.to_string(),
        "--seed".into(),
        r.seed.to_string(),
        "--data".into(),
        std::path::absolute(&r.data)
            .map_err(|e| e.to_string())?
            .display()
            .to_string(),
        "--backend".into(),
        r.backend.name().into(),
    ];
    for (flag, value) in [
        ("--epochs", r.epochs.map(|v| v.to_string())),
        ("--limit", r.limit.map(|v| v.to_string())),
        ("--max-minutes", r.max_minutes.map(|v| v.to_string())),
    ] {
        if let Some(v) = value {
            trial.extend([flag.to_string(), v]);
        }
    }
    if r.quiet {
        trial.push("--quiet".into());
    }
    let python = args.python.clone().unwrap_or_else(default_python);
    if !python.exists() {
        return Err(format!(
            "{}: no Python with optuna there; run `bash scripts/setup-search.sh` (or pass --python)",
            python.display()
        ));
    }
    let mut command = Command::new(&python);
    command
        .arg("-c")
        .arg(DRIVER)
        .args(["--study", &args.study, "--storage", &storage])
        .args(["--trials", &args.trials.to_string()])
        .arg("--out")
        .arg(&out)
        .arg("--trial-command")
        .arg(serde_json::to_string(&trial).expect("strings serialise"));
    if args.report {
        command.arg("--report");
    }
    // The driver takes this process's place: killing it kills the worker, nothing in between.
    Err(format!("{}: {}", python.display(), command.exec()))
}

#[derive(clap::Args, Debug)]
pub struct TrialArgs {
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Rebuild the spec of these parameters (JSON object) and print it, instead of a trial.
    #[arg(long, value_name = "JSON")]
    spec_of: Option<String>,
    #[command(flatten)]
    run: RunArgs,
}

/// What a trial tells the driver, one JSON object per line on stdout.
#[derive(Serialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
enum Message<'a> {
    /// Asks for a parameter's value: `{"value": v}` comes back.
    Ask {
        kind: &'a str,
        name: &'a str,
        low: f64,
        high: f64,
        log: bool,
    },
    /// The drawn net cannot be built; the trial ends untrained.
    Invalid {
        reason: String,
        spec: &'a crate::model::ModelSpec,
    },
    /// The net this trial trains.
    Spec { spec: &'a crate::model::ModelSpec },
    /// A fold's validation loss (`null`: it diverged): `{"prune": bool}` comes back.
    Fold {
        fold: usize,
        val_loss: Option<f64>,
        minutes: f64,
    },
    /// Every fold ran: the study's objective.
    Done {
        objective: f64,
        mean_val_loss: f64,
        mean_minutes: f64,
    },
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    prune: bool,
}

/// The driver at the other end of stdin/stdout.
struct Driver {
    input: std::io::StdinLock<'static>,
}

impl Driver {
    fn send(&mut self, message: &Message) -> Result<(), String> {
        let mut out = std::io::stdout().lock();
        let line = serde_json::to_string(message).expect("messages serialise");
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| format!("writing to the driver: {e}"))
    }

    fn ask(&mut self, message: &Message) -> Result<Reply, String> {
        self.send(message)?;
        let mut line = String::new();
        let n = self
            .input
            .read_line(&mut line)
            .map_err(|e| format!("reading from the driver: {e}"))?;
        if n == 0 {
            return Err("the driver went away".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("the driver's reply {line:?}: {e}"))
    }

    fn value(&mut self, message: &Message) -> Result<f64, String> {
        let name = match message {
            Message::Ask { name, .. } => *name,
            _ => "",
        };
        self.ask(message)?
            .value
            .ok_or_else(|| format!("the driver sent no value for {name}"))
    }
}

impl Suggest for Driver {
    fn int(&mut self, name: &str, low: i64, high: i64, log: bool) -> Result<i64, String> {
        let v = self.value(&Message::Ask {
            kind: "int",
            name,
            low: low as f64,
            high: high as f64,
            log,
        })?;
        Recorded(BTreeMap::from([(name.to_string(), v)])).int(name, low, high, log)
    }

    fn float(&mut self, name: &str, low: f64, high: f64, log: bool) -> Result<f64, String> {
        let v = self.value(&Message::Ask {
            kind: "float",
            name,
            low,
            high,
            log,
        })?;
        Recorded(BTreeMap::from([(name.to_string(), v)])).float(name, low, high, log)
    }
}

/// Epochs per fold when --epochs is not given: enough for early stopping to decide most runs.
const DEFAULT_EPOCHS: usize = 30;

pub fn run_trial(args: TrialArgs) -> CliResult {
    let settings = SearchSettings {
        epochs: args.run.epochs.unwrap_or(DEFAULT_EPOCHS),
    };
    if let Some(json) = &args.spec_of {
        let params: BTreeMap<String, f64> =
            serde_json::from_str(json).map_err(|e| format!("--spec-of: {e}"))?;
        return match search::draw(&mut Recorded(params), &settings)? {
            Candidate::Valid(spec) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&spec).expect("serialises")
                );
                Ok(())
            }
            Candidate::Invalid(_, e) => Err(format!("these parameters make no net: {e}")),
        };
    }
    let mut driver = Driver {
        input: std::io::stdin().lock(),
    };
    let spec = match search::draw(&mut driver, &settings)? {
        Candidate::Valid(spec) => spec,
        Candidate::Invalid(spec, e) => {
            return driver.send(&Message::Invalid {
                reason: e.to_string(),
                spec: &spec,
            });
        }
    };
    driver.send(&Message::Spec { spec: &spec })?;
    let data = args.run.load_data()?;
    let device = args.run.backend.device()?;
    let settings = args
        .run
        .budgeted(FitSettings::from_spec(&spec.train, args.run.seed))?;
    let (mut losses, mut minutes) = (Vec::new(), 0.0);
    for fold in 0..args.folds {
        let trained = pollster::block_on(fit_fold(
            &spec,
            &data.train,
            args.folds,
            fold,
            &settings,
            &device,
            TerminalProgress::new(args.run.quiet),
        ))?;
        let m = trained.seconds / 60.0;
        let loss = Some(trained.search_loss()).filter(|l| l.is_finite());
        let reply = driver.ask(&Message::Fold {
            fold,
            val_loss: loss,
            minutes: m,
        })?;
        if reply.prune {
            return Ok(());
        }
        losses.push(loss.unwrap_or(f64::INFINITY));
        minutes += m;
    }
    let (mean_val_loss, mean_minutes) = search::fold_means(&losses, minutes);
    driver.send(&Message::Done {
        objective: search::objective(mean_val_loss, mean_minutes, spec.arch.latent),
        mean_val_loss,
        mean_minutes,
    })
}
