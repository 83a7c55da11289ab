//! latentlab: convolutional autoencoders on MNIST, trained in the browser or natively.
//!
//! The library holds everything that runs on both sides (data, models, training, inference,
//! model files); the native command line lives in [`cli`], the web app in `web` (wasm only).
//! See ARCHITECTURE.md for the map.

pub mod data;
pub mod inference;
#[cfg(not(target_arch = "wasm32"))]
pub mod interop;
pub mod kernels;
pub mod latent;
pub mod model;
pub mod parallel;
pub mod quality;
pub mod render;
pub mod search;
pub mod store;
pub mod training;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
#[cfg(target_arch = "wasm32")]
pub mod web;

/// `initThreadPool(n)` for the page's `threads` build: starts rayon's pool on `n` Web Workers
/// (worker.js calls it before training starts).
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub use wasm_bindgen_rayon::init_thread_pool;
