//! The Web Worker side of the page: it owns the data, the backend, the models in use and the
//! training loops, so the page never freezes. It answers [`Request`]s with [`Response`]s.
//!
//! This file holds the worker's state, its entry point and the dispatch of requests; each
//! concern's handlers are in a module of their own (`impl Worker` blocks).

mod backend;
mod data;
mod finetune;
mod gan;
mod models;
mod search;
mod train;
mod views;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::prelude::*;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{BackendKind, BackendStatus, Request, Response};
use crate::data::{Images, Mnist};
use crate::model::{Autoencoder, Classifier, ModelSpec};
use crate::training::Control;

/// Test digits shown with their reconstructions while training.
const SHOWN_DIGITS: usize = 10;
/// Test digits handed to the page (for "random test digit").
const SAMPLE_DIGITS: usize = 500;

/// Test digits whose codes bound the latent sliders.
const RANGE_DIGITS: usize = 2000;

/// The model drawing and inference use.
struct Active {
    name: String,
    bytes: Vec<u8>,
    spec: ModelSpec,
    model: Autoencoder,
}

/// The classifier that labels drawings (fine-tuned here or loaded).
struct ActiveClassifier {
    name: String,
    bytes: Vec<u8>,
    model: Classifier,
}

struct Worker {
    scope: DedicatedWorkerGlobalScope,
    data: RefCell<Option<Rc<Mnist>>>,
    /// Counts the user's files taken into use: the served data, loading as the worker starts,
    /// gives way to them (`load_served` stops once this changes) rather than replacing them.
    user_data: Cell<u32>,
    status: RefCell<BackendStatus>,
    /// The WebGPU device, once initialised (burn's wgpu runtime can only be set up once).
    webgpu: RefCell<Option<Device>>,
    active: RefCell<Option<Active>>,
    classifier: RefCell<Option<ActiveClassifier>>,
    gan: RefCell<Option<gan::ActiveGan>>,
    training: Cell<bool>,
    paused: Cell<bool>,
    stop: Cell<bool>,
    /// The threaded build's pool of workers, starting while the data loads (`initThreadPool`'s
    /// promise; `undefined` in the single-threaded build). Work that computes waits for it.
    pool: js_sys::Promise,
    /// Threads the CPU path computes on: the pool's size, or 1. (Asking rayon before its pool
    /// exists would make it start one of its own, which wasm cannot.)
    cpu_threads: usize,
}

/// Entry point of the worker script (`worker.js` imports the module and calls this with the
/// promise of the thread pool it is starting and its size, or `undefined` and 1).
#[wasm_bindgen]
pub fn worker_main(pool: JsValue, cpu_threads: usize) {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let worker = Rc::new(Worker {
        scope: scope.clone(),
        data: RefCell::new(None),
        user_data: Cell::new(0),
        status: RefCell::new(BackendStatus {
            active: BackendKind::Cpu,
            webgpu_available: false,
            webgpu_software: false,
            adapter: String::new(),
            reason: "probing WebGPU".into(),
        }),
        webgpu: RefCell::new(None),
        active: RefCell::new(None),
        classifier: RefCell::new(None),
        gan: RefCell::new(None),
        training: Cell::new(false),
        paused: Cell::new(false),
        stop: Cell::new(false),
        pool: js_sys::Promise::resolve(&pool),
        cpu_threads: cpu_threads.max(1),
    });
    let handler = {
        let worker = worker.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            match serde_wasm_bindgen::from_value::<Request>(event.data()) {
                Ok(request) => worker.clone().handle(request),
                Err(e) => worker.post(Response::Error {
                    message: format!("unreadable request: {e}"),
                }),
            }
        })
    };
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget(); // lives as long as the worker
    // The data the server offers, at once: worker.js has been fetching it since the worker
    // started (while the page compiled the module), so this does not wait for the page.
    spawn_local({
        let worker = worker.clone();
        async move { worker.load_served().await }
    });
    spawn_local(async move {
        let status = worker.choose_initial_backend().await;
        *worker.status.borrow_mut() = status.clone();
        worker.post(Response::Ready { backend: status });
    });
}

impl Worker {
    fn post(&self, response: Response) {
        let serializer = serde_wasm_bindgen::Serializer::new().serialize_bytes_as_arrays(false);
        match serde::Serialize::serialize(&response, &serializer) {
            Ok(value) => {
                let _ = self.scope.post_message(&value);
            }
            Err(e) => web_sys::console::error_1(&format!("cannot send {e}").into()),
        }
    }

    fn error(&self, message: impl Into<String>) {
        self.post(Response::Error {
            message: message.into(),
        });
    }

    fn handle(self: Rc<Self>, request: Request) {
        match request {
            // Control messages act at once: the training loop reads the flags between batches.
            Request::Pause => {
                if self.training.get() {
                    self.paused.set(true);
                }
            }
            Request::Resume => self.paused.set(false),
            Request::Panic => panic!("asked to crash (Request::Panic)"),
            Request::Stop => {
                self.stop.set(self.training.get());
                self.paused.set(false);
            }
            request => spawn_local(async move { self.run(request).await }),
        }
    }

    async fn run(self: Rc<Self>, request: Request) {
        let loads_data = matches!(request, Request::LoadFiles { .. });
        if !loads_data && let Err(e) = wasm_bindgen_futures::JsFuture::from(self.pool.clone()).await
        {
            return self.error(format!(
                "the pool of worker threads did not start ({e:?}): open the page with \
                 ?build=webgpu to train on one thread"
            ));
        }
        match request {
            Request::LoadFiles { files } => match Mnist::from_unordered(
                files
                    .into_iter()
                    .map(|f| (f.name, f.bytes.into_vec()))
                    .collect(),
            ) {
                Ok(mnist) => {
                    self.user_data.set(self.user_data.get() + 1);
                    self.set_data(mnist)
                }
                Err(message) => self.post(Response::DataError { message }),
            },
            Request::UseBackend { kind } => self.use_backend(kind).await,
            Request::Train {
                spec,
                seed,
                limit,
                from_model_in_use,
                start,
            } => {
                let start = start.map(|b| b.into_vec());
                self.train(spec, seed, limit, from_model_in_use, start)
                    .await
            }
            Request::Finetune {
                unfreeze,
                epochs,
                seed,
                limit,
            } => self.finetune(unfreeze, epochs, seed, limit).await,
            Request::Embed {
                which,
                method,
                points,
            } => self.embed(which, method, points).await,
            Request::Decode { id, codes } => self.decode(id, codes).await,
            Request::UseModel { name, bytes } => self.use_model(name, bytes.into_vec()).await,
            Request::Infer { id, pixels } => self.infer(id, pixels).await,
            Request::Bench { spec, seconds } => self.bench(spec, seconds).await,
            Request::Search {
                trials,
                folds,
                epochs,
                limit,
                seed,
            } => {
                self.search(search::SearchRequest {
                    trials,
                    folds,
                    epochs,
                    limit,
                    seed,
                })
                .await
            }
            Request::TrainGan {
                kind,
                epochs,
                seed,
                limit,
            } => self.train_gan(kind, epochs, seed, limit).await,
            Request::Generate { id, class, seeds } => self.generate(id, class, seeds).await,
            Request::Walk {
                id,
                class,
                from,
                to,
                steps,
            } => self.walk(id, class, from, to, steps).await,
            Request::Pause | Request::Resume | Request::Stop | Request::Panic => {
                unreachable!("handled synchronously")
            }
        }
    }

    /// Batches between loss read-backs: reading a loss back stalls a GPU; on the CPU it is free
    /// but each read is a chance to report progress and take pause/stop messages.
    fn read_every(&self) -> usize {
        if self.status.borrow().active == BackendKind::WebGpu {
            8
        } else {
            4
        }
    }

    /// The device of the active backend.
    fn device(&self) -> Device {
        match self.status.borrow().active {
            BackendKind::WebGpu => self
                .webgpu
                .borrow()
                .clone()
                .expect("WebGPU is active only once initialised"),
            BackendKind::Cpu => Device::flex(),
        }
    }
}

impl Worker {
    /// Between batches: lets the worker's message handler run (pause, stop, inference
    /// requests), waits while paused, and says whether to go on.
    async fn checkpoint(&self) -> Control {
        TimeoutFuture::new(0).await;
        if self.paused.get() {
            self.post(Response::Paused);
            while self.paused.get() && !self.stop.get() {
                TimeoutFuture::new(50).await;
            }
            self.post(Response::Resumed);
        }
        self.control()
    }

    /// Stop when the page asked to.
    fn control(&self) -> Control {
        if self.stop.get() {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    /// A run's progress message (every run's `Hooks::on_progress`): sent, then the checkpoint.
    async fn progress(&self, response: Response) -> Control {
        self.post(response);
        self.checkpoint().await
    }

    /// A run's epoch message (every run's `Hooks::on_epoch`): sent, then whether to go on.
    fn epoch(&self, response: Response) -> Control {
        self.post(response);
        self.control()
    }
}

/// The size of this module's linear memory in MB (what flex's tensors live in).
fn wasm_memory_mb() -> f64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .map(|m| {
            m.buffer()
                .unchecked_into::<js_sys::ArrayBuffer>()
                .byte_length() as f64
                / (1024.0 * 1024.0)
        })
        .unwrap_or(f64::NAN)
}

/// The training images (the first `limit`, if given) split 80/20 into train and validation.
fn train_val(data: &Mnist, limit: Option<usize>, seed: u64) -> Result<(Images, Images), String> {
    let source = match limit {
        Some(n) => data.train.take(n),
        None => data.train.clone(),
    };
    source.split(0.2, seed).map_err(|e| e.to_string())
}
