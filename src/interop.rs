//! PyTorch interop: any latentlab net as a safetensors file whose tensor names and layouts a
//! PyTorch module of the same spec loads with `load_state_dict` (`python/latentlab_torch.py`
//! builds that module from the spec the file carries), and PyTorch state dicts (safetensors, or
//! `.pt`/`.pth` through burn's PyTorch reader) back into latentlab nets.
//!
//! burn-store does the work: its PyTorch adapters transpose linear weights ([in, out] in burn,
//! [out, in] in PyTorch) and rename batch norm's `gamma`/`beta` to `weight`/`bias`. Module paths
//! already agree (`encoder.conv.0.weight`) because the Python module names its layers as ours.
//! Native only: the page has no use for PyTorch files.

use std::path::Path;

use burn::prelude::*;
use burn_store::{
    ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

use crate::store::{Net, NetSpec, StoreError};

/// PyTorch keeps a step counter in every batch norm that burn has no use for.
const TORCH_ONLY: &str = "num_batches_tracked";

/// `net` as safetensors bytes in PyTorch's names and layouts, with `spec` in the metadata (the
/// same keys as a model file's), so the file alone rebuilds the net on either side.
pub fn to_safetensors(net: &Net, spec: &NetSpec) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    for (key, value) in spec.metadata() {
        store = store.metadata(key, value);
    }
    let saved = match net {
        Net::Autoencoder(m) => m.save_into(&mut store),
        Net::Classifier(m) => m.save_into(&mut store),
        Net::Gan(m) => m.save_into(&mut store),
    };
    saved.map_err(|e| format!("writing safetensors: {e}"))?;
    store
        .get_bytes()
        .map_err(|e| format!("writing safetensors: {e}"))
}

/// The latentlab spec in a safetensors file's metadata: `None` for a file without one (a plain
/// PyTorch state dict, which then needs a spec from elsewhere).
pub fn safetensors_spec(file: &str, bytes: &[u8]) -> Result<Option<NetSpec>, StoreError> {
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| StoreError::NotAModel {
            file: file.into(),
            reason: format!("not a safetensors file: {e}"),
        })?;
    let Some(entries) = header.metadata() else {
        return Ok(None);
    };
    if !entries.keys().any(|key| key.starts_with("latentlab.")) {
        return Ok(None);
    }
    NetSpec::from_metadata(file, |key| entries.get(key)).map(Some)
}

/// A fresh net of `spec` on `device` with the weights of the PyTorch state dict at `path`
/// (safetensors, or `.pt`/`.pth`). Every tensor the net has must be there with its shape, and
/// every tensor there must have a place in the net (batch norm's step counters excepted), so a
/// state dict of another architecture is an error naming what does not fit.
pub fn from_state_dict(path: &Path, spec: &NetSpec, device: &Device) -> Result<Net, String> {
    let file = path.display().to_string();
    let mut net = spec.build(device).map_err(|e| e.to_string())?;
    let torch_pickle = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("pt" | "pth")
    );
    // Both stores report what did not fit instead of failing on the first tensor: the message
    // below names all of it.
    let result = if torch_pickle {
        let mut store = PytorchStore::from_file(path)
            .validate(false)
            .allow_partial(true);
        apply(&mut net, &mut store)
    } else {
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .validate(false)
            .allow_partial(true);
        apply(&mut net, &mut store)
    }
    .map_err(|e| format!("{file}: {e}"))?;
    check_fit(&file, spec, &result)?;
    Ok(net)
}

fn apply<S: ModuleStore>(net: &mut Net, store: &mut S) -> Result<ApplyResult, String> {
    let applied = match net {
        Net::Autoencoder(m) => m.load_from(store),
        Net::Classifier(m) => m.load_from(store),
        Net::Gan(m) => m.load_from(store),
    };
    applied.map_err(|e| e.to_string())
}

/// At most this many of each kind of misfit are named (a net of another architecture misfits
/// in every layer).
const NAMED: usize = 3;

/// The first [`NAMED`] of `items`, and how many more there are.
fn first_few(items: Vec<String>) -> String {
    let more = items.len().saturating_sub(NAMED);
    let mut text = items.into_iter().take(NAMED).collect::<Vec<_>>().join("; ");
    if more > 0 {
        text += &format!("; and {more} more");
    }
    text
}

/// Turns what did not fit into one error that names it.
fn check_fit(file: &str, spec: &NetSpec, result: &ApplyResult) -> Result<(), String> {
    let mut problems = Vec::new();
    if !result.errors.is_empty() {
        problems.push(first_few(
            result.errors.iter().map(|e| e.to_string()).collect(),
        ));
    }
    if !result.missing.is_empty() {
        let names = result.missing.iter().map(|(p, _)| p.clone()).collect();
        problems.push(format!("missing tensors: {}", first_few(names)));
    }
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|name| !name.ends_with(TORCH_ONLY))
        .cloned()
        .collect();
    if !unused.is_empty() {
        problems.push(format!(
            "tensors the spec has no place for: {}",
            first_few(unused)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{file}: these weights do not fit the {}'s spec ({})",
            spec.kind(),
            problems.join("; ")
        ))
    }
}
