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

/// Entry point of the page (index.html calls it once the module is loaded).
#[wasm_bindgen]
pub fn start_app() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
