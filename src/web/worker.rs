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

use super::protocol::{BackendKind, BackendStatus, Request, Response};
use crate::data::Mnist;
use crate::data::mnist::{FILE_NAMES, PIXELS};
use crate::inference;
use crate::model::{Autoencoder, ModelSpec};
use crate::store;
use crate::training::{
    Control, EpochRecord, FitSettings, Hooks, Progress, fit_spec, train_throughput,
};

/// Test digits shown with their reconstructions while training.
const SHOWN_DIGITS: usize = 10;
/// Test digits handed to the page (for "random test digit").
const SAMPLE_DIGITS: usize = 500;

/// The model drawing and inference use.
struct Active {
    name: String,
    bytes: Vec<u8>,
    model: Autoencoder,
}

struct Worker {
    scope: DedicatedWorkerGlobalScope,
    data: RefCell<Option<Rc<Mnist>>>,
    status: RefCell<BackendStatus>,
    /// The WebGPU device, once initialised (burn's wgpu runtime can only be set up once).
    webgpu: RefCell<Option<Device>>,
    active: RefCell<Option<Active>>,
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
            Request::Train { spec, seed, limit } => self.train(spec, seed, limit).await,
            Request::UseModel { name, bytes } => self.use_model(name, bytes.into_vec()),
            Request::Infer { id, pixels } => self.infer(id, pixels).await,
            Request::Bench { spec, seconds } => self.bench(spec, seconds).await,
            Request::Pause | Request::Resume | Request::Stop => {
                unreachable!("handled synchronously")
            }
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
        // The model in use moves to the new device.
        let active = self.active.borrow_mut().take();
        if let Some(active) = active {
            self.use_model(active.name, active.bytes);
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

    async fn train(self: Rc<Self>, spec: ModelSpec, seed: u64, limit: Option<usize>) {
        if self.training.get() {
            return self.error("a training run is already going");
        }
        let Some(data) = self.data.borrow().clone() else {
            return self.error("MNIST is not loaded yet");
        };
        if let Err(e) = spec.validate() {
            return self.error(format!("the spec cannot be trained: {e}"));
        }
        let source = match limit {
            Some(n) => data.train.take(n),
            None => data.train.clone(),
        };
        let (train, val) = match source.split(0.2, seed) {
            Ok(split) => split,
            Err(e) => return self.error(e.to_string()),
        };
        let device = self.device();
        let backend = self.status.borrow().active;
        device.seed(seed);
        let model = match Autoencoder::new(&spec.arch, &device.clone().autodiff()) {
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
        // Reading a loss back stalls a GPU; on the CPU it is free but each read is a chance to
        // report progress and take pause/stop messages.
        settings.read_every = if backend == BackendKind::WebGpu { 8 } else { 4 };
        let page = PageHooks {
            worker: self.clone(),
            originals,
            device: device.clone(),
        };
        let outcome = fit_spec(model, &spec.train, &train, &val, &settings, &device, page).await;
        self.training.set(false);
        self.paused.set(false);

        let model = outcome.model.valid();
        let test_loss = inference::test_loss(&model, spec.train.loss, &data.test, &device).await;
        let bytes = store::save_async(model.clone(), &spec).await;
        *self.active.borrow_mut() = Some(Active {
            name: spec.name.clone(),
            bytes: bytes.clone(),
            model,
        });
        self.post(Response::Finished {
            model: ByteBuf::from(bytes),
            spec,
            test_loss,
            message: outcome.divergence(),
            stop: outcome.stop,
            history: outcome.history,
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
        let read_every = if backend == BackendKind::WebGpu { 8 } else { 4 };
        self.training.set(true);
        let result =
            train_throughput(&spec, &data.train, &self.device(), seconds, read_every).await;
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

    fn use_model(&self, name: String, bytes: Vec<u8>) {
        match store::load(&name, &bytes, &self.device()) {
            Ok((spec, model)) => {
                self.post(Response::ModelInUse {
                    name: name.clone(),
                    spec: spec.clone(),
                });
                *self.active.borrow_mut() = Some(Active { name, bytes, model });
            }
            Err(e) => self.error(e.to_string()),
        }
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
        self.post(Response::Inferred {
            id,
            reconstruction,
            latent,
        });
    }
}

/// The engine's hooks in the page: progress and epochs go to the UI, pause and stop come back.
struct PageHooks {
    worker: Rc<Worker>,
    originals: Vec<f32>,
    device: Device,
}

impl Hooks<Autoencoder> for PageHooks {
    async fn on_progress(&mut self, progress: &Progress) -> Control {
        self.worker.post(Response::Progress {
            progress: progress.clone(),
        });
        // Let the worker's message handler run (pause, stop, inference requests).
        TimeoutFuture::new(0).await;
        if self.worker.paused.get() {
            self.worker.post(Response::Paused);
            while self.worker.paused.get() && !self.worker.stop.get() {
                TimeoutFuture::new(50).await;
            }
            self.worker.post(Response::Resumed);
        }
        if self.worker.stop.get() {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    async fn on_epoch(&mut self, model: &Autoencoder, record: &EpochRecord) -> Control {
        let reconstructions =
            inference::reconstruct(&model.valid(), &self.originals, &self.device).await;
        self.worker.post(Response::Epoch {
            record: record.clone(),
            reconstructions,
        });
        if self.worker.stop.get() {
            Control::Stop
        } else {
            Control::Continue
        }
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
