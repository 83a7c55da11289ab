//! File I/O of the CLI: the MNIST directory, spec files and model directories.

use std::fs;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Serialize;

use super::CliResult;
use crate::data::{Mnist, mnist::FILE_NAMES};
use crate::model::{Autoencoder, Classifier, ClassifierSpec, Gan, GanSpec, ModelSpec};
use crate::render::Gray;
use crate::store;

/// Where `latentlab` looks for MNIST unless told otherwise (the setup script puts it there).
pub const DEFAULT_DATA_DIR: &str = "data/mnist";
pub const MODEL_FILE: &str = "model.bpk";
pub const SPEC_FILE: &str = "spec.json";
pub const METRICS_FILE: &str = "metrics.json";
pub const RECONSTRUCTIONS_FILE: &str = "reconstructions.png";

fn read(path: &Path) -> CliResult<Vec<u8>> {
    fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Finds `name` or `name.gz` in `dir`.
fn idx_path(dir: &Path, name: &str) -> CliResult<PathBuf> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.is_file() {
        Ok(gz)
    } else if raw.is_file() {
        Ok(raw)
    } else {
        Err(format!(
            "{} has no {name}(.gz); run `bash scripts/setup-data.sh` to fetch MNIST, or pass --data DIR",
            dir.display()
        ))
    }
}

/// Loads the four IDX files of MNIST (or Fashion-MNIST) from `dir`.
pub fn load_mnist(dir: &Path) -> CliResult<Mnist> {
    let paths = FILE_NAMES.map(|name| idx_path(dir, name));
    let mut bytes = Vec::new();
    let mut names = Vec::new();
    for path in paths {
        let path = path?;
        bytes.push(read(&path)?);
        names.push(path.display().to_string());
    }
    let files: [(&str, &[u8]); 4] =
        std::array::from_fn(|i| (names[i].as_str(), bytes[i].as_slice()));
    Mnist::from_idx(files).map_err(|e| e.to_string())
}

pub fn read_spec(path: &Path) -> CliResult<ModelSpec> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: ModelSpec = crate::model::from_json(&text)
        .map_err(|e| format!("{}: not a valid spec: {e}", path.display()))?;
    spec.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(spec)
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// Makes sure `dir` can take a run's files before the run starts (creating it), so a file in
/// the way or an unwritable place is an error naming it at once, not after the training.
pub fn output_dir(dir: &Path) -> CliResult {
    let fail = |e: &dyn std::fmt::Display| format!("--out {}: {e}", dir.display());
    if dir.exists() && !dir.is_dir() {
        return Err(fail(&"a file is in the way (the output is a directory)"));
    }
    fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let probe = dir.join(".latentlab-write-check");
    fs::write(&probe, b"").map_err(|e| fail(&e))?;
    fs::remove_file(&probe).map_err(|e| fail(&e))
}

/// Writes the model file and its spec into `dir` (created if needed).
pub fn save_model(dir: &Path, model: Autoencoder, spec: &ModelSpec) -> CliResult {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(MODEL_FILE);
    fs::write(&path, store::save(model, spec)).map_err(|e| format!("{}: {e}", path.display()))?;
    write_json(&dir.join(SPEC_FILE), spec)
}

/// Loads a model directory (or a model file); the weights must fit `spec.json` when present.
pub fn load_model(path: &Path, device: &Device) -> CliResult<(ModelSpec, Autoencoder)> {
    let file = model_file(path);
    let spec_path = Some(path.join(SPEC_FILE)).filter(|p| path.is_dir() && p.is_file());
    let bytes = read(&file)?;
    let name = file.display().to_string();
    // The file says what it is (a GAN or classifier is refused by name) before spec.json, whose
    // own errors would otherwise hide that.
    store::read_spec(&name, &bytes).map_err(|e| e.to_string())?;
    let result = match spec_path {
        Some(spec_path) => {
            let spec = read_spec(&spec_path)?;
            store::load_with_spec(&name, &bytes, &spec, device).map(|m| (spec, m))
        }
        None => store::load(&name, &bytes, device),
    };
    result.map_err(|e| e.to_string())
}

/// The model file of a model directory (or the path itself when it is a file).
pub fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Loads a classifier directory (written by `finetune`) or file.
pub fn load_classifier(
    path: &Path,
    device: &Device,
) -> CliResult<(ModelSpec, ClassifierSpec, Classifier)> {
    let file = model_file(path);
    let bytes = read(&file)?;
    store::load_classifier(&file.display().to_string(), &bytes, device).map_err(|e| e.to_string())
}

/// Whether a model directory or file holds a classifier rather than an autoencoder.
pub fn is_classifier(path: &Path) -> CliResult<bool> {
    let file = model_file(path);
    let bytes = read(&file)?;
    store::is_classifier(&file.display().to_string(), &bytes).map_err(|e| e.to_string())
}

/// Writes a classifier and the spec of its autoencoder into `dir` (created if needed).
pub fn save_classifier(
    dir: &Path,
    model: Classifier,
    spec: &ModelSpec,
    head: &ClassifierSpec,
) -> CliResult {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(MODEL_FILE);
    fs::write(&path, store::save_classifier(model, spec, head))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    write_json(&dir.join(SPEC_FILE), spec)
}

/// Writes a GAN and its spec into `dir` (created if needed).
pub fn save_gan(dir: &Path, model: Gan, spec: &GanSpec) -> CliResult {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(MODEL_FILE);
    fs::write(&path, store::save_gan(model, spec))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    write_json(&dir.join(SPEC_FILE), spec)
}

/// Loads a GAN directory (written by `gan`) or file.
pub fn load_gan(path: &Path, device: &Device) -> CliResult<(GanSpec, Gan)> {
    let file = model_file(path);
    let bytes = read(&file)?;
    store::load_gan(&file.display().to_string(), &bytes, device).map_err(|e| e.to_string())
}

/// Reads a GAN spec file (JSON, as `gan` writes spec.json) and checks it.
pub fn read_gan_spec(path: &Path) -> CliResult<GanSpec> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: GanSpec = crate::model::from_json(&text)
        .map_err(|e| format!("{}: not a valid GAN spec: {e}", path.display()))?;
    spec.validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(spec)
}

/// Encodes a gray image as PNG.
pub fn write_png(path: &Path, image: &Gray) -> CliResult {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = fs::File::create(path).map_err(|e| err(&e))?;
    let mut encoder = png::Encoder::new(
        std::io::BufWriter::new(file),
        image.width as u32,
        image.height as u32,
    );
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| err(&e))?;
    writer.write_image_data(&image.pixels).map_err(|e| err(&e))
}
