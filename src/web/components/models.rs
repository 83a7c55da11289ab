//! Saved models: kept in IndexedDB, listed, used for drawing, downloaded and uploaded. A file
//! from `latentlab train` (model.bpk) loads here, and a downloaded one loads in the CLI.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_bytes::ByteBuf;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlInputElement, Url};

use crate::store;
use crate::web::idb::{self, StoredModel};
use crate::web::link::send;
use crate::web::protocol::Request;
use crate::web::state::AppState;

/// Reloads the list from IndexedDB.
pub fn refresh(state: AppState) {
    spawn_local(async move {
        match idb::list().await {
            Ok(models) => state.models.set(models),
            Err(e) => state.error(e),
        }
    });
}

fn download(model: &StoredModel) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(model.bytes.as_slice());
    let parts = js_sys::Array::of1(&array);
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| format!("{e:?}"))?;
    let url = Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(&format!("{}.bpk", model.name.replace(' ', "_")));
    a.click();
    let _ = Url::revoke_object_url(&url);
    Ok(())
}

/// Reads a picked file, checks that it is a latentlab model and stores it.
async fn upload(state: AppState, file: web_sys::File) {
    let name = file.name();
    let bytes = match JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        Err(e) => return state.error(format!("{name}: cannot read ({e:?})")),
    };
    // The spec inside tells whether this is a model at all (and which kind); the worker checks
    // that the weights fit it when the model is used.
    let described = if store::is_gan(&name, &bytes).unwrap_or(false) {
        store::read_gan_spec(&name, &bytes)
            .map(|spec| (format!("GAN ({})", spec.kind.name()), "gan".to_string()))
    } else {
        store::read_spec(&name, &bytes).map(|spec| (spec.name, spec.train.loss.name().into()))
    };
    let (spec_name, loss) = match described.and_then(|d| {
        // Broken weights are refused before the file is kept, not when it is used.
        store::check_finite(&name, &bytes).map(|_| d)
    }) {
        Ok(described) => described,
        Err(e) => return state.error(e.to_string()),
    };
    let model = StoredModel {
        id: None,
        name: name.trim_end_matches(".bpk").to_string(),
        created: js_sys::Date::now(),
        spec_name,
        loss,
        test_loss: None,
        epochs: 0,
        source: "uploaded".into(),
        bytes,
        resume: None,
    };
    match idb::add(&model).await {
        Ok(_) => {
            send(Request::UseModel {
                name: model.name.clone(),
                bytes: ByteBuf::from(model.bytes),
            });
            refresh(state);
        }
        Err(e) => state.error(e),
    }
}

#[component]
pub fn ModelsView() -> impl IntoView {
    let state = expect_context::<AppState>();
    refresh(state);
    // A checkpoint left in IndexedDB is a run the last page closed mid-way: offer it.
    spawn_local(async move {
        match idb::checkpoint().await {
            Ok(checkpoint) => state.checkpoint.set(checkpoint),
            Err(e) => state.error(e),
        }
    });
    // A finished training run is stored as soon as it arrives.
    Effect::new(move |_| {
        if let Some(model) = state.finished.get() {
            state.finished.set(None);
            spawn_local(async move {
                match idb::add(&model).await {
                    Ok(_) => refresh(state),
                    Err(e) => state.error(e),
                }
            });
        }
    });

    let on_file = move |ev: leptos::ev::Event| {
        let input: HtmlInputElement = event_target(&ev);
        if let Some(files) = input.files() {
            for i in 0..files.length() {
                if let Some(file) = files.get(i) {
                    spawn_local(upload(state, file));
                }
            }
        }
        input.set_value("");
    };

    let rows = move || {
        let mut models = state.models.get();
        models.sort_by(|a, b| b.created.total_cmp(&a.created));
        models
            .into_iter()
            .map(|m| {
                let when = js_sys::Date::new(&m.created.into()).to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED);
                let loss = m.test_loss.map(|l| format!("test {} {:.4}", m.loss, l)).unwrap_or_else(|| m.loss.clone());
                let detail = format!("{} · {} · {} epochs · {}", m.spec_name, loss, m.epochs, m.source);
                let in_use = {
                    let name = m.name.clone();
                    move || {
                        state.model_in_use.get().is_some_and(|(n, _)| n == name)
                            || state.classifier.with(|c| c.as_ref().is_some_and(|c| c.name == name))
                            || state.gan_in_use.with(|g| g.as_ref().is_some_and(|(n, _)| *n == name))
                    }
                };
                let (for_use, for_download, id) = (m.clone(), m.clone(), m.id);
                view! {
                    <li class="model" class:in-use=in_use>
                        <div>
                            <strong>{m.name.clone()}</strong>
                            <span class="detail">{detail}</span>
                            <span class="detail">{String::from(when)}</span>
                        </div>
                        <div class="actions">
                            <button class="use" on:click=move |_| send(Request::UseModel { name: for_use.name.clone(), bytes: ByteBuf::from(for_use.bytes.clone()) })>"Use"</button>
                            <button class="download" on:click=move |_| if let Err(e) = download(&for_download) { state.error(e) }>"Download"</button>
                            <button class="delete" on:click=move |_| if let Some(id) = id {
                                spawn_local(async move {
                                    match idb::delete(id).await {
                                        Ok(()) => refresh(state),
                                        Err(e) => state.error(e),
                                    }
                                })
                            }>"Delete"</button>
                        </div>
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <section class="card models" id="models-view">
            <h2>"Saved models"</h2>
            <p class="hint">"Kept in this browser. Upload a model.bpk from " <code>"latentlab train"</code> ", or download one for the command line."</p>
            <label class="upload">"Upload a model " <input id="upload-model" type="file" accept=".bpk" on:change=on_file /></label>
            <ul id="model-list">{rows}</ul>
            <p class="hint" class:hidden=move || !state.models.with(Vec::is_empty)>"No saved models yet."</p>
        </section>
    }
}
