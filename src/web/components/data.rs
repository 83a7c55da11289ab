//! Data status: MNIST loading from the server with progress, or the user's own IDX files.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_bytes::ByteBuf;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use crate::web::link::send;
use crate::web::protocol::{NamedFile, Request};
use crate::web::state::{AppState, DataState};

async fn read_files(state: AppState, files: web_sys::FileList) {
    let mut named = Vec::new();
    for i in 0..files.length() {
        let Some(file) = files.get(i) else { continue };
        match JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => named.push(NamedFile {
                name: file.name(),
                bytes: ByteBuf::from(js_sys::Uint8Array::new(&buffer).to_vec()),
            }),
            Err(e) => return state.error(format!("{}: cannot read ({e:?})", file.name())),
        }
    }
    state.data.set(DataState::Loading {
        file: "your files".into(),
        loaded: 0,
        total: 0,
    });
    send(Request::LoadFiles { files: named });
}

#[component]
pub fn DataPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let on_files = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(files) = input.files() {
            spawn_local(read_files(state, files));
        }
        input.set_value("");
    };
    let text = move || match state.data.get() {
        DataState::Waiting => "Waiting for the worker…".to_string(),
        DataState::Loading {
            file,
            loaded,
            total,
        } if total > 0 => {
            format!(
                "Loading {file}: {:.1} of {:.1} MB",
                loaded as f64 / 1e6,
                total as f64 / 1e6
            )
        }
        DataState::Loading { file, .. } => format!("Loading {file}…"),
        DataState::Ready { train, test } => {
            format!("MNIST ready: {train} training and {test} test images")
        }
        DataState::Failed(e) => format!("Data error: {e}"),
    };
    let fraction = move || match state.data.get() {
        DataState::Loading { loaded, total, .. } if total > 0 => loaded as f64 / total as f64,
        DataState::Ready { .. } => 1.0,
        _ => 0.0,
    };
    view! {
        <div class="data" id="data-panel">
            <span id="data-status" role="status">{text}</span>
            <div class="progress thin"><div class="bar" style:width=move || format!("{:.0}%", fraction() * 100.0)></div></div>
            <label class="upload" title="the four IDX files of MNIST or Fashion-MNIST, gzip or raw">"Use your own IDX files "
                <input id="data-files" type="file" multiple=true on:change=on_files />
            </label>
        </div>
    }
}
