//! Messages between the page (UI thread) and the worker that owns data, models and training.
//! They travel as structured-cloned JS values (serde-wasm-bindgen); byte buffers as Uint8Array.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::model::ModelSpec;
use crate::training::{EpochRecord, Progress, StopReason};

/// Where training runs in the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendKind {
    /// burn's flex backend compiled to wasm (SIMD, one thread).
    Cpu,
    /// burn's wgpu backend on the browser's WebGPU.
    WebGpu,
}

impl BackendKind {
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Cpu => "CPU (wasm SIMD)",
            BackendKind::WebGpu => "WebGPU",
        }
    }
}

/// What the browser offers and what runs, with the reason in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    pub active: BackendKind,
    /// A WebGPU adapter exists (hardware or software).
    pub webgpu_available: bool,
    /// The adapter is a software fallback (e.g. SwiftShader), usually slower than the CPU path.
    pub webgpu_software: bool,
    /// Adapter description, when there is one.
    pub adapter: String,
    /// Why `active` was chosen, e.g. "no WebGPU adapter: training on CPU".
    pub reason: String,
}

/// A file picked or dropped by the user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamedFile {
    pub name: String,
    pub bytes: ByteBuf,
}

/// UI -> worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Fetch the four gzip IDX files from `base` (e.g. "data/mnist").
    LoadServedData {
        base: String,
    },
    /// Use IDX files the user picked or dropped.
    LoadFiles {
        files: Vec<NamedFile>,
    },
    UseBackend {
        kind: BackendKind,
    },
    Train {
        spec: ModelSpec,
        seed: u64,
        limit: Option<usize>,
    },
    Pause,
    Resume,
    Stop,
    /// Make this model file the one used for drawing.
    UseModel {
        name: String,
        bytes: ByteBuf,
    },
    /// Reconstruct one image (784 values, already corrupted by the page) with the model in use.
    Infer {
        id: u64,
        pixels: Vec<f32>,
    },
    /// Time training of `spec` for `seconds` on the active backend.
    Bench {
        spec: ModelSpec,
        seconds: f64,
    },
}

/// Worker -> UI.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Response {
    /// The worker is up; the page may send requests.
    Ready {
        backend: BackendStatus,
    },
    Backend {
        backend: BackendStatus,
    },
    DataProgress {
        file: String,
        loaded: u64,
        total: u64,
    },
    /// Data is loaded; `samples` are the first test digits (u8, 784 each) with their labels.
    DataReady {
        train: usize,
        test: usize,
        samples: ByteBuf,
        labels: ByteBuf,
    },
    DataError {
        message: String,
    },
    Started {
        spec: ModelSpec,
        train: usize,
        val: usize,
        backend: BackendKind,
        originals: Vec<f32>,
    },
    Progress {
        progress: Progress,
    },
    Paused,
    Resumed,
    /// An epoch finished: its record and the reconstructions of the `originals`.
    Epoch {
        record: EpochRecord,
        reconstructions: Vec<f32>,
    },
    Finished {
        model: ByteBuf,
        spec: ModelSpec,
        test_loss: f64,
        stop: StopReason,
        history: Vec<EpochRecord>,
        message: Option<String>,
    },
    ModelInUse {
        name: String,
        spec: ModelSpec,
    },
    Inferred {
        id: u64,
        reconstruction: Vec<f32>,
        latent: Vec<f32>,
    },
    BenchResult {
        preset: String,
        backend: BackendKind,
        train_images_per_s: f64,
        images: usize,
    },
    Error {
        message: String,
    },
}
