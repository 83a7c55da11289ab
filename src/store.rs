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

use crate::model::{Autoencoder, Classifier, ClassifierSpec, Gan, GanSpec, ModelSpec, SpecError};

/// Metadata key under which the spec is stored in the burnpack file.
const SPEC_KEY: &str = "latentlab.spec";
/// Present in classifier files only: the [`ClassifierSpec`] as JSON. The spec under
/// `SPEC_KEY` is then the autoencoder's whose encoder the classifier was made from.
const CLASSIFIER_KEY: &str = "latentlab.classifier";
/// GAN files carry their [`GanSpec`] here instead of a spec under `SPEC_KEY`.
const GAN_KEY: &str = "latentlab.gan";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{file}: not a latentlab model file ({reason})")]
    NotAModel { file: String, reason: String },
    #[error("{file}: the spec is invalid: {reason}")]
    BadSpec { file: String, reason: String },
    #[error("{file}: the weights were saved for a different architecture than its spec ({reason})")]
    WrongArchitecture { file: String, reason: String },
    #[error("{file}: {reason}")]
    WrongKind { file: String, reason: String },
    #[error(
        "{file}: the weights `{tensor}` hold NaN or infinite values (saved from a diverged run, or damaged)"
    )]
    NotFinite { file: String, tensor: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// Serialises the weights of `model` together with `spec`.
pub fn save(model: Autoencoder, spec: &ModelSpec) -> Vec<u8> {
    save_any(Net::Autoencoder(model), &NetSpec::Autoencoder(spec.clone()))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("specs always serialise")
}

/// Serialises a classifier with the spec of the autoencoder its encoder came from.
pub fn save_classifier(model: Classifier, spec: &ModelSpec, head: &ClassifierSpec) -> Vec<u8> {
    save_any(
        Net::Classifier(model),
        &NetSpec::Classifier(spec.clone(), head.clone()),
    )
}

/// Serialises a GAN (generator and discriminator) with its spec.
pub fn save_gan(model: Gan, spec: &GanSpec) -> Vec<u8> {
    save_any(Net::Gan(model), &NetSpec::Gan(spec.clone()))
}

/// [`save_gan`] for a GAN on any device (see [`save_async`]).
pub async fn save_gan_async(model: Gan, spec: &GanSpec) -> Vec<u8> {
    save_gan(to_cpu(model).await, spec)
}

fn save_module<M: Module>(model: M, metadata: &[(&str, String)]) -> Vec<u8> {
    let record = model
        .into_record()
        .into_bytes()
        .expect("encoding an in-memory record");
    let tensors = Reader::from_bytes(record)
        .and_then(Reader::into_tensors)
        .expect("re-reading a record just written");
    let mut writer = Writer::new(tensors);
    for (key, value) in metadata {
        writer = writer.with_metadata(key, value);
    }
    writer.into_bytes().expect("writing in memory").to_vec()
}

/// [`save`] for a model on any device, WebGPU included: WebGPU has no synchronous reads, so the
/// weights are first read back asynchronously into a CPU (flex) copy, which `save` then writes.
pub async fn save_async(model: Autoencoder, spec: &ModelSpec) -> Vec<u8> {
    save(to_cpu(model).await, spec)
}

/// [`save_classifier`] for a classifier on any device (see [`save_async`]).
pub async fn save_classifier_async(
    model: Classifier,
    spec: &ModelSpec,
    head: &ClassifierSpec,
) -> Vec<u8> {
    save_classifier(to_cpu(model).await, spec, head)
}

/// A copy of `model` whose weights live on the CPU (flex), read back without blocking.
pub async fn to_cpu<M: Module>(model: M) -> M {
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

/// The metadata entries of a burnpack file.
fn metadata(file: &str, bytes: &[u8]) -> Result<Reader, StoreError> {
    Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| StoreError::NotAModel {
        file: file.into(),
        reason: e.to_string(),
    })
}

/// Whether a model file holds a GAN.
pub fn is_gan(file: &str, bytes: &[u8]) -> Result<bool, StoreError> {
    Ok(metadata(file, bytes)?.metadata().contains_key(GAN_KEY))
}

/// Loads a GAN file: its spec and both nets, on `device`.
pub fn load_gan(file: &str, bytes: &[u8], device: &Device) -> Result<(GanSpec, Gan), StoreError> {
    let spec = read_gan_spec(file, bytes)?;
    let model = load_into(file, bytes, Gan::new(&spec, device)?)?;
    Ok((spec, model))
}

/// What a model file says it holds: the kind of net and its specs (no weights). The same
/// metadata travels in burnpack files and in the safetensors files of `latentlab export`.
#[derive(Clone, Debug, PartialEq)]
pub enum NetSpec {
    Autoencoder(ModelSpec),
    /// The spec of the autoencoder the encoder came from, and the classifier's own.
    Classifier(ModelSpec, ClassifierSpec),
    Gan(GanSpec),
}

impl NetSpec {
    /// Reads the kind and specs from a file's metadata entries (`get` looks one up by key).
    pub fn from_metadata<'a>(
        file: &str,
        get: impl Fn(&str) -> Option<&'a String>,
    ) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::BadSpec {
            file: file.into(),
            reason,
        };
        if let Some(json) = get(GAN_KEY) {
            let spec: GanSpec = crate::model::from_json(json).map_err(bad)?;
            spec.validate()?;
            return Ok(NetSpec::Gan(spec));
        }
        let json = get(SPEC_KEY).ok_or_else(|| StoreError::NotAModel {
            file: file.into(),
            reason: "a model file without a latentlab spec".into(),
        })?;
        let spec: ModelSpec = crate::model::from_json(json).map_err(bad)?;
        Ok(match get(CLASSIFIER_KEY) {
            Some(json) => NetSpec::Classifier(spec, crate::model::from_json(json).map_err(bad)?),
            None => NetSpec::Autoencoder(spec),
        })
    }

    /// The metadata entries a file of this net carries.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            NetSpec::Autoencoder(spec) => vec![(SPEC_KEY, json(spec))],
            NetSpec::Classifier(spec, head) => {
                vec![(SPEC_KEY, json(spec)), (CLASSIFIER_KEY, json(head))]
            }
            NetSpec::Gan(spec) => vec![(GAN_KEY, json(spec))],
        }
    }

    /// "autoencoder", "classifier" or "gan".
    pub fn kind(&self) -> &'static str {
        match self {
            NetSpec::Autoencoder(_) => "autoencoder",
            NetSpec::Classifier(..) => "classifier",
            NetSpec::Gan(_) => "gan",
        }
    }

    /// The net this spec describes, with fresh weights, on `device`.
    pub fn build(&self, device: &Device) -> Result<Net, StoreError> {
        Ok(match self {
            NetSpec::Autoencoder(spec) => Net::Autoencoder(Autoencoder::new(&spec.arch, device)?),
            NetSpec::Classifier(spec, _) => Net::Classifier(Classifier::new(&spec.arch, device)?),
            NetSpec::Gan(spec) => Net::Gan(Gan::new(spec, device)?),
        })
    }
}

/// Any of latentlab's nets (what [`NetSpec::build`] makes and [`load_any`] loads).
// One net is held at a time and moved a handful of times: boxing the GAN would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Net {
    Autoencoder(Autoencoder),
    Classifier(Classifier),
    Gan(Gan),
}

/// Reads what a model file holds (kind and specs).
pub fn read_net_spec(file: &str, bytes: &[u8]) -> Result<NetSpec, StoreError> {
    let reader = metadata(file, bytes)?;
    NetSpec::from_metadata(file, |key| reader.metadata().get(key))
}

/// Loads any model file: what it is and its weights, on `device`.
pub fn load_any(file: &str, bytes: &[u8], device: &Device) -> Result<(NetSpec, Net), StoreError> {
    let spec = read_net_spec(file, bytes)?;
    let net = match spec.build(device)? {
        Net::Autoencoder(m) => Net::Autoencoder(load_into(file, bytes, m)?),
        Net::Classifier(m) => Net::Classifier(load_into(file, bytes, m)?),
        Net::Gan(m) => Net::Gan(load_into(file, bytes, m)?),
    };
    Ok((spec, net))
}

/// Serialises any net with its spec (the inverse of [`load_any`]).
pub fn save_any(net: Net, spec: &NetSpec) -> Vec<u8> {
    let metadata = spec.metadata();
    match net {
        Net::Autoencoder(m) => save_module(m, &metadata),
        Net::Classifier(m) => save_module(m, &metadata),
        Net::Gan(m) => save_module(m, &metadata),
    }
}

/// Reads the spec stored in a GAN file.
pub fn read_gan_spec(file: &str, bytes: &[u8]) -> Result<GanSpec, StoreError> {
    match read_net_spec(file, bytes)? {
        NetSpec::Gan(spec) => Ok(spec),
        other => Err(StoreError::WrongKind {
            file: file.into(),
            reason: if matches!(other, NetSpec::Classifier(..)) {
                "this is a digit classifier, not a GAN".into()
            } else {
                "this is not a GAN (train one with `latentlab gan`)".into()
            },
        }),
    }
}

/// The metadata of a model file: its spec and, for a classifier, the classifier's spec.
fn read_metadata(
    file: &str,
    bytes: &[u8],
) -> Result<(ModelSpec, Option<ClassifierSpec>), StoreError> {
    match read_net_spec(file, bytes)? {
        NetSpec::Gan(_) => Err(StoreError::WrongKind {
            file: file.into(),
            reason: "this is a GAN, not an autoencoder or classifier".into(),
        }),
        NetSpec::Autoencoder(spec) => Ok((spec, None)),
        NetSpec::Classifier(spec, head) => Ok((spec, Some(head))),
    }
}

/// Reads the spec stored in a model file.
pub fn read_spec(file: &str, bytes: &[u8]) -> Result<ModelSpec, StoreError> {
    read_metadata(file, bytes).map(|(spec, _)| spec)
}

/// Whether a model file holds a classifier (rather than an autoencoder).
pub fn is_classifier(file: &str, bytes: &[u8]) -> Result<bool, StoreError> {
    read_metadata(file, bytes).map(|(_, head)| head.is_some())
}

/// Refuses a file whose float weights hold NaN or infinities (saved from a diverged run, or
/// damaged): it would load, then draw and score nothing but NaN.
pub fn check_finite(file: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let not_a_model = |e: burn_pack::Error| StoreError::NotAModel {
        file: file.into(),
        reason: e.to_string(),
    };
    for tensor in metadata(file, bytes)?.into_tensors().map_err(not_a_model)? {
        if tensor.dtype != burn_pack::DType::F32 {
            continue;
        }
        let data = tensor.to_bytes().map_err(not_a_model)?;
        let finite = data
            .chunks_exact(4)
            .all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite());
        if !finite {
            return Err(StoreError::NotFinite {
                file: file.into(),
                tensor: tensor.name,
            });
        }
    }
    Ok(())
}

/// Loads the weights of a model file into `model` (built for the file's spec); a file for
/// another architecture is an error naming the first mismatch.
fn load_into<M: Module>(file: &str, bytes: &[u8], model: M) -> Result<M, StoreError> {
    check_finite(file, bytes)?;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        StoreError::NotAModel {
            file: file.into(),
            reason: e.to_string(),
        }
    })?;
    model
        .try_load_record(record)
        .map_err(|e| StoreError::WrongArchitecture {
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
    if is_classifier(file, bytes).unwrap_or(false) {
        return Err(StoreError::WrongKind {
            file: file.into(),
            reason: "this is a digit classifier, not an autoencoder".into(),
        });
    }
    load_into(file, bytes, Autoencoder::new(&spec.arch, device)?)
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

/// Loads a classifier file: the autoencoder spec its encoder came from, its own spec, and it.
pub fn load_classifier(
    file: &str,
    bytes: &[u8],
    device: &Device,
) -> Result<(ModelSpec, ClassifierSpec, Classifier), StoreError> {
    let (spec, head) = read_metadata(file, bytes)?;
    let head = head.ok_or_else(|| StoreError::WrongKind {
        file: file.into(),
        reason: "this is an autoencoder, not a digit classifier (fine-tune one first)".into(),
    })?;
    let model = load_into(file, bytes, Classifier::new(&spec.arch, device)?)?;
    Ok((spec, head, model))
}
