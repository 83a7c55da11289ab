//! The web app (wasm32 only): a leptos page whose heavy work runs in a Web Worker.
//!
//! The page (`start_app`) and the worker (`worker_main`) are two entry points of the same wasm
//! module. The worker owns data, backend, models and the training loop and talks to the page
//! through the messages in [`protocol`]; the page is thin UI glue over [`state`] signals.

mod app;
mod components;
mod idb;
mod link;
pub mod protocol;
mod state;
mod worker;

use wasm_bindgen::prelude::*;

pub use worker::worker_main;

unsafe extern "C" {
    /// Synthesised by wasm-ld: runs the static constructors (cubecl registers its IR dialects
    /// through `inventory`, which uses them).
    fn __wasm_call_ctors();
}

/// Runs the static constructors once, when the module is instantiated (page and worker alike).
///
/// Without an explicit call, wasm-ld wraps *every* export in a call to them, so each event
/// handler, message and timer callback re-ran all registrations: the page froze for seconds
/// at the start of a training run. Calling them ourselves turns that wrapping off.
#[wasm_bindgen(start)]
fn run_static_constructors() {
    // SAFETY: called once, before any other code of the module runs.
    unsafe { __wasm_call_ctors() };
}

/// Entry point of the page (index.html calls it once the module is loaded).
#[wasm_bindgen]
pub fn start_app() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
