//! The page's state: signals that the worker's responses update and the components read.

use leptos::prelude::*;

use super::idb::StoredModel;
use super::protocol::{BackendStatus, Embedder, Response, SearchTrial, TrialState};
use crate::latent::{Method, Ranges};
use crate::model::{GanSpec, ModelSpec, Unfreeze};
use crate::training::{EpochRecord, LayerSparsity, Progress};

#[derive(Clone, Debug, PartialEq)]
pub enum DataState {
    Waiting,
    Loading {
        file: String,
        loaded: u64,
        total: u64,
    },
    Ready {
        train: usize,
        test: usize,
    },
    Failed(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Running,
    Paused,
    Stopping,
}

/// Reconstructions of the shown test digits, as of the last epoch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconstructions {
    pub originals: Vec<f32>,
    pub reconstructions: Vec<f32>,
}

/// The latest inference on the drawing canvas.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inference {
    pub id: u64,
    pub reconstruction: Vec<f32>,
    pub latent: Vec<f32>,
    /// Digit probabilities, when a classifier exists.
    pub probabilities: Option<Vec<f32>>,
}

/// The classifier that labels drawings.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierInfo {
    pub name: String,
    pub unfreeze: Unfreeze,
    /// Test accuracy and confusion matrix, when fine-tuned here.
    pub accuracy: Option<f64>,
    pub confusion: Option<Vec<Vec<usize>>>,
    pub bytes: Vec<u8>,
}

/// One latent view, as the worker computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding {
    pub method: Method,
    pub points: Vec<[f32; 2]>,
    pub labels: Vec<u8>,
    /// The embedded digits' pixels (u8, 784 each), shown on hover.
    pub images: Vec<u8>,
    pub seconds: f64,
}

/// Every signal of the page, shared through leptos' context (all fields are `Copy` handles).
#[derive(Clone, Copy)]
pub struct AppState {
    pub backend: RwSignal<Option<BackendStatus>>,
    pub data: RwSignal<DataState>,
    /// Sizes of the data the worker holds, once some has loaded.
    pub loaded: RwSignal<Option<(usize, usize)>>,
    /// Test digits (u8, 784 each) and their labels, for "random test digit".
    pub samples: RwSignal<(Vec<u8>, Vec<u8>)>,
    pub run: RwSignal<RunState>,
    pub run_spec: RwSignal<Option<ModelSpec>>,
    pub progress: RwSignal<Option<Progress>>,
    pub history: RwSignal<Vec<EpochRecord>>,
    /// The worker's wasm memory (MB) after each epoch of the run.
    pub memory: RwSignal<Vec<f64>>,
    /// The run in progress as a checkpoint would resume it: its limit and seed, and the epochs
    /// done before it started (a resumed run continues a checkpoint's count).
    pub run_origin: RwSignal<(Option<usize>, u64, usize)>,
    /// Epochs done before the next run starts (set by "Resume", 0 otherwise).
    pub resume_base: RwSignal<usize>,
    /// A checkpoint found in IndexedDB when the page opened (a run a reload interrupted), or
    /// the last one of a run whose worker failed: offered for resuming.
    pub checkpoint: RwSignal<Option<StoredModel>>,
    /// The last checkpoint of the run in progress, as sent to IndexedDB (a failed worker's run
    /// is offered from it without waiting for the write).
    pub latest_checkpoint: RwSignal<Option<StoredModel>>,
    /// The run and epochs done of the checkpoint IndexedDB holds now (None: none stored).
    pub checkpoint_stored: RwSignal<Option<(String, usize)>>,
    pub recon: RwSignal<Reconstructions>,
    /// Result of the last finished run: test loss and how it ended.
    pub last_result: RwSignal<Option<String>>,
    pub errors: RwSignal<Vec<String>>,
    pub models: RwSignal<Vec<StoredModel>>,
    /// Name of the model drawing uses, and its latent size.
    pub model_in_use: RwSignal<Option<(String, usize)>>,
    /// Range of each latent dimension of the model in use (the sliders' bounds).
    pub ranges: RwSignal<Option<Ranges>>,
    /// Zero-weight fraction per layer, as of the last epoch of a pruned run.
    pub sparsity: RwSignal<Vec<LayerSparsity>>,
    /// Fine-tuning in the page: running or not, progress and history.
    pub finetune_running: RwSignal<bool>,
    pub finetune_progress: RwSignal<Option<Progress>>,
    pub finetune_history: RwSignal<Vec<EpochRecord>>,
    pub classifier: RwSignal<Option<ClassifierInfo>>,
    /// Latent views: the autoencoder's and the classifier's.
    pub embedding_ae: RwSignal<Option<Embedding>>,
    pub embedding_clf: RwSignal<Option<Embedding>>,
    /// A latent view being computed: whose, and t-SNE's (iteration, total) when known.
    pub embedding_busy: RwSignal<Option<(Embedder, usize, usize)>>,
    /// The last decoded latent codes (sliders, interpolation), by request id.
    pub decoded: RwSignal<Option<(u64, Vec<f32>)>>,
    pub inference: RwSignal<Option<Inference>>,
    pub bench: RwSignal<Option<String>>,
    /// A finished model waiting to be stored (the models component stores it).
    pub finished: RwSignal<Option<StoredModel>>,
    /// GAN training in the page: running or not, progress (both losses), history, and the
    /// last epoch's grid of digits.
    pub gan_running: RwSignal<bool>,
    pub gan_progress: RwSignal<Option<Progress>>,
    pub gan_history: RwSignal<Vec<EpochRecord>>,
    pub gan_samples: RwSignal<Vec<f32>>,
    /// The GAN the Generate view draws from.
    pub gan_in_use: RwSignal<Option<(String, GanSpec)>>,
    /// Generated digits by request id, queued until the Generate view takes them: its grid and
    /// its walk answer back to back, and a single slot could keep only the second of the two.
    pub generated: RwSignal<Vec<(u64, Vec<f32>)>>,
    /// The page's hyperparameter search: running or not, its trials (by number), the fold in
    /// progress, and how it ended.
    pub search_running: RwSignal<bool>,
    pub search_trials: RwSignal<Vec<SearchTrial>>,
    pub search_progress: RwSignal<Option<(usize, usize, Progress)>>,
    pub search_result: RwSignal<Option<String>>,
    /// A spec for the train view's editor (the search's best, "use in the editor").
    pub editor_spec: RwSignal<Option<ModelSpec>>,
}

impl AppState {
    pub fn new() -> Self {
        Self {
            backend: RwSignal::new(None),
            data: RwSignal::new(DataState::Waiting),
            loaded: RwSignal::new(None),
            samples: RwSignal::new((Vec::new(), Vec::new())),
            run: RwSignal::new(RunState::Idle),
            run_spec: RwSignal::new(None),
            progress: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            memory: RwSignal::new(Vec::new()),
            run_origin: RwSignal::new((None, 0, 0)),
            resume_base: RwSignal::new(0),
            checkpoint: RwSignal::new(None),
            latest_checkpoint: RwSignal::new(None),
            checkpoint_stored: RwSignal::new(None),
            recon: RwSignal::new(Reconstructions::default()),
            last_result: RwSignal::new(None),
            errors: RwSignal::new(Vec::new()),
            models: RwSignal::new(Vec::new()),
            model_in_use: RwSignal::new(None),
            ranges: RwSignal::new(None),
            sparsity: RwSignal::new(Vec::new()),
            finetune_running: RwSignal::new(false),
            finetune_progress: RwSignal::new(None),
            finetune_history: RwSignal::new(Vec::new()),
            classifier: RwSignal::new(None),
            embedding_ae: RwSignal::new(None),
            embedding_clf: RwSignal::new(None),
            embedding_busy: RwSignal::new(None),
            decoded: RwSignal::new(None),
            inference: RwSignal::new(None),
            bench: RwSignal::new(None),
            finished: RwSignal::new(None),
            gan_running: RwSignal::new(false),
            gan_progress: RwSignal::new(None),
            gan_history: RwSignal::new(Vec::new()),
            gan_samples: RwSignal::new(Vec::new()),
            gan_in_use: RwSignal::new(None),
            generated: RwSignal::new(Vec::new()),
            search_running: RwSignal::new(false),
            search_trials: RwSignal::new(Vec::new()),
            search_progress: RwSignal::new(None),
            search_result: RwSignal::new(None),
            editor_spec: RwSignal::new(None),
        }
    }

    pub fn error(&self, message: impl Into<String>) {
        let message = message.into();
        web_sys::console::error_1(&message.clone().into());
        self.errors.update(|e| e.push(message));
    }

    /// Where a model trained in the page came from, for the saved-models list.
    /// Keeps the weights after `epoch` of the run in progress as the checkpoint a reload can
    /// resume (IndexedDB errors are shown, never silent).
    fn keep_checkpoint(&self, epoch: usize, bytes: Vec<u8>) {
        let Some(spec) = self.run_spec.get_untracked() else {
            return;
        };
        let (limit, seed, base) = self.run_origin.get_untracked();
        let model = StoredModel {
            id: None,
            name: spec.name.clone(),
            created: js_sys::Date::now(),
            spec_name: spec.name.clone(),
            loss: spec.train.loss.name().into(),
            test_loss: None,
            epochs: base + epoch,
            source: crate::web::idb::CHECKPOINT.into(),
            bytes,
            resume: Some(crate::web::idb::Resume {
                epochs_done: base + epoch,
                epochs_total: base + spec.train.epochs,
                limit,
                seed,
            }),
        };
        self.latest_checkpoint.set(Some(model.clone()));
        let state = *self;
        crate::web::idb::want_checkpoint(Some(model), move |done| match done {
            Ok(epochs) => state.checkpoint_stored.set(epochs),
            Err(e) => state.error(format!("the checkpoint of this run was not kept: {e}")),
        });
    }

    /// The worker failed: every run it held is over and its models in use are gone (saved
    /// models stay in IndexedDB); the run in progress can be resumed from its checkpoint.
    pub fn worker_crashed(&self, message: String, restarting: bool) {
        self.error(if restarting {
            format!("{message}; the worker was restarted (saved models are kept)")
        } else {
            format!("{message}; the worker failed too often and was not restarted: reload the page")
        });
        // The new worker loads the data again (the served files, as every worker does at start).
        self.data.set(DataState::Waiting);
        self.run.set(RunState::Idle);
        self.progress.set(None);
        self.finetune_running.set(false);
        self.gan_running.set(false);
        self.search_running.set(false);
        self.model_in_use.set(None);
        self.classifier.set(None);
        self.gan_in_use.set(None);
        // The run in progress (if any) can go on from its last epoch.
        self.checkpoint.set(self.latest_checkpoint.get_untracked());
    }

    /// Forgets any checkpoint (a run ended, or the user discarded it).
    pub fn clear_checkpoint(&self) {
        self.checkpoint.set(None);
        self.latest_checkpoint.set(None);
        self.resume_base.set(0);
        let state = *self;
        crate::web::idb::want_checkpoint(None, move |done| match done {
            Ok(epochs) => state.checkpoint_stored.set(epochs),
            Err(e) => state.error(e),
        });
    }

    fn trained_here(&self) -> String {
        let backend = self
            .backend
            .get_untracked()
            .map(|b| b.active.label())
            .unwrap_or("?");
        format!("trained here ({backend})")
    }

    /// Folds a worker response into the state.
    pub fn apply(&self, response: Response) {
        match response {
            Response::Ready { backend } | Response::Backend { backend } => {
                self.backend.set(Some(backend))
            }
            Response::DataProgress {
                file,
                loaded,
                total,
            } => self.data.set(DataState::Loading {
                file,
                loaded,
                total,
            }),
            Response::DataReady {
                train,
                test,
                samples,
                labels,
            } => {
                self.samples.set((samples.into_vec(), labels.into_vec()));
                self.loaded.set(Some((train, test)));
                self.data.set(DataState::Ready { train, test });
            }
            Response::DataError { message } => {
                // Bad files lose nothing: data loaded before stays in use.
                match self.loaded.get_untracked() {
                    Some((train, test)) => self.data.set(DataState::Ready { train, test }),
                    None => self.data.set(DataState::Failed(message.clone())),
                }
                self.error(message);
            }
            Response::Started {
                spec,
                originals,
                limit,
                seed,
                ..
            } => {
                self.run_origin
                    .set((limit, seed, self.resume_base.get_untracked()));
                self.run.set(RunState::Running);
                self.run_spec.set(Some(spec));
                self.progress.set(None);
                self.history.set(Vec::new());
                self.memory.set(Vec::new());
                self.sparsity.set(Vec::new());
                self.last_result.set(None);
                self.recon.set(Reconstructions {
                    originals,
                    reconstructions: Vec::new(),
                });
            }
            Response::Progress { progress } => self.progress.set(Some(progress)),
            Response::Paused => self.run.set(RunState::Paused),
            Response::Resumed => {
                if self.run.get_untracked() == RunState::Paused {
                    self.run.set(RunState::Running);
                }
            }
            Response::Epoch {
                record,
                reconstructions,
                sparsity,
                memory_mb,
                model,
            } => {
                self.keep_checkpoint(record.epoch, model.into_vec());
                self.history.update(|h| h.push(record));
                self.memory.update(|m| m.push(memory_mb));
                self.recon.update(|r| r.reconstructions = reconstructions);
                self.sparsity.set(sparsity);
            }
            Response::Finished {
                model,
                spec,
                test_loss,
                stop,
                history,
                message,
            } => {
                self.run.set(RunState::Idle);
                // The run is over (finished or stopped): its model is kept, not its checkpoint.
                self.clear_checkpoint();
                if let Some(message) = message {
                    self.error(message);
                }
                let epochs = history.len();
                self.last_result.set(Some(format!(
                    "test {} {:.4} after {} epoch{} ({})",
                    spec.train.loss.name(),
                    test_loss,
                    epochs,
                    if epochs == 1 { "" } else { "s" },
                    serde_json::to_value(&stop)
                        .ok()
                        .and_then(|v| v["reason"].as_str().map(str::to_string))
                        .unwrap_or_default()
                )));
                if epochs > 0 {
                    self.model_in_use
                        .set(Some((spec.name.clone(), spec.arch.latent)));
                    self.finished.set(Some(StoredModel {
                        id: None,
                        name: spec.name.clone(),
                        created: js_sys::Date::now(),
                        spec_name: spec.name.clone(),
                        loss: spec.train.loss.name().into(),
                        test_loss: Some(test_loss),
                        epochs,
                        source: self.trained_here(),
                        bytes: model.into_vec(),
                        resume: None,
                    }));
                }
            }
            Response::ModelInUse { name, spec, ranges } => {
                self.ranges.set(Some(ranges));
                self.model_in_use.set(Some((name, spec.arch.latent)));
                // Views of the previous model no longer apply.
                self.embedding_ae.set(None);
            }
            Response::Inferred {
                id,
                reconstruction,
                latent,
                probabilities,
            } => self.inference.set(Some(Inference {
                id,
                reconstruction,
                latent,
                probabilities,
            })),
            Response::FinetuneStarted { .. } => {
                self.finetune_running.set(true);
                self.finetune_progress.set(None);
                self.finetune_history.set(Vec::new());
            }
            Response::FinetuneProgress { progress } => self.finetune_progress.set(Some(progress)),
            Response::FinetuneEpoch { record } => self.finetune_history.update(|h| h.push(record)),
            Response::FinetuneFailed { message } => {
                self.finetune_running.set(false);
                self.error(message);
            }
            Response::ClassifierReady {
                name,
                unfreeze,
                accuracy,
                confusion,
                model,
            } => {
                self.finetune_running.set(false);
                self.embedding_clf.set(None);
                // Fine-tuned here: keep it with the saved models (loaded ones are there already).
                if let Some(accuracy) = accuracy {
                    self.finished.set(Some(StoredModel {
                        id: None,
                        name: name.clone(),
                        created: js_sys::Date::now(),
                        spec_name: format!("classifier ({})", unfreeze.name()),
                        loss: "accuracy".into(),
                        test_loss: Some(accuracy),
                        epochs: self.finetune_history.with_untracked(Vec::len),
                        source: "fine-tuned here".into(),
                        bytes: model.to_vec(),
                        resume: None,
                    }));
                }
                self.classifier.set(Some(ClassifierInfo {
                    name,
                    unfreeze,
                    accuracy,
                    confusion,
                    bytes: model.into_vec(),
                }));
            }
            Response::EmbedProgress {
                which,
                iteration,
                total,
            } => self.embedding_busy.set(Some((which, iteration, total))),
            Response::Embedded {
                which,
                method,
                points,
                labels,
                images,
                seconds,
            } => {
                self.embedding_busy.set(None);
                let embedding = Some(Embedding {
                    method,
                    points,
                    labels: labels.into_vec(),
                    images: images.into_vec(),
                    seconds,
                });
                match which {
                    Embedder::Autoencoder => self.embedding_ae.set(embedding),
                    Embedder::Classifier => self.embedding_clf.set(embedding),
                }
            }
            Response::Decoded { id, images } => self.decoded.set(Some((id, images))),
            Response::BenchResult {
                preset,
                backend,
                train_images_per_s,
                images,
            } => self.bench.set(Some(format!(
                "{preset} on {}: {train_images_per_s:.0} training images/s ({images} images timed)",
                backend.label()
            ))),
            Response::GanStarted { .. } => {
                self.gan_running.set(true);
                self.gan_progress.set(None);
                self.gan_history.set(Vec::new());
                self.gan_samples.set(Vec::new());
            }
            Response::GanProgress { progress } => self.gan_progress.set(Some(progress)),
            Response::GanEpoch { record, samples } => {
                self.gan_history.update(|h| h.push(record));
                self.gan_samples.set(samples);
            }
            Response::GanFinished {
                model,
                spec,
                history,
                message,
                ..
            } => {
                self.gan_running.set(false);
                if let Some(message) = message {
                    self.error(message);
                }
                if !history.is_empty() {
                    self.finished.set(Some(StoredModel {
                        id: None,
                        name: spec.name.clone(),
                        created: js_sys::Date::now(),
                        spec_name: format!("GAN ({})", spec.kind.name()),
                        loss: "gan".into(),
                        test_loss: None,
                        epochs: history.len(),
                        source: self.trained_here(),
                        bytes: model.into_vec(),
                        resume: None,
                    }));
                }
            }
            Response::GanFailed { message } => {
                self.gan_running.set(false);
                self.error(message);
            }
            Response::SearchStarted {
                trials,
                folds,
                images,
            } => {
                self.search_running.set(true);
                self.search_trials.set(Vec::new());
                self.search_progress.set(None);
                self.search_result.set(Some(format!(
                    "searching: {trials} trials of {folds}-fold cross-validation on {images} images"
                )));
            }
            Response::SearchTrial { trial } => self.search_trials.update(|trials| {
                match trials.iter_mut().find(|t| t.number == trial.number) {
                    Some(t) => *t = trial,
                    None => trials.push(trial),
                }
            }),
            Response::SearchProgress {
                trial,
                fold,
                progress,
            } => self.search_progress.set(Some((trial, fold, progress))),
            Response::SearchFinished { stopped } => {
                self.search_running.set(false);
                self.search_progress.set(None);
                let trials = self.search_trials.get_untracked();
                let count =
                    |f: fn(&TrialState) -> bool| trials.iter().filter(|t| f(&t.state)).count();
                self.search_result.set(Some(format!(
                    "{}: {} complete, {} pruned by the median rule, {} invalid nets rejected",
                    if stopped { "stopped" } else { "finished" },
                    count(|s| *s == TrialState::Complete),
                    count(|s| *s == TrialState::Pruned),
                    count(|s| matches!(s, TrialState::Invalid(_))),
                )));
            }
            Response::SearchFailed { message } => {
                self.search_running.set(false);
                self.error(format!("search: {message}"));
            }
            Response::GanInUse { name, spec } => self.gan_in_use.set(Some((name, spec))),
            Response::Generated { id, images } => self.generated.update(|q| q.push((id, images))),
            Response::Error { message } => {
                // An error ends whatever view was being computed.
                self.embedding_busy.set(None);
                self.error(message)
            }
        }
    }
}
