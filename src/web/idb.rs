//! Saved models in IndexedDB, so they survive a reload of the page; and the checkpoint of the
//! training run in progress (one record, replaced after every epoch), so a reload can resume it.

use rexie::{ObjectStore, Rexie, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

const DB: &str = "latentlab";
const STORE: &str = "models";

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

/// The `source` of the checkpoint record (never listed among the saved models).
pub const CHECKPOINT: &str = "checkpoint";

/// Where a checkpointed run stood, and how it was started.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub epochs_done: usize,
    pub epochs_total: usize,
    pub limit: Option<usize>,
    pub seed: u64,
}

/// Keeps `model` as the checkpoint, in place of any earlier one.
pub async fn replace_checkpoint(model: &StoredModel) -> Result<(), String> {
    clear_checkpoints().await?;
    add(model).await.map(|_| ())
}

/// Removes every checkpoint (the run finished, was stopped, or the user discarded it).
pub async fn clear_checkpoints() -> Result<(), String> {
    for m in list().await? {
        if let (CHECKPOINT, Some(id)) = (m.source.as_str(), m.id) {
            delete(id).await?;
        }
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> String {
    format!("saved models (IndexedDB): {e}")
}

async fn open() -> Result<Rexie, String> {
    Rexie::builder(DB)
        .version(1)
        .add_object_store(ObjectStore::new(STORE).key_path("id").auto_increment(true))
        .build()
        .await
        .map_err(err)
}

pub async fn list() -> Result<Vec<StoredModel>, String> {
    let db = open().await?;
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadOnly)
        .map_err(err)?;
    let values = tx
        .store(STORE)
        .map_err(err)?
        .get_all(None, None)
        .await
        .map_err(err)?;
    tx.done().await.map_err(err)?;
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
    let db = open().await?;
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(err)?;
    let key = tx
        .store(STORE)
        .map_err(err)?
        .add(&value, None)
        .await
        .map_err(err)?;
    tx.done().await.map_err(err)?;
    Ok(key.as_f64().unwrap_or(0.0) as u32)
}

pub async fn delete(id: u32) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction(&[STORE], TransactionMode::ReadWrite)
        .map_err(err)?;
    tx.store(STORE)
        .map_err(err)?
        .delete(JsValue::from(id))
        .await
        .map_err(err)?;
    tx.done().await.map_err(err)?;
    Ok(())
}
