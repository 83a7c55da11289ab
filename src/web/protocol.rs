//! Messages between the page (UI thread) and the worker that owns data, models and training.
//! They travel as structured-cloned JS values (serde-wasm-bindgen); byte buffers as Uint8Array.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::latent::{Method, Ranges};
use crate::model::{GanKind, GanSpec, ModelSpec, Unfreeze};
use crate::training::{EpochRecord, LayerSparsity, Progress, StopReason};

/// Whose encoder a latent view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Embedder {
    Autoencoder,
    Classifier,
}

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
    /// Why `active` was chosen, e.g. "no WebGPU adapter: training on CPU (2 threads)".
    pub reason: String,
}

/// A file picked or dropped by the user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamedFile {
    pub name: String,
    pub bytes: ByteBuf,
}

/// Where a search's trial stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TrialState {
    Running,
    /// Every fold trained: the objective is set.
    Complete,
    /// The median rule stopped it after a fold.
    Pruned,
    /// Shape inference rejected the net (the reason); nothing trained.
    Invalid(String),
    /// The page stopped the search during this trial.
    Stopped,
}

/// One trial of the page's search: the parameters drawn, the net they make, how far it got.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchTrial {
    pub number: usize,
    pub params: Vec<(String, f64)>,
    pub spec: ModelSpec,
    pub state: TrialState,
    pub fold_losses: Vec<f64>,
    pub objective: Option<f64>,
}

/// UI -> worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// Makes the worker panic: how the e2e test crashes it to check that the page reports the
    /// crash, restarts the worker and keeps the saved models (`window.latentlabCrashWorker()`).
    Panic,
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
        /// Start from the model in use (its architecture and weights; e.g. a denoising
        /// fine-tune) instead of fresh weights; the spec's training settings apply.
        from_model_in_use: bool,
        /// Start from these weights (a model file for `spec`'s architecture): resuming a
        /// checkpointed run after a reload.
        start: Option<ByteBuf>,
    },
    /// Fine-tune a digit classifier from the encoder of the model in use.
    Finetune {
        unfreeze: Unfreeze,
        epochs: usize,
        seed: u64,
        limit: Option<usize>,
    },
    /// Embed the latent codes of the first `points` test digits in 2D.
    Embed {
        which: Embedder,
        method: Method,
        points: usize,
    },
    /// Decode latent codes (n x latent) with the model in use.
    Decode {
        id: u64,
        codes: Vec<f32>,
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
    /// Train a GAN of `kind` (its preset) in the page.
    TrainGan {
        kind: GanKind,
        epochs: usize,
        seed: u64,
        limit: Option<usize>,
    },
    /// Digits from the GAN in use, one per noise seed (for `class`, conditional GANs).
    Generate {
        id: u64,
        class: Option<usize>,
        seeds: Vec<u64>,
    },
    /// `steps` digits walking the noise in a straight line from seed `from`'s to seed `to`'s.
    Walk {
        id: u64,
        class: Option<usize>,
        from: u64,
        to: u64,
        steps: usize,
    },
    /// A hyperparameter search over the study's space: `trials` trials (complete or pruned) of
    /// `folds`-fold cross-validation, `epochs` per fold, on the first `limit` training images.
    Search {
        trials: usize,
        folds: usize,
        epochs: usize,
        limit: usize,
        seed: u64,
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
        /// The request's image limit and seed (a checkpoint keeps them to resume the run).
        limit: Option<usize>,
        seed: u64,
    },
    Progress {
        progress: Progress,
    },
    Paused,
    Resumed,
    /// An epoch finished: its record, the reconstructions of the `originals`, and the sparsity
    /// per layer when pruning.
    Epoch {
        record: EpochRecord,
        reconstructions: Vec<f32>,
        sparsity: Vec<LayerSparsity>,
        /// The worker's wasm memory (MB) after the epoch: flat from epoch to epoch when nothing
        /// leaks (wasm memory only grows, so this is its high-water mark).
        memory_mb: f64,
        /// The weights after the epoch (a model file): the page keeps them as the checkpoint.
        model: ByteBuf,
    },
    Finished {
        model: ByteBuf,
        spec: ModelSpec,
        test_loss: f64,
        stop: StopReason,
        history: Vec<EpochRecord>,
        message: Option<String>,
    },
    /// The autoencoder drawing, sliders and views use, with the range of each latent dimension
    /// over test digits (the sliders' bounds).
    ModelInUse {
        name: String,
        spec: ModelSpec,
        ranges: Ranges,
    },
    Inferred {
        id: u64,
        reconstruction: Vec<f32>,
        latent: Vec<f32>,
        /// Digit probabilities, when there is a classifier.
        probabilities: Option<Vec<f32>>,
    },
    FinetuneStarted {
        unfreeze: Unfreeze,
        train: usize,
        val: usize,
    },
    FinetuneProgress {
        progress: Progress,
    },
    FinetuneEpoch {
        record: EpochRecord,
    },
    /// A classifier is ready (fine-tuned here, or loaded): its test accuracy and confusion
    /// matrix when known, and its file.
    ClassifierReady {
        name: String,
        unfreeze: Unfreeze,
        accuracy: Option<f64>,
        confusion: Option<Vec<Vec<usize>>>,
        model: ByteBuf,
    },
    FinetuneFailed {
        message: String,
    },
    EmbedProgress {
        which: Embedder,
        iteration: usize,
        total: usize,
    },
    /// A latent view: one point per test digit, with the digits' labels and pixels (u8, 784
    /// each) for hovering.
    Embedded {
        which: Embedder,
        method: Method,
        points: Vec<[f32; 2]>,
        labels: ByteBuf,
        images: ByteBuf,
        seconds: f64,
    },
    Decoded {
        id: u64,
        images: Vec<f32>,
    },
    GanStarted {
        spec: GanSpec,
        train: usize,
        backend: BackendKind,
    },
    /// Progress of a GAN run: `progress.losses` holds the discriminator's and generator's.
    GanProgress {
        progress: Progress,
    },
    /// A GAN epoch: its record and a 10 x 10 grid of digits from fixed noise (a row per digit
    /// for a conditional GAN).
    GanEpoch {
        record: EpochRecord,
        samples: Vec<f32>,
    },
    GanFinished {
        model: ByteBuf,
        spec: GanSpec,
        stop: StopReason,
        history: Vec<EpochRecord>,
        message: Option<String>,
    },
    GanFailed {
        message: String,
    },
    /// The GAN the Generate view draws from.
    GanInUse {
        name: String,
        spec: GanSpec,
    },
    Generated {
        id: u64,
        images: Vec<f32>,
    },
    SearchStarted {
        trials: usize,
        folds: usize,
        images: usize,
    },
    /// A trial began, finished a fold, or ended.
    SearchTrial {
        trial: SearchTrial,
    },
    SearchProgress {
        trial: usize,
        fold: usize,
        progress: Progress,
    },
    SearchFinished {
        stopped: bool,
    },
    SearchFailed {
        message: String,
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
