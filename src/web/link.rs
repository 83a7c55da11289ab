//! The page's end of the worker: spawning it, sending requests, routing responses to the state.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use super::protocol::{Request, Response};

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// The build of the module this page runs, which its worker must load too (worker.js).
const BUILD: &str = if cfg!(feature = "threads") {
    "threads"
} else {
    "webgpu"
};

/// Starts `worker.js` (which runs this same wasm module) and routes its messages to `on_response`.
/// The first time, it takes the worker index.html started before this module was compiled
/// (`window.latentlabWorker`), which has been fetching MNIST meanwhile.
pub fn spawn(
    on_response: impl Fn(Response) + 'static,
    on_error: impl Fn(String) + 'static,
) -> Result<(), String> {
    let worker = match take_started() {
        Some(worker) => worker,
        None => {
            let options = WorkerOptions::new();
            options.set_type(WorkerType::Module);
            Worker::new_with_options(&format!("./worker.js?build={BUILD}"), &options)
                .map_err(|e| format!("cannot start the worker: {e:?}"))?
        }
    };
    // The first message is this page's compiled module, which worker.js waits for: the worker
    // instantiates it at once (5-10 ms) rather than fetching and compiling it, and it knows
    // that the page now listens (it reports a failed start only after this message). Where
    // the module cannot be posted, `null` tells it to fetch and compile the module itself.
    if worker.post_message(&wasm_bindgen::module()).is_err() {
        worker
            .post_message(&JsValue::NULL)
            .map_err(|e| format!("cannot start the worker: {e:?}"))?;
    }
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        match serde_wasm_bindgen::from_value::<Response>(event.data()) {
            Ok(response) => on_response(response),
            Err(e) => web_sys::console::error_1(&format!("unreadable worker message: {e}").into()),
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_fail =
        Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |event: web_sys::ErrorEvent| {
            on_error(format!(
                "the worker failed: {} ({}:{})",
                event.message(),
                event.filename(),
                event.lineno()
            ));
        });
    worker.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
    on_fail.forget();
    WORKER.with(|w| *w.borrow_mut() = Some(worker));
    Ok(())
}

/// The worker index.html started, once (a restarted worker is a new one); `None` when it has
/// already failed (index.html marks it), so that a fresh one is started and watched.
fn take_started() -> Option<Worker> {
    let window = web_sys::window()?;
    let key = JsValue::from_str("latentlabWorker");
    let worker = js_sys::Reflect::get(&window, &key)
        .ok()?
        .dyn_into::<Worker>()
        .ok()?;
    let _ = js_sys::Reflect::delete_property(&window, &key);
    let failed =
        js_sys::Reflect::get(&worker, &"latentlabFailed".into()).is_ok_and(|f| f.is_truthy());
    if failed {
        worker.terminate();
        return None;
    }
    Some(worker)
}

/// Stops the worker (a crashed one: its wasm instance cannot be trusted after a trap).
pub fn terminate() {
    WORKER.with(|w| {
        if let Some(worker) = w.borrow_mut().take() {
            worker.terminate();
        }
    });
}

/// Sends a request to the worker (dropped if the worker is not running).
pub fn send(request: Request) {
    let serializer = serde_wasm_bindgen::Serializer::new();
    let Ok(value) = serde::Serialize::serialize(&request, &serializer) else {
        return web_sys::console::error_1(&"cannot serialise a request".into());
    };
    WORKER.with(|w| {
        if let Some(worker) = w.borrow().as_ref() {
            let _ = worker.post_message(&value);
        }
    });
}
