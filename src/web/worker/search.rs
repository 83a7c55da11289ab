//! A small hyperparameter search in the page: the study's space and objective (`search/`), TPE
//! suggesting, the median rule stopping poor trials after a fold, each fold trained by the same
//! engine as every other run. Each trial's state goes to the page's table as it changes.

use std::rc::Rc;

use super::Worker;
use crate::model::Autoencoder;
use crate::search::{self, Candidate, Recording, SearchSettings, TpeSearch, median_prune};
use crate::training::{Control, EpochRecord, FitSettings, Hooks, Progress, fit_fold};
use crate::web::protocol::{Response, SearchTrial, TrialState};

/// Trials drawn at random before TPE models the space (optuna starts with 10; a page search is
/// short, so fewer).
const STARTUP_TRIALS: usize = 4;
/// Earlier trials a fold's loss is compared with before the median rule may stop a trial.
const PRUNE_STARTUP: usize = 2;

/// What the page asks of a search.
pub(super) struct SearchRequest {
    pub trials: usize,
    pub folds: usize,
    pub epochs: usize,
    pub limit: usize,
    pub seed: u64,
}

impl Worker {
    pub(super) async fn search(self: Rc<Self>, r: SearchRequest) {
        let fail = |message: String| self.post(Response::SearchFailed { message });
        if self.training.get() {
            return fail("a training run is already going".into());
        }
        let Some(data) = self.data.borrow().clone() else {
            return fail("MNIST is not loaded yet".into());
        };
        if r.trials == 0 || r.epochs == 0 || r.folds < 2 || r.limit < 2 * r.folds {
            return fail(format!(
                "a search needs at least 1 trial, 1 epoch, 2 folds and 2 images per fold (asked: {} trials, {} epochs, {} folds, {} images)",
                r.trials, r.epochs, r.folds, r.limit
            ));
        }
        let images = data.train.take(r.limit.min(data.train.len()));
        let device = self.device();
        let settings = SearchSettings { epochs: r.epochs };
        let mut tpe = TpeSearch::new(r.seed, STARTUP_TRIALS);
        // Fold losses of the trials that trained (for the median rule).
        let mut earlier: Vec<Vec<f64>> = Vec::new();
        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        self.post(Response::SearchStarted {
            trials: r.trials,
            folds: r.folds,
            images: images.len(),
        });
        let mut number = 0;
        let mut finished = 0;
        // Nets shape inference rejects do not count as trials, but bound the attempts.
        while finished < r.trials && number < 50 * r.trials && !self.stop.get() {
            let mut recording = Recording::new(&mut tpe);
            let drawn = search::draw(&mut recording, &settings);
            let params = recording.params;
            let mut trial = match drawn {
                Err(e) => {
                    self.training.set(false);
                    return fail(e);
                }
                Ok(Candidate::Invalid(spec, e)) => {
                    tpe.tell(f64::INFINITY);
                    self.post(Response::SearchTrial {
                        trial: SearchTrial {
                            number,
                            params,
                            spec,
                            state: TrialState::Invalid(e.to_string()),
                            fold_losses: Vec::new(),
                            objective: None,
                        },
                    });
                    number += 1;
                    continue;
                }
                Ok(Candidate::Valid(spec)) => SearchTrial {
                    number,
                    params,
                    spec,
                    state: TrialState::Running,
                    fold_losses: Vec::new(),
                    objective: None,
                },
            };
            number += 1;
            self.post(Response::SearchTrial {
                trial: trial.clone(),
            });
            let mut minutes = 0.0;
            for fold in 0..r.folds {
                let mut settings = FitSettings::from_spec(&trial.spec.train, r.seed);
                settings.read_every = self.read_every();
                let hooks = SearchHooks {
                    worker: self.clone(),
                    trial: trial.number,
                    fold,
                };
                let trained = match fit_fold(
                    &trial.spec,
                    &images,
                    r.folds,
                    fold,
                    &settings,
                    &device,
                    hooks,
                )
                .await
                {
                    Ok(trained) => trained,
                    Err(e) => {
                        trial.state = TrialState::Invalid(e);
                        break;
                    }
                };
                minutes += trained.seconds / 60.0;
                if self.stop.get() {
                    trial.state = TrialState::Stopped;
                    break;
                }
                let loss = trained.search_loss();
                trial.fold_losses.push(loss);
                if median_prune(&earlier, fold, loss, PRUNE_STARTUP) {
                    trial.state = TrialState::Pruned;
                    break;
                }
                self.post(Response::SearchTrial {
                    trial: trial.clone(),
                });
            }
            // The objective of the folds that ran (unused when none did).
            let (mean_loss, mean_minutes) = search::fold_means(&trial.fold_losses, minutes);
            let score = search::objective(mean_loss, mean_minutes, trial.spec.arch.latent);
            match trial.state {
                TrialState::Running => {
                    trial.state = TrialState::Complete;
                    trial.objective = Some(score);
                    tpe.tell(score);
                    finished += 1;
                }
                TrialState::Pruned => {
                    // A pruned trial is worse than the median: told as its loss so far with
                    // the objective's penalties, which ranks it among the poor ones.
                    tpe.tell(score);
                    finished += 1;
                }
                TrialState::Invalid(_) => tpe.tell(f64::INFINITY),
                TrialState::Stopped | TrialState::Complete => {}
            }
            if !trial.fold_losses.is_empty() {
                earlier.push(trial.fold_losses.clone());
            }
            self.post(Response::SearchTrial { trial });
        }
        self.training.set(false);
        self.paused.set(false);
        self.post(Response::SearchFinished {
            stopped: self.stop.get(),
        });
    }
}

/// A fold's hooks: progress to the search view (with the trial and fold), stop comes back.
struct SearchHooks {
    worker: Rc<Worker>,
    trial: usize,
    fold: usize,
}

impl Hooks<Autoencoder> for SearchHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker
            .progress(Response::SearchProgress {
                trial: self.trial,
                fold: self.fold,
                progress: progress.clone(),
            })
            .await
    }

    async fn on_epoch(&mut self, _model: &Autoencoder, _record: &EpochRecord) -> Control {
        self.worker.control()
    }
}
