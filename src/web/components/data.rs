//! Data status: MNIST loading from the server with progress, or the user's own IDX files.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_bytes::ByteBuf;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

use crate::web::link::send;
use crate::web::protocol::{NamedFile, Request};
use crate::web::state::{AppState, DataState};

/// The files of a FileList, taken at once: the list is live and empties when the input is reset.
fn take_files(list: &web_sys::FileList) -> Vec<web_sys::File> {
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

async fn read_files(state: AppState, files: Vec<web_sys::File>) {
    let mut named = Vec::new();
    for file in files {
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
            spawn_local(read_files(state, take_files(&files)));
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
    // Files can also be dropped anywhere on the panel.
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
            spawn_local(read_files(state, take_files(&files)));
        }
    };
    view! {
        <div class="data" id="data-panel" class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop>
            <span id="data-status" role="status">{text}</span>
            <div class="progress thin"><div class="bar" style:width=move || format!("{:.0}%", fraction() * 100.0)></div></div>
            <label class="upload" title="the four IDX files of MNIST or Fashion-MNIST, gzip or raw">"Use your own IDX files (pick or drop the four) "
                <input id="data-files" type="file" multiple=true on:change=on_files />
            </label>
        </div>
    }
}
