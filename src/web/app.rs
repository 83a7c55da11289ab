//! The page: header with the backend in use, errors, data, then the train, draw and models views.

use leptos::prelude::*;

use super::components::{
    data::DataPanel, draw::DrawView, finetune::FinetuneView, generate::GenerateView,
    latent::LatentView, models::ModelsView, search::SearchView, train::TrainView,
};
use super::link;
use super::protocol::{BackendKind, Request};
use super::state::{AppState, RunState};

#[component]
fn BackendBadge() -> impl IntoView {
    let state = expect_context::<AppState>();
    let status = move || state.backend.get();
    let idle = move || state.run.get() == RunState::Idle;
    view! {
        <div class="backend" id="backend">
            <span class="badge" id="backend-active">{move || status().map_or("starting…".to_string(), |s| s.active.label().to_string())}</span>
            <span class="reason" id="backend-reason">{move || status().map(|s| s.reason).unwrap_or_default()}</span>
            <button id="use-cpu"
                prop:disabled=move || !idle() || status().is_none_or(|s| s.active == BackendKind::Cpu)
                on:click=move |_| link::send(Request::UseBackend { kind: BackendKind::Cpu })>"Use CPU"</button>
            <button id="use-webgpu"
                prop:disabled=move || !idle() || status().is_none_or(|s| !s.webgpu_available || s.active == BackendKind::WebGpu)
                on:click=move |_| link::send(Request::UseBackend { kind: BackendKind::WebGpu })>"Use WebGPU"</button>
        </div>
    }
}

#[component]
fn Errors() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="errors" id="errors" role="alert" class:hidden=move || state.errors.with(Vec::is_empty)>
            <ul>{move || state.errors.get().into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
            <button on:click=move |_| state.errors.set(Vec::new())>"Dismiss"</button>
        </div>
    }
}

/// How many times a crashed worker is restarted before the page gives up (a worker that dies
/// at start-up would otherwise restart forever).
const RESTARTS: usize = 3;

thread_local! {
    static RESTARTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Starts the worker; when it fails (a panic, out of memory), the page says so, starts a fresh
/// one (which loads the data again) and offers the interrupted run's checkpoint. Saved models
/// live in IndexedDB, so nothing saved is lost.
fn start_worker(state: AppState) {
    let started = link::spawn(
        move |response| state.apply(response),
        move |e| {
            link::terminate();
            let restarts = RESTARTED.with(|r| r.replace(r.get() + 1));
            let again = restarts < RESTARTS;
            state.worker_crashed(e, again);
            if again {
                start_worker(state);
            }
        },
    );
    if let Err(e) = started {
        state.error(e);
    }
}

/// `window.latentlabCrashWorker()`: makes the worker panic (the e2e test of the restart).
fn expose_crash_hook() {
    let crash = wasm_bindgen::closure::Closure::<dyn Fn()>::new(|| link::send(Request::Panic));
    if let Some(window) = web_sys::window() {
        let _ = js_sys::Reflect::set(&window, &"latentlabCrashWorker".into(), crash.as_ref());
    }
    crash.forget();
}

#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    start_worker(state);
    expose_crash_hook();
    view! {
        <header>
            <div class="brand">
                <h1>"latentlab"</h1>
                <span class="tagline">"convolutional autoencoders and GANs on MNIST, trained in your browser"</span>
            </div>
            <BackendBadge />
        </header>
        <Errors />
        <DataPanel />
        <main>
            <TrainView />
            <DrawView />
            <ModelsView />
            <FinetuneView />
            <LatentView />
            <GenerateView />
            <SearchView />
        </main>
    }
}
