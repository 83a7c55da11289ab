//! MNIST in the worker: fetched from the server with progress (worker.js starts those requests
//! as the worker starts, while the page compiles its module), or from files the user gave.

use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use serde_bytes::ByteBuf;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::DedicatedWorkerGlobalScope;

use super::{SAMPLE_DIGITS, Worker};
use crate::data::Mnist;
use crate::data::mnist::{FILE_NAMES, PIXELS};
use crate::web::protocol::Response;

/// Where the server offers MNIST, relative to the worker's script: every worker loads it as it
/// starts. worker.js has requested the same URLs (`{SERVED}/{name}.gz` for each of
/// [`FILE_NAMES`]) as it started; this loader fetches any that did not arrive.
const SERVED: &str = "data/mnist";

impl Worker {
    pub(super) async fn load_served(&self) {
        // Files the user gives meanwhile win: from then on this load says and sets nothing.
        let user_data = self.user_data.get();
        let current = || self.user_data.get() == user_data;
        let mut files = Vec::new();
        for name in FILE_NAMES {
            let url = format!("{SERVED}/{name}.gz");
            let progress = |loaded, total| {
                if current() {
                    self.post(Response::DataProgress {
                        file: name.to_string(),
                        loaded,
                        total,
                    })
                }
            };
            let fetched = match prefetched(&self.scope, &url).await {
                Some(bytes) => {
                    progress(bytes.len() as u64, bytes.len() as u64);
                    Ok(bytes)
                }
                None => fetch_with_progress(&self.scope, &url, progress).await,
            };
            match fetched {
                Ok(bytes) if current() => files.push((format!("{name}.gz"), bytes)),
                Err(message) if current() => return self.post(Response::DataError { message }),
                _ => return,
            }
        }
        let refs: [(&str, &[u8]); 4] =
            std::array::from_fn(|i| (files[i].0.as_str(), files[i].1.as_slice()));
        match Mnist::from_idx(refs) {
            Ok(mnist) => self.set_data(mnist),
            Err(e) => self.post(Response::DataError {
                message: e.to_string(),
            }),
        }
    }

    pub(super) fn set_data(&self, mnist: Mnist) {
        let n = SAMPLE_DIGITS.min(mnist.test.len());
        let mut samples = Vec::with_capacity(n * PIXELS);
        for i in 0..n {
            samples.extend_from_slice(mnist.test.image(i));
        }
        let labels = mnist.test.labels()[..n].to_vec();
        let (train, test) = (mnist.train.len(), mnist.test.len());
        *self.data.borrow_mut() = Some(Rc::new(mnist));
        self.post(Response::DataReady {
            train,
            test,
            samples: ByteBuf::from(samples),
            labels: ByteBuf::from(labels),
        });
    }
}

/// The bytes of `url` when worker.js fetched them as the worker started (its
/// `latentlabPrefetched`, which hands each URL's bytes out once); `None` when it did not or
/// its request failed, and the caller fetches the file itself (with progress and errors).
async fn prefetched(scope: &DedicatedWorkerGlobalScope, url: &str) -> Option<Vec<u8>> {
    let take: js_sys::Function = Reflect::get(scope, &"latentlabPrefetched".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = take.call1(scope, &url.into()).ok()?.dyn_into().ok()?;
    let buffer: js_sys::ArrayBuffer = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// Fetches `url` as bytes, reporting (loaded, total) as chunks arrive.
async fn fetch_with_progress(
    scope: &DedicatedWorkerGlobalScope,
    url: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<u8>, String> {
    let fail = |what: &str, e: JsValue| {
        format!(
            "{url}: {what} ({})",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        )
    };
    let response: web_sys::Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| fail("cannot fetch", e))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let total: u64 = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = response
        .body()
        .ok_or_else(|| format!("{url}: empty response"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total as usize);
    let mut last_report = 0;
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail("download failed", e))?;
        if Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| fail("bad chunk", e))?
            .unchecked_into();
        bytes.extend_from_slice(&value.to_vec());
        if bytes.len() - last_report > 512 * 1024 {
            last_report = bytes.len();
            progress(bytes.len() as u64, total.max(bytes.len() as u64));
        }
    }
    progress(bytes.len() as u64, total.max(bytes.len() as u64));
    Ok(bytes)
}
