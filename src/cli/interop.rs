//! `latentlab export`, `import` and `infer`: nets to and from PyTorch (safetensors, `.pt`), and
//! a net's raw outputs on given inputs, so the two sides can be compared number for number
//! (`tests/interop/test_torch.py`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::{CliResult, files};
use crate::data::mnist::PIXELS;
use crate::interop;
use crate::model::{CLASSES, ClassifierSpec, GanSpec, Unfreeze, stddev_group};
use crate::store::{self, Net, NetSpec};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Model directory or file (autoencoder, classifier or GAN).
    #[arg(long)]
    model: PathBuf,
    /// The safetensors file to write (PyTorch's names and layouts; the spec in its metadata).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// A PyTorch state dict: FILE.safetensors, or FILE.pt / FILE.pth (`torch.save`).
    #[arg(long)]
    weights: PathBuf,
    /// The net's spec (JSON, as spec.json of a model directory). Not needed for a safetensors
    /// file written by `latentlab export` or `latentlab_torch.save`, which carries its own.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// What --spec describes: an autoencoder, a classifier on its encoder, or a GAN.
    #[arg(long, value_enum, default_value = "autoencoder")]
    kind: Kind,
    /// Model directory to write (model.bpk and spec.json).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Kind {
    Autoencoder,
    Classifier,
    Gan,
}

#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// Model directory or file.
    #[arg(long)]
    model: PathBuf,
    /// safetensors with `images` (f32, [n, 1, 28, 28] in [0, 1]) and, for a GAN, `noise`
    /// (f32, [n, noise]) and `classes` (i64, [n]) for a conditional one.
    #[arg(long)]
    inputs: PathBuf,
    /// safetensors to write: `latent` and `reconstructions` (autoencoder), `logits`
    /// (classifier), `generated` and `scores` (GAN: images from the noise, the discriminator's
    /// outputs on the images).
    #[arg(long)]
    out: PathBuf,
}

fn read(path: &Path) -> CliResult<Vec<u8>> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> CliResult {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads any model file (or the model file of a directory) on the CPU.
fn load(path: &Path) -> CliResult<(NetSpec, Net)> {
    let file = files::model_file(path);
    let bytes = read(&file)?;
    store::load_any(&file.display().to_string(), &bytes, &Device::flex()).map_err(|e| e.to_string())
}

pub fn export(args: ExportArgs) -> CliResult {
    let (spec, net) = load(&args.model)?;
    let bytes = interop::to_safetensors(&net, &spec)?;
    write(&args.out, &bytes)?;
    eprintln!(
        "wrote {} ({}, {} bytes): load it in PyTorch with python/latentlab_torch.py",
        args.out.display(),
        spec.kind(),
        bytes.len()
    );
    Ok(())
}

pub fn import(args: ImportArgs) -> CliResult {
    let weights = args.weights.display().to_string();
    let spec = match &args.spec {
        Some(path) => spec_from_file(path, args.kind)?,
        None => {
            let bytes = read(&args.weights)?;
            interop::safetensors_spec(&weights, &bytes)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "{weights}: carries no latentlab spec; pass --spec SPEC.json (and --kind)"
                    )
                })?
        }
    };
    files::output_dir(&args.out)?;
    let net = interop::from_state_dict(&args.weights, &spec, &Device::flex())?;
    let bytes = store::save_any(net, &spec);
    // PyTorch writes NaN weights as readily as any others: refuse them here, not at first use.
    store::check_finite(&weights, &bytes).map_err(|e| e.to_string())?;
    write(&args.out.join(files::MODEL_FILE), &bytes)?;
    match &spec {
        NetSpec::Autoencoder(s) | NetSpec::Classifier(s, _) => {
            files::write_json(&args.out.join(files::SPEC_FILE), s)?
        }
        NetSpec::Gan(s) => files::write_json(&args.out.join(files::SPEC_FILE), s)?,
    }
    eprintln!("wrote {} ({})", args.out.display(), spec.kind());
    Ok(())
}

/// A spec file read as `kind` says.
fn spec_from_file(path: &Path, kind: Kind) -> CliResult<NetSpec> {
    Ok(match kind {
        Kind::Autoencoder => NetSpec::Autoencoder(files::read_spec(path)?),
        Kind::Classifier => NetSpec::Classifier(
            files::read_spec(path)?,
            ClassifierSpec {
                unfreeze: Unfreeze::All,
                classes: CLASSES,
            },
        ),
        Kind::Gan => NetSpec::Gan(files::read_gan_spec(path)?),
    })
}

pub fn infer(args: InferArgs) -> CliResult {
    let (spec, net) = load(&args.model)?;
    let input_bytes = read(&args.inputs)?;
    let inputs = Inputs::parse(&args.inputs.display().to_string(), &input_bytes)?;
    let device = Device::flex();
    // Each output as (name, shape, little-endian f32 bytes).
    let mut out: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut put = |name: &'static str, t: Tensor<2>| {
        let dims = t.dims().to_vec();
        out.push((name, dims, le_bytes(t)));
    };
    match (&net, &spec) {
        (Net::Autoencoder(m), _) => {
            let images = inputs.images(&device)?;
            let latent = m.encoder.forward(images);
            put(
                "reconstructions",
                m.decoder.forward(latent.clone()).flatten(1, 3),
            );
            put("latent", latent);
        }
        (Net::Classifier(m), _) => put("logits", m.forward(inputs.images(&device)?)),
        (Net::Gan(m), NetSpec::Gan(gan)) => {
            if let Some(noise) = inputs.noise(gan, &device)? {
                let classes = inputs.classes(gan, noise.dims()[0], &device)?;
                put(
                    "generated",
                    m.generator.forward(noise, classes).flatten(1, 3),
                );
            }
            if inputs.has("images") {
                let images = inputs.images(&device)?;
                let group = stddev_group(images.dims()[0]);
                put("scores", m.discriminator.forward_grouped(images, group));
            }
        }
        (Net::Gan(_), _) => unreachable!("a GAN file always carries a GAN spec"),
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no input this {} reads (images, or noise for a GAN)",
            args.inputs.display(),
            spec.kind()
        ));
    }
    let views: Vec<(&str, TensorView)> = out
        .iter()
        .map(|(name, dims, bytes)| {
            let view =
                TensorView::new(Dtype::F32, dims.clone(), bytes).expect("shape and data agree");
            (*name, view)
        })
        .collect();
    let bytes = safetensors::serialize(views, None::<HashMap<String, String>>)
        .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    write(&args.out, &bytes)
}

fn le_bytes(t: Tensor<2>) -> Vec<u8> {
    let values = t
        .into_data()
        .try_into_vec::<f32>()
        .expect("the nets compute in f32");
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The tensors of an `--inputs` file.
struct Inputs<'a> {
    file: String,
    tensors: SafeTensors<'a>,
}

impl<'a> Inputs<'a> {
    fn parse(file: &str, bytes: &'a [u8]) -> CliResult<Self> {
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| format!("{file}: not a safetensors file ({e})"))?;
        Ok(Self {
            file: file.into(),
            tensors,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.tensor(name).is_ok()
    }

    /// The f32 tensor `name` as [n, width]; `None` when absent.
    fn matrix(&self, name: &str, width: usize) -> CliResult<Option<(usize, Vec<f32>)>> {
        let Ok(view) = self.tensors.tensor(name) else {
            return Ok(None);
        };
        if view.dtype() != Dtype::F32 {
            return Err(format!(
                "{}: `{name}` must be f32, not {:?}",
                self.file,
                view.dtype()
            ));
        }
        let n = view.shape().first().copied().unwrap_or(0);
        let per_row: usize = view.shape().iter().skip(1).product();
        if n == 0 || per_row != width {
            return Err(format!(
                "{}: `{name}` has shape {:?}; wanted n x {width} values per row (n >= 1)",
                self.file,
                view.shape()
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Some((n, values)))
    }

    fn images(&self, device: &Device) -> CliResult<Tensor<4>> {
        let (n, values) = self
            .matrix("images", PIXELS)?
            .ok_or_else(|| format!("{}: no `images` tensor", self.file))?;
        Ok(Tensor::from_data(
            TensorData::new(values, [n, 1, 28, 28]),
            device,
        ))
    }

    fn noise(&self, spec: &GanSpec, device: &Device) -> CliResult<Option<Tensor<2>>> {
        Ok(self
            .matrix("noise", spec.noise)?
            .map(|(n, values)| Tensor::from_data(TensorData::new(values, [n, spec.noise]), device)))
    }

    /// The classes of a conditional GAN's digits (i64 or i32, each 0-9); `None` otherwise.
    fn classes(
        &self,
        spec: &GanSpec,
        n: usize,
        device: &Device,
    ) -> CliResult<Option<Tensor<1, Int>>> {
        if !spec.kind.conditional() {
            return Ok(None);
        }
        let view = self.tensors.tensor("classes").map_err(|_| {
            format!(
                "{}: a conditional GAN needs `classes` beside `noise`",
                self.file
            )
        })?;
        let classes: Vec<i64> = match view.dtype() {
            Dtype::I64 => view
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            Dtype::I32 => view
                .data()
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
                .collect(),
            other => {
                return Err(format!(
                    "{}: `classes` must be i64 or i32, not {other:?}",
                    self.file
                ));
            }
        };
        if classes.len() != n || classes.iter().any(|&k| !(0..CLASSES as i64).contains(&k)) {
            return Err(format!(
                "{}: `classes` must hold {n} digits from 0 to 9, one per noise row",
                self.file
            ));
        }
        Ok(Some(Tensor::from_data(
            TensorData::new(classes, [n]),
            device,
        )))
    }
}
