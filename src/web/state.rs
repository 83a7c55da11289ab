//! The page's state: signals that the worker's responses update and the components read.

use leptos::prelude::*;

use super::idb::StoredModel;
use super::protocol::{BackendStatus, Response};
use crate::model::ModelSpec;
use crate::training::{EpochRecord, Progress};

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
}

/// Every signal of the page, shared through leptos' context (all fields are `Copy` handles).
#[derive(Clone, Copy)]
pub struct AppState {
    pub worker_ready: RwSignal<bool>,
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
    pub recon: RwSignal<Reconstructions>,
    /// Result of the last finished run: test loss and how it ended.
    pub last_result: RwSignal<Option<String>>,
    pub errors: RwSignal<Vec<String>>,
    pub models: RwSignal<Vec<StoredModel>>,
    /// Name of the model drawing uses, and its latent size.
    pub model_in_use: RwSignal<Option<(String, usize)>>,
    pub inference: RwSignal<Option<Inference>>,
    pub bench: RwSignal<Option<String>>,
    /// A finished model waiting to be stored (the models component stores it).
    pub finished: RwSignal<Option<StoredModel>>,
}

impl AppState {
    pub fn new() -> Self {
        Self {
            worker_ready: RwSignal::new(false),
            backend: RwSignal::new(None),
            data: RwSignal::new(DataState::Waiting),
            loaded: RwSignal::new(None),
            samples: RwSignal::new((Vec::new(), Vec::new())),
            run: RwSignal::new(RunState::Idle),
            run_spec: RwSignal::new(None),
            progress: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            recon: RwSignal::new(Reconstructions::default()),
            last_result: RwSignal::new(None),
            errors: RwSignal::new(Vec::new()),
            models: RwSignal::new(Vec::new()),
            model_in_use: RwSignal::new(None),
            inference: RwSignal::new(None),
            bench: RwSignal::new(None),
            finished: RwSignal::new(None),
        }
    }

    pub fn error(&self, message: impl Into<String>) {
        let message = message.into();
        web_sys::console::error_1(&message.clone().into());
        self.errors.update(|e| e.push(message));
    }

    /// Folds a worker response into the state.
    pub fn apply(&self, response: Response) {
        match response {
            Response::Ready { backend } => {
                self.backend.set(Some(backend));
                self.worker_ready.set(true);
            }
            Response::Backend { backend } => self.backend.set(Some(backend)),
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
                spec, originals, ..
            } => {
                self.run.set(RunState::Running);
                self.run_spec.set(Some(spec));
                self.progress.set(None);
                self.history.set(Vec::new());
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
            } => {
                self.history.update(|h| h.push(record));
                self.recon.update(|r| r.reconstructions = reconstructions);
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
                    let backend = self
                        .backend
                        .get_untracked()
                        .map(|b| b.active.label())
                        .unwrap_or("?");
                    self.finished.set(Some(StoredModel {
                        id: None,
                        name: spec.name.clone(),
                        created: js_sys::Date::now(),
                        spec_name: spec.name.clone(),
                        loss: spec.train.loss.name().into(),
                        test_loss: Some(test_loss),
                        epochs,
                        source: format!("trained here ({backend})"),
                        bytes: model.into_vec(),
                    }));
                }
            }
            Response::ModelInUse { name, spec } => {
                self.model_in_use.set(Some((name, spec.arch.latent)))
            }
            Response::Inferred {
                id,
                reconstruction,
                latent,
            } => self.inference.set(Some(Inference {
                id,
                reconstruction,
                latent,
            })),
            Response::BenchResult {
                preset,
                backend,
                train_images_per_s,
                images,
            } => self.bench.set(Some(format!(
                "{preset} on {}: {train_images_per_s:.0} training images/s ({images} images timed)",
                backend.label()
            ))),
            Response::Error { message } => self.error(message),
        }
    }
}
