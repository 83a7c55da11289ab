//! Saved models in IndexedDB, so they survive a reload of the page; and the checkpoint of the
//! training run in progress (one record, replaced after every epoch), so a reload can resume it.

use rexie::{ObjectStore, Rexie, Store, Transaction, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

const DB: &str = "latentlab";
const STORE: &str = "models";
/// The checkpoint of the run in progress: one record under one key, replaced in a single `put`
/// (so a reload between two writes cannot lose it). Version 2 of the database added this store.
const CHECKPOINTS: &str = "checkpoints";
const CHECKPOINT_KEY: &str = "current";

/// A model as the page keeps it: the model file plus what the list shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredModel {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<u32>,
    pub name: String,
    /// Milliseconds since the epoch.
    pub created: f64,
    pub spec_name: String,
    pub loss: String,
    pub test_loss: Option<f64>,
    pub epochs: usize,
    pub source: String,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// A checkpoint's run (`source` is [`CHECKPOINT`]): what resuming it needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// The `source` of a checkpoint record (kept in its own store, never among the saved models).
pub const CHECKPOINT: &str = "checkpoint";

/// Where a checkpointed run stood, and how it was started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub epochs_done: usize,
    pub epochs_total: usize,
    pub limit: Option<usize>,
    pub seed: u64,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("saved models (IndexedDB): {e}")
}

/// What a write that did not fit says.
const FULL: &str = "the browser's storage for this page is full (IndexedDB quota exceeded): nothing was saved and the model in use stays in use; delete saved models, or download this one";

/// Waits for `tx` to end. A transaction can end aborted with every request in it successful:
/// that is how Chromium reports a write over the quota (the `add` succeeds, the commit does
/// not), and rexie hands it back as an `Ok`. Such a write kept nothing and must say so;
/// `bytes` (what was written) lets the storage estimate tell whether it did not fit.
async fn commit(tx: Transaction, bytes: usize) -> Result<(), String> {
    if tx.done().await.map_err(idb_err)?.is_committed() {
        return Ok(());
    }
    Err(match storage_estimate().await {
        Some((usage, quota)) if usage + bytes as f64 > quota => {
            format!("{FULL} ({usage:.0} of {quota:.0} bytes used)")
        }
        // rexie does not hand on the transaction's own error; a write whose every request
        // succeeded but whose commit was aborted is, in practice, a full store.
        _ => err(
            "the browser aborted the write and kept nothing; the model in use stays in use (the usual cause: the browser's storage for this page is full, so delete saved models, or download this one)",
        ),
    })
}

/// (usage, quota) in bytes from `navigator.storage.estimate()`, where the browser has it.
async fn storage_estimate() -> Option<(f64, f64)> {
    use js_sys::Reflect;
    use wasm_bindgen::JsCast;
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let storage = Reflect::get(&navigator, &"storage".into()).ok()?;
    let estimate: js_sys::Function = Reflect::get(&storage, &"estimate".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: js_sys::Promise = estimate.call0(&storage).ok()?.dyn_into().ok()?;
    let result = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let number = |key: &str| Reflect::get(&result, &key.into()).ok()?.as_f64();
    Some((number("usage")?, number("quota")?))
}

/// An IndexedDB failure as the person at the page should read it. rexie's own message is only
/// "idb error": the browser's reason is in its source. A full disk (over the origin's quota) and
/// a database that cannot be opened at all (private browsing, storage blocked) get their own
/// words, since both are the browser's doing and say what is kept.
fn idb_err(e: rexie::Error) -> String {
    let detail = match std::error::Error::source(&e) {
        Some(source) => source.to_string(),
        None => e.to_string(),
    };
    if detail.contains("QuotaExceeded") || detail.to_lowercase().contains("quota") {
        format!("{FULL} ({detail})")
    } else if matches!(
        e,
        rexie::Error::IdbError(
            idb::Error::IndexedDbOpenFailed(_) | idb::Error::IndexedDbNotFound(_)
        )
    ) {
        format!(
            "IndexedDB cannot be opened here (private browsing, or storage blocked for this site): models are not saved across reloads, everything else works ({detail})"
        )
    } else {
        err(detail)
    }
}

/// What the checkpoint store should hold next: a model, or nothing.
enum Wanted {
    Put(Box<StoredModel>),
    Clear,
}

/// Hears how a checkpoint request ended: Ok(Some((run name, epochs done))) once a checkpoint
/// is stored, Ok(None) once it is cleared.
type Report = Box<dyn Fn(Result<Option<(String, usize)>, String>)>;

thread_local! {
    static WANTED: std::cell::RefCell<Option<(Wanted, Report)>> = const { std::cell::RefCell::new(None) };
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Asks for `model` (None: no checkpoint) to be the stored checkpoint. Requests are applied one
/// at a time, in order, and only the newest waiting one is applied: a short run's epochs come
/// faster than IndexedDB writes them, and a slow write must not land after a newer one (a late
/// put after a clear would offer a finished run; a late clear would drop a live run's).
pub fn want_checkpoint(
    model: Option<StoredModel>,
    report: impl Fn(Result<Option<(String, usize)>, String>) + 'static,
) {
    let wanted = match model {
        Some(m) => Wanted::Put(Box::new(m)),
        None => Wanted::Clear,
    };
    WANTED.with(|w| *w.borrow_mut() = Some((wanted, Box::new(report))));
    if WRITING.with(|w| w.replace(true)) {
        return; // the running writer picks it up
    }
    wasm_bindgen_futures::spawn_local(async move {
        while let Some((next, report)) = WANTED.with(|w| w.borrow_mut().take()) {
            report(match next {
                Wanted::Put(m) => {
                    let stored = m.resume.as_ref().map(|r| (m.name.clone(), r.epochs_done));
                    replace_checkpoint(&m).await.map(|_| stored)
                }
                Wanted::Clear => clear_checkpoints().await.map(|_| None),
            });
        }
        WRITING.with(|w| w.set(false));
    });
}

/// Keeps `model` as the checkpoint, in place of any earlier one (one `put`).
async fn replace_checkpoint(model: &StoredModel) -> Result<(), String> {
    let value =
        serde::Serialize::serialize(model, &serde_wasm_bindgen::Serializer::new()).map_err(err)?;
    let (tx, store) = on_store(CHECKPOINTS, TransactionMode::ReadWrite).await?;
    store
        .put(&value, Some(&JsValue::from_str(CHECKPOINT_KEY)))
        .await
        .map_err(idb_err)?;
    commit(tx, model.bytes.len()).await?;
    Ok(())
}

/// The checkpoint of a run that did not finish, if any (one that does not parse is dropped).
pub async fn checkpoint() -> Result<Option<StoredModel>, String> {
    let (tx, store) = on_store(CHECKPOINTS, TransactionMode::ReadOnly).await?;
    let value = store
        .get(JsValue::from_str(CHECKPOINT_KEY))
        .await
        .map_err(idb_err)?;
    commit(tx, 0).await?;
    Ok(value.and_then(|v| serde_wasm_bindgen::from_value(v).ok()))
}

/// Removes the checkpoint (the run finished, was stopped, or the user discarded it).
async fn clear_checkpoints() -> Result<(), String> {
    let (tx, store) = on_store(CHECKPOINTS, TransactionMode::ReadWrite).await?;
    store
        .delete(JsValue::from_str(CHECKPOINT_KEY))
        .await
        .map_err(idb_err)?;
    commit(tx, 0).await?;
    Ok(())
}

async fn open() -> Result<Rexie, String> {
    Rexie::builder(DB)
        .version(2)
        .add_object_store(ObjectStore::new(STORE).key_path("id").auto_increment(true))
        .add_object_store(ObjectStore::new(CHECKPOINTS))
        .build()
        .await
        .map_err(idb_err)
}

/// Opens the database and starts a transaction on the store `name`: the transaction (to await
/// its end) and the store. The connection is not closed here, so it outlives the transaction.
async fn on_store(name: &str, mode: TransactionMode) -> Result<(Transaction, Store), String> {
    let db = open().await?;
    let tx = db.transaction(&[name], mode).map_err(idb_err)?;
    let store = tx.store(name).map_err(idb_err)?;
    Ok((tx, store))
}

pub async fn list() -> Result<Vec<StoredModel>, String> {
    let (tx, store) = on_store(STORE, TransactionMode::ReadOnly).await?;
    let values = store.get_all(None, None).await.map_err(idb_err)?;
    commit(tx, 0).await?;
    // A record that does not parse (an older format, say) is skipped rather than hiding the rest.
    Ok(values
        .into_iter()
        .filter_map(|v| serde_wasm_bindgen::from_value(v).ok())
        .collect())
}

/// Stores `model` and returns its id.
pub async fn add(model: &StoredModel) -> Result<u32, String> {
    let value =
        serde::Serialize::serialize(model, &serde_wasm_bindgen::Serializer::new()).map_err(err)?;
    let (tx, store) = on_store(STORE, TransactionMode::ReadWrite).await?;
    let key = store.add(&value, None).await.map_err(idb_err)?;
    commit(tx, model.bytes.len()).await?;
    Ok(key.as_f64().unwrap_or(0.0) as u32)
}

pub async fn delete(id: u32) -> Result<(), String> {
    let (tx, store) = on_store(STORE, TransactionMode::ReadWrite).await?;
    store.delete(JsValue::from(id)).await.map_err(idb_err)?;
    commit(tx, 0).await?;
    Ok(())
}
