//! The bad-input corpus: every way a user can hand `latentlab` a broken file or option, as one
//! table. Each case must end with a non-zero exit and a message that names the file or field,
//! without a panic or a hang, and must leave the output directory of a previous run exactly as
//! it was. `LATENTLAB_SHOW_CORPUS=1 cargo test --release --test core bad_inputs -- --nocapture`
//! prints each case's message.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TempDir, data_dir};

const IMAGES: &str = "train-images-idx3-ubyte";
const LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// No case may take longer than this (each fails before any training).
const HANG: Duration = Duration::from_secs(120);

/// Runs the binary with a deadline; returns (exit code, stdout + stderr), or None on a hang.
fn run(args: &[String]) -> Option<(Option<i32>, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("waits").is_some() {
            let out = child.wait_with_output().expect("output");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Some((out.status.code(), text));
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX image file: magic, dims, then `n` x rows x cols pixels (`n_written` of them).
fn idx_images(magic: [u8; 4], count: u32, rows: u32, cols: u32, n_written: usize) -> Vec<u8> {
    let mut v = magic.to_vec();
    for d in [count, rows, cols] {
        v.extend(d.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, n_written * (rows * cols) as usize));
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend((labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

/// Models trained once for the cases: an autoencoder, a classifier (the judge) and a GAN.
struct Fixture {
    _dir: TempDir,
    ae: PathBuf,
    judge: PathBuf,
    gan: PathBuf,
}

fn ok(args: &[&str]) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let (code, text) = run(&args).expect("no hang");
    assert_eq!(code, Some(0), "{args:?}: {text}");
}

impl Fixture {
    fn new() -> Self {
        let dir = TempDir::new();
        let data = data_dir();
        let data = data.to_str().unwrap();
        let ae = dir.path().join("ae");
        let judge = dir.path().join("judge");
        let gan = dir.path().join("gan");
        let common = ["--epochs", "1", "--quiet", "--data", data];
        let with = |cmd: &[&str], out: &Path| {
            let mut args = cmd.to_vec();
            args.extend_from_slice(&common);
            args.extend_from_slice(&["--out", out.to_str().unwrap()]);
            ok(&args);
        };
        with(&["train", "--limit", "600"], &ae);
        with(&["judge", "--limit", "600"], &judge);
        with(
            &[
                "gan",
                "--kind",
                "gan",
                "--limit",
                "1200",
                "--judge",
                judge.to_str().unwrap(),
                "--judge-n",
                "100",
            ],
            &gan,
        );
        Self {
            _dir: dir,
            ae,
            judge,
            gan,
        }
    }
}

/// What a case has to work with: its own fresh directory and the shared models.
struct Ctx<'a> {
    dir: &'a Path,
    fx: &'a Fixture,
}

impl Ctx<'_> {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// The output directory of "a previous run" (filled before the case runs).
    fn out(&self) -> String {
        self.path("out")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    }

    /// A copy of the real MNIST directory with `name` replaced by `bytes` (None: left out).
    fn data_with(&self, name: &str, bytes: Option<Vec<u8>>) -> String {
        let d = self.dir.join("data");
        std::fs::create_dir_all(&d).unwrap();
        for f in [IMAGES, LABELS, TEST_IMAGES, TEST_LABELS] {
            if !name.starts_with(f) {
                std::os::unix::fs::symlink(
                    data_dir().join(format!("{f}.gz")),
                    d.join(format!("{f}.gz")),
                )
                .unwrap();
            }
        }
        if let Some(bytes) = bytes {
            std::fs::write(d.join(name), bytes).unwrap();
        }
        d.to_str().unwrap().to_string()
    }

    /// A copy of a model directory with `file` replaced by `bytes`.
    fn model_with(&self, model: &Path, file: &str, bytes: Option<Vec<u8>>) -> String {
        let d = self.dir.join("model");
        std::fs::create_dir_all(&d).unwrap();
        for f in ["model.bpk", "spec.json"] {
            std::fs::copy(model.join(f), d.join(f)).unwrap();
        }
        match bytes {
            Some(bytes) => std::fs::write(d.join(file), bytes).unwrap(),
            None => std::fs::remove_file(d.join(file)).unwrap(),
        }
        d.to_str().unwrap().to_string()
    }

    /// The spec.json of the model directory `model`, changed by `f`, written as `name`.
    fn spec_with(
        &self,
        model: &Path,
        name: &str,
        f: impl FnOnce(&mut serde_json::Value),
    ) -> String {
        let text = std::fs::read_to_string(model.join("spec.json")).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        f(&mut json);
        self.write(name, json.to_string().as_bytes())
    }
}

/// `train` for one short epoch on `data`, into the previous run's directory; `extra` options
/// replace these defaults.
fn train(c: &Ctx, data: &str, extra: &[&str]) -> Vec<String> {
    let out = c.out();
    let defaults = [
        ("--epochs", "1"),
        ("--limit", "600"),
        ("--data", data),
        ("--out", out.as_str()),
    ];
    let mut a = vec!["train".to_string(), "--quiet".to_string()];
    for (option, value) in defaults {
        if !extra.contains(&option) {
            a.extend([option.to_string(), value.to_string()]);
        }
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

type Make = Box<dyn Fn(&Ctx) -> Vec<String>>;

struct Case {
    name: &'static str,
    /// What the message must contain (the file or field at fault).
    names: &'static str,
    make: Make,
}

fn case(
    name: &'static str,
    names: &'static str,
    make: impl Fn(&Ctx) -> Vec<String> + 'static,
) -> Case {
    Case {
        name,
        names,
        make: Box::new(make),
    }
}

fn real_data() -> String {
    data_dir().to_str().unwrap().to_string()
}

/// `train` on the real data with these options.
fn options(name: &'static str, names: &'static str, opts: &'static [&'static str]) -> Case {
    case(name, names, move |c| train(c, &real_data(), opts))
}

/// `train` on MNIST with the data file `file` (`IMAGES` etc. + ".gz", or raw) replaced by `bytes`
/// (None: left out).
fn data(
    name: &'static str,
    names: &'static str,
    file: &'static str,
    bytes: impl Fn() -> Option<Vec<u8>> + 'static,
) -> Case {
    case(name, names, move |c| {
        train(c, &c.data_with(file, bytes()), &[])
    })
}

/// Sets the value at a JSON pointer, adding the last key when it is new.
fn set(json: &mut serde_json::Value, pointer: &str, value: serde_json::Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    json.pointer_mut(parent).unwrap()[key] = value;
}

/// `train --spec` with the trained autoencoder's spec, `pointer` set to `value`.
fn spec(
    name: &'static str,
    names: &'static str,
    pointer: &'static str,
    value: serde_json::Value,
) -> Case {
    case(name, names, move |c| {
        let s = c.spec_with(&c.fx.ae, "s.json", |j| set(j, pointer, value.clone()));
        train(c, &real_data(), &["--spec", &s])
    })
}

/// `gan --spec` with the trained GAN's spec, `pointer` set to `value`.
fn gan_spec(
    name: &'static str,
    names: &'static str,
    pointer: &'static str,
    value: serde_json::Value,
) -> Case {
    case(name, names, move |c| {
        let s = c.spec_with(&c.fx.gan, "g.json", |j| set(j, pointer, value.clone()));
        gan(c, &s)
    })
}

fn gan(c: &Ctx, spec: &str) -> Vec<String> {
    let data = real_data();
    let out = c.out();
    args(&[
        "gan", "--spec", spec, "--epochs", "1", "--limit", "128", "--data", &data, "--out", &out,
    ])
}

/// `eval` of the trained autoencoder's directory with `file` replaced by `bytes` (None: removed).
fn model(
    name: &'static str,
    names: &'static str,
    file: &'static str,
    bytes: impl Fn(&Ctx) -> Option<Vec<u8>> + 'static,
) -> Case {
    case(name, names, move |c| {
        eval(Path::new(&c.model_with(&c.fx.ae, file, bytes(c))))
    })
}

fn images(magic: [u8; 4], count: u32, rows: u32, cols: u32, n: usize) -> Option<Vec<u8>> {
    Some(gz(&idx_images(magic, count, rows, cols, n)))
}

fn mnist_file(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(format!("{name}.gz"))).unwrap()
}

/// `eval` of a model directory: where an autoencoder is wanted.
fn eval(dir: &Path) -> Vec<String> {
    args(&[
        "eval",
        "--model",
        dir.to_str().unwrap(),
        "--data",
        &real_data(),
    ])
}

/// `import` of `weights` into the previous run's directory.
fn import(c: &Ctx, weights: &str, extra: &[&str]) -> Vec<String> {
    let out = c.out();
    let mut a = args(&["import", "--weights", weights, "--out", &out]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// `model` exported as safetensors (for PyTorch) into the case's directory.
fn export(c: &Ctx, model: &Path) -> String {
    let w = c.path("export.safetensors");
    let status = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(["export", "--model", model.to_str().unwrap(), "--out", &w])
        .output()
        .unwrap()
        .status;
    assert!(status.success(), "export of {}", model.display());
    w
}

/// `n` bytes that look random (and are the same every run).
fn noise_bytes(n: u32) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn ae_model(c: &Ctx) -> Vec<u8> {
    std::fs::read(c.fx.ae.join("model.bpk")).unwrap()
}

const IMAGES_GZ: &str = "train-images-idx3-ubyte.gz";
const LABELS_GZ: &str = "train-labels-idx1-ubyte.gz";
const IDX3: [u8; 4] = [0, 0, 8, 3];

fn cases() -> Vec<Case> {
    use serde_json::json;
    vec![
        // --- IDX files ---
        data(
            "training images cut to a third (gzip ends early)",
            IMAGES,
            IMAGES_GZ,
            || {
                let b = mnist_file(IMAGES);
                Some(b[..b.len() / 3].to_vec())
            },
        ),
        data(
            "images with a wrong magic number",
            IMAGES,
            IMAGES_GZ,
            || images([0, 0, 8, 9], 10, 28, 28, 10),
        ),
        data(
            "images of floats, not bytes (type 0x0D)",
            IMAGES,
            IMAGES_GZ,
            || images([0, 0, 0x0D, 3], 10, 28, 28, 40),
        ),
        data("images with two dimensions", IMAGES, IMAGES_GZ, || {
            let mut b = vec![0, 0, 8, 2];
            b.extend(10u32.to_be_bytes());
            b.extend(784u32.to_be_bytes());
            b.extend(vec![0u8; 7840]);
            Some(gz(&b))
        }),
        data("images of 28 x 27 pixels", IMAGES, IMAGES_GZ, || {
            images(IDX3, 60000, 28, 27, 60000)
        }),
        data(
            "images claiming 4 billion digits",
            IMAGES,
            IMAGES_GZ,
            || images(IDX3, u32::MAX, 28, 28, 10),
        ),
        data("images claiming 4 billion rows", IMAGES, IMAGES_GZ, || {
            images(IDX3, 10, u32::MAX, u32::MAX, 0)
        }),
        data(
            "images: a gzip header then garbage",
            IMAGES,
            IMAGES_GZ,
            || {
                let mut b = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
                b.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
                Some(b)
            },
        ),
        data("images: an empty file", IMAGES, IMAGES_GZ, || {
            Some(Vec::new())
        }),
        data("images: zero digits", IMAGES, IMAGES_GZ, || {
            images(IDX3, 0, 28, 28, 0)
        }),
        data("labels out of range (12)", LABELS, LABELS_GZ, || {
            let mut labels = vec![3u8; 60000];
            labels[17] = 12;
            Some(gz(&idx_labels(&labels)))
        }),
        data("fewer labels than images", LABELS, LABELS_GZ, || {
            Some(gz(&idx_labels(&[1u8; 100])))
        }),
        data("labels cut short of their count", LABELS, LABELS_GZ, || {
            let mut b = idx_labels(&[1u8; 60000]);
            b.truncate(5000);
            Some(gz(&b))
        }),
        data(
            "an image file where the labels belong",
            LABELS,
            LABELS_GZ,
            || Some(mnist_file(TEST_IMAGES)),
        ),
        data("labels missing", LABELS, LABELS_GZ, || None),
        data(
            "raw (not gzip) test images, truncated",
            TEST_IMAGES,
            TEST_IMAGES,
            || Some(idx_images(IDX3, 10000, 28, 28, 100)),
        ),
        case("--data is a file", "labels.idx", |c| {
            train(c, &c.write("labels.idx", b"not a directory"), &[])
        }),
        // --- model files ---
        model("model file truncated", "model.bpk", "model.bpk", |c| {
            let b = ae_model(c);
            Some(b[..b.len() / 2].to_vec())
        }),
        model(
            "model file of random bytes",
            "model.bpk",
            "model.bpk",
            |_| Some(noise_bytes(5000)),
        ),
        model("model file missing", "model.bpk", "model.bpk", |_| None),
        model(
            "weights of another architecture than spec.json",
            "architecture",
            "spec.json",
            |_| {
                let best = Command::new(env!("CARGO_BIN_EXE_latentlab"))
                    .args(["arch", "--preset", "best", "--json"])
                    .output()
                    .unwrap();
                Some(best.stdout)
            },
        ),
        model(
            "spec.json beside the model is not JSON",
            "spec.json",
            "spec.json",
            |_| Some(b"{\"name\": ".to_vec()),
        ),
        model("NaN weights", "NaN", "model.bpk", |c| {
            // Tensor data sits after the header: make the last kilobyte all-ones bits (NaN).
            let mut b = ae_model(c);
            let n = b.len();
            b[n - 1024..].fill(0xFF);
            Some(b)
        }),
        case(
            "a classifier where an autoencoder is wanted",
            "classifier",
            |c| eval(&c.fx.judge),
        ),
        case("a GAN where an autoencoder is wanted", "GAN", |c| {
            eval(&c.fx.gan)
        }),
        case("an autoencoder where a GAN is wanted", "GAN", |c| {
            let out = format!("{}/digits.png", c.out());
            args(&[
                "generate",
                "--model",
                c.fx.ae.to_str().unwrap(),
                "--n",
                "4",
                "--out",
                &out,
            ])
        }),
        case("an autoencoder as the judge", "judge", |c| {
            let (ae, data, out) = (c.fx.ae.to_str().unwrap(), real_data(), c.out());
            args(&[
                "gan", "--kind", "gan", "--epochs", "1", "--limit", "128", "--quiet", "--data",
                &data, "--judge", ae, "--out", &out,
            ])
        }),
        case("a GAN to fine-tune as a classifier", "autoencoder", |c| {
            let (gan, data, out) = (c.fx.gan.to_str().unwrap(), real_data(), c.out());
            args(&[
                "finetune", "--model", gan, "--epochs", "1", "--limit", "300", "--quiet", "--data",
                &data, "--out", &out,
            ])
        }),
        case("an empty model directory", "model.bpk", |c| {
            std::fs::create_dir_all(c.dir.join("empty")).unwrap();
            eval(&c.dir.join("empty"))
        }),
        // --- PyTorch files (`import`) ---
        case("safetensors of random bytes", "w.safetensors", |c| {
            let w = c.write("w.safetensors", &noise_bytes(3000));
            import(c, &w, &[])
        }),
        case(".pt of random bytes", "w.pt", |c| {
            let w = c.write("w.pt", &noise_bytes(3000));
            let spec = c.fx.ae.join("spec.json");
            import(c, &w, &["--spec", spec.to_str().unwrap()])
        }),
        case("state dict without a spec", "--spec", |c| {
            // An exported file whose latentlab metadata is cut out: a bare state dict.
            let w = export(c, &c.fx.ae);
            let bytes = std::fs::read(&w).unwrap();
            let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            let mut json: serde_json::Value =
                serde_json::from_slice(&bytes[8..8 + header]).unwrap();
            json.as_object_mut().unwrap().remove("__metadata__");
            let new_header = json.to_string().into_bytes();
            let mut out = (new_header.len() as u64).to_le_bytes().to_vec();
            out.extend(new_header);
            out.extend(&bytes[8 + header..]);
            let w = c.write("bare.safetensors", &out);
            import(c, &w, &[])
        }),
        case(
            "state dict of another architecture than --spec",
            "encoder.conv.0.weight",
            |c| {
                let w = export(c, &c.fx.ae);
                let best = Command::new(env!("CARGO_BIN_EXE_latentlab"))
                    .args(["arch", "--preset", "best", "--json"])
                    .output()
                    .unwrap();
                let spec = c.write("best.json", &best.stdout);
                import(c, &w, &["--spec", &spec])
            },
        ),
        // --- specs ---
        spec(
            "negative channel count",
            "channels",
            "/arch/conv/0/channels",
            json!(-3),
        ),
        spec(
            "zero channels",
            "channels",
            "/arch/conv/0/channels",
            json!(0),
        ),
        spec(
            "a million channels",
            "parameters",
            "/arch/conv/0/channels",
            json!(1_000_000),
        ),
        spec(
            "a kernel larger than its input",
            "kernel",
            "/arch/conv/0/kernel",
            json!(40),
        ),
        spec("an unknown field", "lattent", "/arch/lattent", json!(8)),
        spec("a negative learning rate", "lr", "/train/lr", json!(-0.001)),
        spec(
            "a learning rate of \"NaN\" (a string)",
            "lr",
            "/train/lr",
            json!("NaN"),
        ),
        spec("batch size 0", "batch", "/train/batch_size", json!(0)),
        spec(
            "a batch larger than the data",
            "batch",
            "/train/batch_size",
            json!(4096),
        ),
        spec(
            "latent of the wrong JSON type",
            "latent",
            "/arch/latent",
            json!("eight"),
        ),
        spec("latent 0", "latent", "/arch/latent", json!(0)),
        spec(
            "dropout 1.5",
            "dropout",
            "/arch/encoder_dropout",
            json!(1.5),
        ),
        spec("conv layers not a list", "conv", "/arch/conv", json!(3)),
        case("a spec file of binary bytes", "garbage.json", |c| {
            let s = c.write("garbage.json", &[0xff, 0xfe, 0, 1, 2, 3]);
            train(c, &real_data(), &["--spec", &s])
        }),
        case("a spec file that does not exist", "nowhere.json", |c| {
            train(c, &real_data(), &["--spec", &c.path("nowhere.json")])
        }),
        gan_spec(
            "a GAN spec of an unknown kind",
            "dcgan",
            "/kind",
            json!("dcgan"),
        ),
        gan_spec("a GAN spec without noise", "noise", "/noise", json!(0)),
        case(
            "an autoencoder spec given as a GAN spec",
            "not a valid GAN spec",
            |c| gan(c, &c.spec_with(&c.fx.ae, "s.json", |_| {})),
        ),
        // --- command-line options ---
        options("noise amount not a number", "urn", &["--noise", "urn:abc"]),
        options(
            "an unknown noise kind",
            "sparkle",
            &["--noise", "sparkle:0.3"],
        ),
        options(
            "a noise amount out of range",
            "snp",
            &["--noise", "snp:1.7"],
        ),
        options("prune every=x", "every", &["--prune", "every=x"]),
        options("an unknown prune key", "often", &["--prune", "often=3"]),
        case("--out is a file", "a-file", |c| {
            let f = c.write("a-file", b"keep me");
            train(c, &real_data(), &["--out", &f])
        }),
        options(
            "--out cannot be created",
            "/proc",
            &["--out", "/proc/latentlab-out"],
        ),
        options(
            "--max-minutes negative",
            "max-minutes",
            &["--max-minutes=-1"],
        ),
        options("--lr NaN", "lr", &["--lr", "NaN"]),
        options("--epochs 0", "epochs", &["--epochs", "0"]),
        options("--limit 0", "limit", &["--limit", "0"]),
        case("generate digit 12", "class", |c| {
            let (gan, out) = (
                c.fx.gan.to_str().unwrap(),
                format!("{}/digits.idx", c.out()),
            );
            args(&[
                "generate", "--model", gan, "--class", "12", "--n", "4", "--out", &out,
            ])
        }),
        case("generate zero digits", "--n", |c| {
            let (gan, out) = (
                c.fx.gan.to_str().unwrap(),
                format!("{}/digits.idx", c.out()),
            );
            args(&["generate", "--model", gan, "--n", "0", "--out", &out])
        }),
        case("cv with one fold", "folds", |c| {
            let (data, out) = (real_data(), c.out());
            args(&[
                "cv", "--folds", "1", "--epochs", "1", "--limit", "300", "--quiet", "--data",
                &data, "--out", &out,
            ])
        }),
    ]
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(snapshot(&p));
        } else {
            files.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
    files
}

#[test]
fn every_bad_input_is_a_clear_error_and_loses_nothing() {
    let fx = Fixture::new();
    let cases = cases();
    assert!(cases.len() >= 40, "the corpus holds {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let dir = TempDir::new();
        let ctx = Ctx {
            dir: dir.path(),
            fx: &fx,
        };
        // The previous run's output: a model directory and a file of the user's.
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        for f in ["model.bpk", "spec.json", "metrics.json"] {
            std::fs::copy(fx.ae.join(f), out.join(f)).unwrap();
        }
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let before = snapshot(&out);

        let argv = (case.make)(&ctx);
        let problem = match run(&argv) {
            None => Some("hung".to_string()),
            Some((code, text)) => {
                if std::env::var_os("LATENTLAB_SHOW_CORPUS").is_some() {
                    eprintln!(
                        "{}: {}",
                        case.name,
                        text.trim().lines().next().unwrap_or("")
                    );
                }
                if code == Some(0) {
                    Some(format!("succeeded: {text}"))
                } else if code == Some(101) || text.contains("panicked") {
                    Some(format!("panicked: {text}"))
                } else if !text.contains(case.names) {
                    Some(format!(
                        "the message does not name {:?}: {text}",
                        case.names
                    ))
                } else if snapshot(&out) != before {
                    Some("the previous run's output changed".to_string())
                } else {
                    None
                }
            }
        };
        if let Some(p) = problem {
            failures.push(format!("{}: {p}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
