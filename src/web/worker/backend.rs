//! Choosing where the page trains: WebGPU when the browser has a hardware adapter, burn's
//! flex backend in wasm otherwise (on a pool of threads in the `threads` build, which has no
//! WebGPU); switching on request moves the models in use.

#[cfg(feature = "webgpu")]
use burn::prelude::*;
use js_sys::Reflect;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::Worker;
use crate::web::protocol::{BackendKind, BackendStatus, Response};

impl Worker {
    /// WebGPU when there is a hardware adapter; the CPU when there is none or only a software one.
    /// The threaded build has no WebGPU (wgpu's browser types are not `Send` once wasm has
    /// atomics): the page loads it only where the browser offers no adapter (index.html).
    pub(super) async fn choose_initial_backend(&self) -> BackendStatus {
        let probe = probe_webgpu().await;
        let mut status = BackendStatus {
            active: BackendKind::Cpu,
            webgpu_available: probe.is_some() && cfg!(feature = "webgpu"),
            webgpu_software: probe.as_ref().is_some_and(|p| p.1),
            adapter: probe.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
            reason: String::new(),
        };
        let cpu = cpu_label(self.cpu_threads);
        status.reason = match &probe {
            None => format!("no WebGPU adapter: training on {cpu}"),
            Some((adapter, _)) if !cfg!(feature = "webgpu") => format!(
                "WebGPU adapter {adapter}, but this is the page's threaded CPU build (open it \
                 with ?build=webgpu to use the adapter): training on {cpu}"
            ),
            Some((adapter, true)) => {
                format!(
                    "WebGPU adapter is software ({adapter}), slower than the CPU path: training on {cpu}"
                )
            }
            Some((adapter, false)) => match self.init_webgpu().await {
                Ok(()) => {
                    status.active = BackendKind::WebGpu;
                    format!("WebGPU adapter {adapter}: training on the GPU")
                }
                Err(e) => format!("WebGPU failed to start ({e}): training on {cpu}"),
            },
        };
        status
    }

    #[cfg(feature = "webgpu")]
    pub(super) async fn init_webgpu(&self) -> Result<(), String> {
        if self.webgpu.borrow().is_some() {
            return Ok(());
        }
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| e.to_string())?;
        *self.webgpu.borrow_mut() = Some(device);
        Ok(())
    }

    #[cfg(not(feature = "webgpu"))]
    pub(super) async fn init_webgpu(&self) -> Result<(), String> {
        Err(
            "this is the page's threaded CPU build, without WebGPU (open it with ?build=webgpu)"
                .into(),
        )
    }

    pub(super) async fn use_backend(&self, kind: BackendKind) {
        if self.training.get() {
            return self.error("the backend can change once training has stopped");
        }
        if kind == BackendKind::WebGpu {
            if !self.status.borrow().webgpu_available {
                return self.error("this browser has no WebGPU adapter");
            }
            if let Err(e) = self.init_webgpu().await {
                return self.error(format!("WebGPU failed to start: {e}"));
            }
        }
        let status = {
            let mut status = self.status.borrow_mut();
            status.active = kind;
            status.reason = match kind {
                BackendKind::WebGpu => {
                    format!("training on WebGPU ({}), as chosen", status.adapter)
                }
                BackendKind::Cpu => {
                    format!("training on {}, as chosen", cpu_label(self.cpu_threads))
                }
            };
            status.clone()
        };
        // The models in use move to the new device.
        let active = self.active.borrow_mut().take();
        if let Some(active) = active {
            self.use_model(active.name, active.bytes).await;
        }
        let gan = self.gan.borrow_mut().take();
        if let Some(g) = gan {
            self.use_model(g.name, g.bytes).await;
        }
        let classifier = self.classifier.borrow_mut().take();
        if let Some(c) = classifier {
            self.use_model(c.name, c.bytes).await;
        }
        self.post(Response::Backend { backend: status });
    }
}

/// "CPU (2 threads)" or "CPU (one thread)".
fn cpu_label(threads: usize) -> String {
    match threads {
        1 => "CPU (one thread)".into(),
        n => format!("CPU ({n} threads)"),
    }
}

/// Asks the browser for a WebGPU adapter: its description and whether it is a software one.
async fn probe_webgpu() -> Option<(String, bool)> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into())
        .ok()
        .filter(|g| !g.is_undefined() && !g.is_null())?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise)
        .await
        .ok()
        .filter(|a| !a.is_null() && !a.is_undefined())?;
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let text = |object: &JsValue, key: &str| {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let flag = |object: &JsValue, key: &str| {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let (vendor, architecture, description) = (
        text(&info, "vendor"),
        text(&info, "architecture"),
        text(&info, "description"),
    );
    let software = flag(&adapter, "isFallbackAdapter")
        || flag(&info, "isFallbackAdapter")
        || architecture.contains("swiftshader")
        || description.to_lowercase().contains("swiftshader");
    let name = [vendor, architecture, description]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some((
        if name.is_empty() {
            "unnamed adapter".into()
        } else {
            name
        },
        software,
    ))
}
