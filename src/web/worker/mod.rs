//! The Web Worker side of the page: it owns the data, the backend, the model in use and the
//! training loop, so the page never freezes. It answers [`Request`]s with [`Response`]s.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use burn::prelude::*;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Reflect, Uint8Array};
use serde_bytes::ByteBuf;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{BackendKind, BackendStatus, Embedder, Request, Response};
use crate::data::mnist::{FILE_NAMES, PIXELS};
use crate::data::{Images, Mnist};
use crate::inference;
use crate::latent::{self, Method, Ranges};
use crate::model::{Autoencoder, CLASSES, Classifier, ClassifierSpec, ModelSpec, Unfreeze};
use crate::store;
use crate::training::{
    Classification, Control, EpochRecord, FitSettings, Hooks, Progress, fit, fit_spec, sparsity,
    train_throughput,
};

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
    status: RefCell<BackendStatus>,
    /// The WebGPU device, once initialised (burn's wgpu runtime can only be set up once).
    webgpu: RefCell<Option<Device>>,
    active: RefCell<Option<Active>>,
    classifier: RefCell<Option<ActiveClassifier>>,
    training: Cell<bool>,
    paused: Cell<bool>,
    stop: Cell<bool>,
}

/// Entry point of the worker script (`worker.js` imports the module and calls this).
#[wasm_bindgen]
pub fn worker_main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let worker = Rc::new(Worker {
        scope: scope.clone(),
        data: RefCell::new(None),
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
        training: Cell::new(false),
        paused: Cell::new(false),
        stop: Cell::new(false),
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
            Request::Stop => {
                self.stop.set(self.training.get());
                self.paused.set(false);
            }
            request => spawn_local(async move { self.run(request).await }),
        }
    }

    async fn run(self: Rc<Self>, request: Request) {
        match request {
            Request::LoadServedData { base } => self.load_served(&base).await,
            Request::LoadFiles { files } => match Mnist::from_unordered(
                files
                    .into_iter()
                    .map(|f| (f.name, f.bytes.into_vec()))
                    .collect(),
            ) {
                Ok(mnist) => self.set_data(mnist),
                Err(message) => self.post(Response::DataError { message }),
            },
            Request::UseBackend { kind } => self.use_backend(kind).await,
            Request::Train {
                spec,
                seed,
                limit,
                from_model_in_use,
            } => self.train(spec, seed, limit, from_model_in_use).await,
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
            Request::Pause | Request::Resume | Request::Stop => {
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

    // ---- backend ------------------------------------------------------------------------------

    /// WebGPU when there is a hardware adapter; the CPU when there is none or only a software one.
    async fn choose_initial_backend(&self) -> BackendStatus {
        let probe = probe_webgpu().await;
        let mut status = BackendStatus {
            active: BackendKind::Cpu,
            webgpu_available: probe.is_some(),
            webgpu_software: probe.as_ref().is_some_and(|p| p.1),
            adapter: probe.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
            reason: String::new(),
        };
        status.reason = match &probe {
            None => "no WebGPU adapter: training on CPU".into(),
            Some((adapter, true)) => {
                format!(
                    "WebGPU adapter is software ({adapter}), slower than the CPU path: training on CPU"
                )
            }
            Some((adapter, false)) => match self.init_webgpu().await {
                Ok(()) => {
                    status.active = BackendKind::WebGpu;
                    format!("WebGPU adapter {adapter}: training on the GPU")
                }
                Err(e) => format!("WebGPU failed to start ({e}): training on CPU"),
            },
        };
        status
    }

    async fn init_webgpu(&self) -> Result<(), String> {
        if self.webgpu.borrow().is_some() {
            return Ok(());
        }
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| e.to_string())?;
        *self.webgpu.borrow_mut() = Some(device);
        Ok(())
    }

    async fn use_backend(&self, kind: BackendKind) {
        if self.training.get() {
            return self.error("the backend can change once training has stopped");
        }
        if kind == BackendKind::WebGpu {
            if !self.status.borrow().webgpu_available {
                return self.error("this browser has no WebGPU adapter");
            }
            if let Err(e) = self.init_webgpu().await {
                return self.error(format!("WebGPU failed to start: {e}"));
            }
        }
        let status = {
            let mut status = self.status.borrow_mut();
            status.active = kind;
            status.reason = match kind {
                BackendKind::WebGpu => {
                    format!("training on WebGPU ({}), as chosen", status.adapter)
                }
                BackendKind::Cpu => "training on CPU, as chosen".into(),
            };
            status.clone()
        };
        // The models in use move to the new device.
        let active = self.active.borrow_mut().take();
        if let Some(active) = active {
            self.use_model(active.name, active.bytes).await;
        }
        let classifier = self.classifier.borrow_mut().take();
        if let Some(c) = classifier {
            self.use_model(c.name, c.bytes).await;
        }
        self.post(Response::Backend { backend: status });
    }

    // ---- data -----------------------------------------------------------------------------------

    async fn load_served(&self, base: &str) {
        let mut files = Vec::new();
        for name in FILE_NAMES {
            let url = format!("{base}/{name}.gz");
            match fetch_with_progress(&self.scope, &url, |loaded, total| {
                self.post(Response::DataProgress {
                    file: name.to_string(),
                    loaded,
                    total,
                })
            })
            .await
            {
                Ok(bytes) => files.push((format!("{name}.gz"), bytes)),
                Err(message) => return self.post(Response::DataError { message }),
            }
        }
        let refs: [(&str, &[u8]); 4] =
            std::array::from_fn(|i| (files[i].0.as_str(), files[i].1.as_slice()));
        match Mnist::from_idx(refs) {
            Ok(mnist) => self.set_data(mnist),
            Err(e) => self.post(Response::DataError {
                message: e.to_string(),
            }),
        }
    }

    fn set_data(&self, mnist: Mnist) {
        let n = SAMPLE_DIGITS.min(mnist.test.len());
        let mut samples = Vec::with_capacity(n * PIXELS);
        for i in 0..n {
            samples.extend_from_slice(mnist.test.image(i));
        }
        let labels = mnist.test.labels()[..n].to_vec();
        let (train, test) = (mnist.train.len(), mnist.test.len());
        *self.data.borrow_mut() = Some(Rc::new(mnist));
        self.post(Response::DataReady {
            train,
            test,
            samples: ByteBuf::from(samples),
            labels: ByteBuf::from(labels),
        });
    }

    // ---- training -------------------------------------------------------------------------------

    async fn train(
        self: Rc<Self>,
        mut spec: ModelSpec,
        seed: u64,
        limit: Option<usize>,
        from_model_in_use: bool,
    ) {
        if self.training.get() {
            return self.error("a training run is already going");
        }
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        // Continuing from the model in use: its architecture and weights, the form's training.
        let start = if from_model_in_use {
            let Some((bytes, arch)) = self
                .active
                .borrow()
                .as_ref()
                .map(|a| (a.bytes.clone(), a.spec.arch.clone()))
            else {
                return self.error("no model in use to continue from: train or choose one first");
            };
            spec.arch = arch;
            Some(bytes)
        } else {
            None
        };
        if let Err(e) = spec.validate() {
            return self.error(format!("the spec cannot be trained: {e}"));
        }
        let (train, val) = match train_val(&data, limit, seed) {
            Ok(split) => split,
            Err(e) => return self.error(e),
        };
        let device = self.device();
        let backend = self.status.borrow().active;
        device.seed(seed);
        let model = match start {
            Some(bytes) => {
                store::load_with_spec(&spec.name, &bytes, &spec, &device.clone().autodiff())
            }
            None => Autoencoder::new(&spec.arch, &device.clone().autodiff()).map_err(Into::into),
        };
        let model = match model {
            Ok(model) => model,
            Err(e) => return self.error(e.to_string()),
        };
        let originals: Vec<f32> = (0..SHOWN_DIGITS)
            .flat_map(|i| data.test.image_f32(i))
            .collect();
        self.post(Response::Started {
            spec: spec.clone(),
            train: train.len(),
            val: val.len(),
            backend,
            originals: originals.clone(),
        });

        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        let mut settings = FitSettings::from_spec(&spec.train, seed);
        settings.read_every = self.read_every();
        let page = PageHooks {
            worker: self.clone(),
            originals,
            device: device.clone(),
            pruning: spec.train.pruning.is_some(),
        };
        let outcome = fit_spec(model, &spec.train, &train, &val, &settings, &device, page).await;
        self.training.set(false);
        self.paused.set(false);

        let model = outcome.model.valid();
        let test_loss = inference::test_loss(&model, spec.train.loss, &data.test, &device).await;
        let bytes = store::save_async(model.clone(), &spec).await;
        let trained = !outcome.history.is_empty();
        self.post(Response::Finished {
            model: ByteBuf::from(bytes.clone()),
            spec: spec.clone(),
            test_loss,
            message: outcome.divergence(),
            stop: outcome.stop,
            history: outcome.history,
        });
        if trained {
            self.put_in_use(spec.name.clone(), bytes, spec, model).await;
        }
    }

    /// Fine-tunes a classifier from the encoder of the model in use (the study's section 2.4).
    async fn finetune(
        self: Rc<Self>,
        unfreeze: Unfreeze,
        epochs: usize,
        seed: u64,
        limit: Option<usize>,
    ) {
        let fail = |message: String| {
            self.post(Response::FinetuneFailed { message });
        };
        if self.training.get() {
            return fail("a training run is already going".into());
        }
        let Some(data) = self.data.borrow().clone() else {
            return fail("MNIST is not loaded yet".into());
        };
        let Some((name, bytes, spec)) = self
            .active
            .borrow()
            .as_ref()
            .map(|a| (a.name.clone(), a.bytes.clone(), a.spec.clone()))
        else {
            return fail("no autoencoder in use: train or choose one first".into());
        };
        let mut train_spec = spec.train.clone();
        train_spec.epochs = epochs;
        if let Err(e) = train_spec.validate() {
            return fail(e.to_string());
        }
        let (train, val) = match train_val(&data, limit, seed) {
            Ok(split) => split,
            Err(e) => return fail(e),
        };
        let device = self.device();
        device.seed(seed);
        let autoencoder =
            match store::load_with_spec(&name, &bytes, &spec, &device.clone().autodiff()) {
                Ok(model) => model,
                Err(e) => return fail(e.to_string()),
            };
        let model = Classifier::from_pretrained(
            autoencoder,
            spec.arch.latent,
            unfreeze,
            &device.clone().autodiff(),
        );
        self.post(Response::FinetuneStarted {
            unfreeze,
            train: train.len(),
            val: val.len(),
        });
        self.training.set(true);
        self.stop.set(false);
        self.paused.set(false);
        let mut settings = FitSettings::from_spec(&train_spec, seed);
        settings.read_every = self.read_every();
        let mut hooks = ClassifierHooks {
            worker: self.clone(),
        };
        let outcome = fit(
            model,
            &mut Classification::default(),
            &train,
            &val,
            &settings,
            &device,
            &mut hooks,
        )
        .await;
        self.training.set(false);
        if let Some(message) = outcome.divergence() {
            return fail(message);
        }
        let model = outcome.model.valid();
        let confusion = inference::confusion(&model, &data.test, &device).await;
        let head = ClassifierSpec {
            unfreeze,
            classes: CLASSES,
        };
        let bytes = store::save_classifier_async(model.clone(), &spec, &head).await;
        let name = format!("{name}-classifier-{}", unfreeze.name());
        *self.classifier.borrow_mut() = Some(ActiveClassifier {
            name: name.clone(),
            bytes: bytes.clone(),
            model,
        });
        self.post(Response::ClassifierReady {
            name,
            unfreeze,
            accuracy: Some(confusion.accuracy()),
            confusion: Some(confusion.counts),
            model: ByteBuf::from(bytes),
        });
    }

    async fn bench(&self, spec: ModelSpec, seconds: f64) {
        if self.training.get() {
            return self.error("the benchmark runs once training has stopped");
        }
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        let backend = self.status.borrow().active;
        self.training.set(true);
        let result = train_throughput(
            &spec,
            &data.train,
            &self.device(),
            seconds,
            self.read_every(),
        )
        .await;
        self.training.set(false);
        match result {
            Ok(t) => self.post(Response::BenchResult {
                preset: spec.name,
                backend,
                train_images_per_s: t.images_per_s,
                images: t.images,
            }),
            Err(e) => self.error(e),
        }
    }

    // ---- models and inference -------------------------------------------------------------------

    /// Puts a model file in use: an autoencoder for drawing, sliders and views, or a classifier
    /// for labelling drawings.
    async fn use_model(&self, name: String, bytes: Vec<u8>) {
        let device = self.device();
        if store::is_classifier(&name, &bytes).unwrap_or(false) {
            match store::load_classifier(&name, &bytes, &device) {
                Ok((_, head, model)) => {
                    *self.classifier.borrow_mut() = Some(ActiveClassifier {
                        name: name.clone(),
                        bytes: bytes.clone(),
                        model,
                    });
                    self.post(Response::ClassifierReady {
                        name,
                        unfreeze: head.unfreeze,
                        accuracy: None,
                        confusion: None,
                        model: ByteBuf::from(bytes),
                    });
                }
                Err(e) => self.error(e.to_string()),
            }
            return;
        }
        match store::load(&name, &bytes, &device) {
            Ok((spec, model)) => self.put_in_use(name, bytes, spec, model).await,
            Err(e) => self.error(e.to_string()),
        }
    }

    /// Makes `model` the autoencoder in use and tells the page, with its latent ranges.
    async fn put_in_use(&self, name: String, bytes: Vec<u8>, spec: ModelSpec, model: Autoencoder) {
        let latent = spec.arch.latent;
        let encoder = model.encoder.clone();
        // In use at once, before the first await: drawing requests that arrive while the ranges
        // are computed find it.
        *self.active.borrow_mut() = Some(Active {
            name: name.clone(),
            bytes,
            spec: spec.clone(),
            model,
        });
        let data = self.data.borrow().clone();
        let ranges = match data {
            Some(data) => {
                let test = data.test.take(RANGE_DIGITS.min(data.test.len()));
                let codes = inference::encode_images(&encoder, &test, &self.device()).await;
                Ranges::of(&codes, latent)
            }
            // Without data, a symmetric guess; the sliders still work.
            None => Ranges {
                mean: vec![0.0; latent],
                min: vec![-3.0; latent],
                max: vec![3.0; latent],
            },
        };
        self.post(Response::ModelInUse { name, spec, ranges });
    }

    /// A latent view of the first `points` test digits, for the autoencoder or the classifier.
    async fn embed(&self, which: Embedder, method: Method, points: usize) {
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        let encoder = match which {
            Embedder::Autoencoder => self
                .active
                .borrow()
                .as_ref()
                .map(|a| a.model.encoder.clone()),
            Embedder::Classifier => self
                .classifier
                .borrow()
                .as_ref()
                .map(|c| c.model.encoder.clone()),
        };
        let Some(encoder) = encoder else {
            return self.error(match which {
                Embedder::Autoencoder => "no autoencoder in use: train or choose one first",
                Embedder::Classifier => "no classifier yet: fine-tune one first",
            });
        };
        let test = data.test.take(points.clamp(1, data.test.len()));
        let codes = inference::encode_images(&encoder, &test, &self.device()).await;
        let dim = codes.len() / test.len();
        let started = web_time::Instant::now();
        let result = latent::embed(&codes, dim, method, 42, |iteration, total| {
            if iteration % 50 == 0 {
                self.post(Response::EmbedProgress {
                    which,
                    iteration,
                    total,
                });
            }
        });
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(points) => {
                let images: Vec<u8> = (0..test.len())
                    .flat_map(|i| test.image(i).to_vec())
                    .collect();
                self.post(Response::Embedded {
                    which,
                    method,
                    points,
                    labels: ByteBuf::from(test.labels().to_vec()),
                    images: ByteBuf::from(images),
                    seconds,
                });
            }
            Err(e) => self.error(e),
        }
    }

    /// Decodes latent codes with the autoencoder in use (sliders, interpolation).
    async fn decode(&self, id: u64, codes: Vec<f32>) {
        let Some((model, dim)) = self
            .active
            .borrow()
            .as_ref()
            .map(|a| (a.model.clone(), a.spec.arch.latent))
        else {
            return self.error("no autoencoder in use: train or choose one first");
        };
        if codes.is_empty() || !codes.len().is_multiple_of(dim) {
            return self.error(format!(
                "codes of {dim} values expected, got {}",
                codes.len()
            ));
        }
        let images = inference::decode(&model, &codes, dim, &self.device()).await;
        self.post(Response::Decoded { id, images });
    }

    async fn infer(&self, id: u64, pixels: Vec<f32>) {
        let Some(model) = self.active.borrow().as_ref().map(|a| a.model.clone()) else {
            return self.error("no model yet: train one or choose a saved model");
        };
        if pixels.len() != PIXELS {
            return self.error(format!(
                "an image has {PIXELS} pixels, not {}",
                pixels.len()
            ));
        }
        let device = self.device();
        // One encoder pass: the latent code, then its decoding.
        let latent = inference::encode(&model, &pixels, &device).await;
        let reconstruction = inference::decode(&model, &latent, latent.len(), &device).await;
        let classifier = self.classifier.borrow().as_ref().map(|c| c.model.clone());
        let probabilities = match classifier {
            Some(c) => Some(inference::classify(&c, &pixels, &device).await),
            None => None,
        };
        self.post(Response::Inferred {
            id,
            reconstruction,
            latent,
            probabilities,
        });
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
}

/// The engine's hooks in the page: progress and epochs go to the UI, pause and stop come back.
struct PageHooks {
    worker: Rc<Worker>,
    originals: Vec<f32>,
    device: Device,
    /// Report the sparsity per layer after each epoch.
    pruning: bool,
}

impl Hooks<Autoencoder> for PageHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker.post(Response::Progress {
            progress: progress.clone(),
        });
        self.worker.checkpoint().await
    }

    async fn on_epoch(&mut self, model: &Autoencoder, record: &EpochRecord) -> Control {
        let model = model.valid();
        let reconstructions = inference::reconstruct(&model, &self.originals, &self.device).await;
        let sparsity = if self.pruning {
            sparsity(&model).await
        } else {
            Vec::new()
        };
        self.worker.post(Response::Epoch {
            record: record.clone(),
            reconstructions,
            sparsity,
        });
        self.worker.control()
    }
}

/// Fine-tuning's hooks: progress and epochs to the fine-tune card, stop comes back.
struct ClassifierHooks {
    worker: Rc<Worker>,
}

impl Hooks<Classifier> for ClassifierHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker.post(Response::FinetuneProgress {
            progress: progress.clone(),
        });
        self.worker.checkpoint().await
    }

    async fn on_epoch(&mut self, _model: &Classifier, record: &EpochRecord) -> Control {
        self.worker.post(Response::FinetuneEpoch {
            record: record.clone(),
        });
        self.worker.control()
    }
}

/// Asks the browser for a WebGPU adapter: its description and whether it is a software one.
async fn probe_webgpu() -> Option<(String, bool)> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into())
        .ok()
        .filter(|g| !g.is_undefined() && !g.is_null())?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise)
        .await
        .ok()
        .filter(|a| !a.is_null() && !a.is_undefined())?;
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let text = |object: &JsValue, key: &str| {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let flag = |object: &JsValue, key: &str| {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let (vendor, architecture, description) = (
        text(&info, "vendor"),
        text(&info, "architecture"),
        text(&info, "description"),
    );
    let software = flag(&adapter, "isFallbackAdapter")
        || flag(&info, "isFallbackAdapter")
        || architecture.contains("swiftshader")
        || description.to_lowercase().contains("swiftshader");
    let name = [vendor, architecture, description]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some((
        if name.is_empty() {
            "unnamed adapter".into()
        } else {
            name
        },
        software,
    ))
}

/// Fetches `url` as bytes, reporting (loaded, total) as chunks arrive.
async fn fetch_with_progress(
    scope: &DedicatedWorkerGlobalScope,
    url: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<u8>, String> {
    let fail = |what: &str, e: JsValue| {
        format!(
            "{url}: {what} ({})",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        )
    };
    let response: web_sys::Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| fail("cannot fetch", e))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let total: u64 = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = response
        .body()
        .ok_or_else(|| format!("{url}: empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total as usize);
    let mut last_report = 0;
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail("download failed", e))?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| fail("bad chunk", e))?
            .unchecked_into();
        bytes.extend_from_slice(&value.to_vec());
        if bytes.len() - last_report > 512 * 1024 {
            last_report = bytes.len();
            progress(bytes.len() as u64, total.max(bytes.len() as u64));
        }
    }
    progress(bytes.len() as u64, total.max(bytes.len() as u64));
    Ok(bytes)
}

/// The training images (the first `limit`, if given) split 80/20 into train and validation.
fn train_val(data: &Mnist, limit: Option<usize>, seed: u64) -> Result<(Images, Images), String> {
    let source = match limit {
        Some(n) => data.train.take(n),
        None => data.train.clone(),
    };
    source.split(0.2, seed).map_err(|e| e.to_string())
}
