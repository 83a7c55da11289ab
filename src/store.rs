//! Saving and loading trained autoencoders as bytes (the native CLI writes them to files, the
//! page keeps them in IndexedDB or offers them as downloads).
//!
//! A model file is a burnpack record (`model.bpk`) whose metadata also carries the model's spec
//! as JSON, so the single file is enough to rebuild the net. The CLI writes the spec beside it as
//! `spec.json` too, for people to read.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use burn_pack::{Reader, Writer};
use thiserror::Error;

use crate::model::{Autoencoder, ModelSpec, SpecError};

/// Metadata key under which the spec is stored in the burnpack file.
const SPEC_KEY: &str = "latentlab.spec";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{file}: not a latentlab model file ({reason})")]
    NotAModel { file: String, reason: String },
    #[error("{file}: the spec is invalid: {reason}")]
    BadSpec { file: String, reason: String },
    #[error("{file}: the weights were saved for a different architecture than its spec ({reason})")]
    WrongArchitecture { file: String, reason: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// Serialises the weights of `model` together with `spec`.
pub fn save(model: Autoencoder, spec: &ModelSpec) -> Vec<u8> {
    let record = model
        .into_record()
        .into_bytes()
        .expect("encoding an in-memory record");
    let tensors = Reader::from_bytes(record)
        .and_then(Reader::into_tensors)
        .expect("re-reading a record just written");
    let json = serde_json::to_string(spec).expect("a spec always serialises");
    Writer::new(tensors)
        .with_metadata(SPEC_KEY, &json)
        .into_bytes()
        .expect("writing in memory")
        .to_vec()
}

/// [`save`] for a model on any device, WebGPU included: WebGPU has no synchronous reads, so the
/// weights are first read back asynchronously into a CPU (flex) copy, which `save` then writes.
pub async fn save_async(model: Autoencoder, spec: &ModelSpec) -> Vec<u8> {
    save(to_cpu(model).await, spec)
}

/// A copy of `model` whose weights live on the CPU (flex), read back without blocking.
pub async fn to_cpu(model: Autoencoder) -> Autoencoder {
    /// Every float weight, flattened, in the module's traversal order.
    struct Collect(Vec<Tensor<1>>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let value = param.val();
            let n = value.shape().num_elements();
            self.0.push(value.reshape([n]));
        }
    }
    /// Puts the read-back values in place, in the same traversal order.
    struct Replace {
        values: std::vec::IntoIter<TensorData>,
        device: Device,
    }
    impl ModuleMapper for Replace {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let dims = param.val().dims();
            let data = self.values.next().expect("one value per weight");
            let value = Tensor::<1>::from_data(data, &self.device).reshape(dims);
            Param::initialized(param.id, value)
        }
    }
    let mut collect = Collect(Vec::new());
    model.visit(&mut collect);
    let mut values = Vec::with_capacity(collect.0.len());
    for tensor in collect.0 {
        values.push(
            tensor
                .into_data_async()
                .await
                .expect("reading weights back from the device"),
        );
    }
    model.map(&mut Replace {
        values: values.into_iter(),
        device: Device::flex(),
    })
}

/// Reads the spec stored in a model file.
pub fn read_spec(file: &str, bytes: &[u8]) -> Result<ModelSpec, StoreError> {
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        StoreError::NotAModel {
            file: file.into(),
            reason: e.to_string(),
        }
    })?;
    let json = reader
        .metadata()
        .get(SPEC_KEY)
        .ok_or_else(|| StoreError::NotAModel {
            file: file.into(),
            reason: "a burnpack file without a latentlab spec".into(),
        })?;
    serde_json::from_str(json).map_err(|e| StoreError::BadSpec {
        file: file.into(),
        reason: e.to_string(),
    })
}

/// Rebuilds the autoencoder described by `spec` on `device` and loads the weights of the model
/// file into it; a file for another architecture is an error naming the first mismatch.
pub fn load_with_spec(
    file: &str,
    bytes: &[u8],
    spec: &ModelSpec,
    device: &Device,
) -> Result<Autoencoder, StoreError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        StoreError::NotAModel {
            file: file.into(),
            reason: e.to_string(),
        }
    })?;
    let model = Autoencoder::new(&spec.arch, device)?;
    model
        .try_load_record(record)
        .map_err(|e| StoreError::WrongArchitecture {
            file: file.into(),
            reason: e.to_string(),
        })
}

/// Loads a model file on its own: the spec comes from the file's metadata.
pub fn load(
    file: &str,
    bytes: &[u8],
    device: &Device,
) -> Result<(ModelSpec, Autoencoder), StoreError> {
    let spec = read_spec(file, bytes)?;
    let model = load_with_spec(file, bytes, &spec, device)?;
    Ok((spec, model))
}
