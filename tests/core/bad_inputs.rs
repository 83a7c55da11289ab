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

    /// The autoencoder's spec as JSON, changed by `f`, written as `name`.
    fn spec_with(&self, name: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
        let text = std::fs::read_to_string(self.fx.ae.join("spec.json")).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        f(&mut json);
        self.write(name, json.to_string().as_bytes())
    }

    fn gan_spec_with(&self, name: &str, f: impl FnOnce(&mut serde_json::Value)) -> String {
        let text = std::fs::read_to_string(self.fx.gan.join("spec.json")).unwrap();
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

struct Case {
    name: &'static str,
    /// What the message must contain (the file or field at fault).
    names: &'static str,
    make: fn(&Ctx) -> Vec<String>,
}

fn real_data() -> String {
    data_dir().to_str().unwrap().to_string()
}

fn cases() -> Vec<Case> {
    vec![
        // --- IDX files ---
        Case {
            name: "training images cut to a third (gzip ends early)",
            names: IMAGES,
            make: |c| {
                let b = std::fs::read(data_dir().join(format!("{IMAGES}.gz"))).unwrap();
                let d = c.data_with(&format!("{IMAGES}.gz"), Some(b[..b.len() / 3].to_vec()));
                train(c, &d, &[])
            },
        },
        Case {
            name: "images with a wrong magic number",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 8, 9], 10, 28, 28, 10));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images of floats, not bytes (type 0x0D)",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 0x0D, 3], 10, 28, 28, 40));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images with two dimensions",
            names: IMAGES,
            make: |c| {
                let mut b = vec![0, 0, 8, 2];
                b.extend(10u32.to_be_bytes());
                b.extend(784u32.to_be_bytes());
                b.extend(vec![0u8; 7840]);
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(gz(&b))), &[])
            },
        },
        Case {
            name: "images of 28 x 27 pixels",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 8, 3], 60000, 28, 27, 60000));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images claiming 4 billion digits",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 8, 3], u32::MAX, 28, 28, 10));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images claiming 4 billion rows",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 8, 3], 10, u32::MAX, u32::MAX, 0));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images: a gzip header then garbage",
            names: IMAGES,
            make: |c| {
                let mut b = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
                b.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "images: an empty file",
            names: IMAGES,
            make: |c| {
                train(
                    c,
                    &c.data_with(&format!("{IMAGES}.gz"), Some(Vec::new())),
                    &[],
                )
            },
        },
        Case {
            name: "images: zero digits",
            names: IMAGES,
            make: |c| {
                let b = gz(&idx_images([0, 0, 8, 3], 0, 28, 28, 0));
                train(c, &c.data_with(&format!("{IMAGES}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "labels out of range (12)",
            names: LABELS,
            make: |c| {
                let mut labels = vec![3u8; 60000];
                labels[17] = 12;
                train(
                    c,
                    &c.data_with(&format!("{LABELS}.gz"), Some(gz(&idx_labels(&labels)))),
                    &[],
                )
            },
        },
        Case {
            name: "fewer labels than images",
            names: LABELS,
            make: |c| {
                let b = gz(&idx_labels(&[1u8; 100]));
                train(c, &c.data_with(&format!("{LABELS}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "labels cut short of their count",
            names: LABELS,
            make: |c| {
                let mut b = idx_labels(&[1u8; 60000]);
                b.truncate(5000);
                train(c, &c.data_with(&format!("{LABELS}.gz"), Some(gz(&b))), &[])
            },
        },
        Case {
            name: "an image file where the labels belong",
            names: LABELS,
            make: |c| {
                let b = std::fs::read(data_dir().join(format!("{TEST_IMAGES}.gz"))).unwrap();
                train(c, &c.data_with(&format!("{LABELS}.gz"), Some(b)), &[])
            },
        },
        Case {
            name: "labels missing",
            names: LABELS,
            make: |c| train(c, &c.data_with(&format!("{LABELS}.gz"), None), &[]),
        },
        Case {
            name: "raw (not gzip) test images, truncated",
            names: TEST_IMAGES,
            make: |c| {
                let b = idx_images([0, 0, 8, 3], 10000, 28, 28, 100);
                train(c, &c.data_with(TEST_IMAGES, Some(b)), &[])
            },
        },
        Case {
            name: "--data is a file",
            names: "labels.idx",
            make: |c| train(c, &c.write("labels.idx", b"not a directory"), &[]),
        },
        // --- model files ---
        Case {
            name: "model file truncated",
            names: "model.bpk",
            make: |c| {
                let b = std::fs::read(c.fx.ae.join("model.bpk")).unwrap();
                let m = c.model_with(&c.fx.ae, "model.bpk", Some(b[..b.len() / 2].to_vec()));
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "model file of random bytes",
            names: "model.bpk",
            make: |c| {
                let b: Vec<u8> = (0..5000u32)
                    .map(|i| ((i.wrapping_mul(2654435761u32)) >> 13) as u8)
                    .collect();
                let m = c.model_with(&c.fx.ae, "model.bpk", Some(b));
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "model file missing",
            names: "model.bpk",
            make: |c| {
                let m = c.model_with(&c.fx.ae, "model.bpk", None);
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "weights of another architecture than spec.json",
            names: "architecture",
            make: |c| {
                let best = std::process::Command::new(env!("CARGO_BIN_EXE_latentlab"))
                    .args(["arch", "--preset", "best", "--json"])
                    .output()
                    .unwrap()
                    .stdout;
                let m = c.model_with(&c.fx.ae, "spec.json", Some(best));
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "spec.json beside the model is not JSON",
            names: "spec.json",
            make: |c| {
                let m = c.model_with(&c.fx.ae, "spec.json", Some(b"{\"name\": ".to_vec()));
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "NaN weights",
            names: "NaN",
            make: |c| {
                let mut b = std::fs::read(c.fx.ae.join("model.bpk")).unwrap();
                // Tensor data sits after the header: make the last kilobyte all-ones bits (NaN).
                let n = b.len();
                b[n - 1024..].fill(0xFF);
                let m = c.model_with(&c.fx.ae, "model.bpk", Some(b));
                args(&["eval", "--model", &m, "--data", &real_data()])
            },
        },
        Case {
            name: "a classifier where an autoencoder is wanted",
            names: "classifier",
            make: |c| {
                args(&[
                    "eval",
                    "--model",
                    c.fx.judge.to_str().unwrap(),
                    "--data",
                    &real_data(),
                ])
            },
        },
        Case {
            name: "a GAN where an autoencoder is wanted",
            names: "GAN",
            make: |c| {
                args(&[
                    "eval",
                    "--model",
                    c.fx.gan.to_str().unwrap(),
                    "--data",
                    &real_data(),
                ])
            },
        },
        Case {
            name: "an autoencoder where a GAN is wanted",
            names: "GAN",
            make: |c| {
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
            },
        },
        Case {
            name: "an autoencoder as the judge",
            names: "judge",
            make: |c| {
                let ae = c.fx.ae.to_str().unwrap().to_string();
                let mut a = args(&[
                    "gan", "--kind", "gan", "--epochs", "1", "--limit", "128", "--quiet",
                ]);
                a.extend(args(&[
                    "--data",
                    &real_data(),
                    "--judge",
                    &ae,
                    "--out",
                    &c.out(),
                ]));
                a
            },
        },
        Case {
            name: "a GAN to fine-tune as a classifier",
            names: "autoencoder",
            make: |c| {
                let mut a = args(&[
                    "finetune",
                    "--model",
                    c.fx.gan.to_str().unwrap(),
                    "--epochs",
                    "1",
                ]);
                a.extend(args(&[
                    "--limit",
                    "300",
                    "--quiet",
                    "--data",
                    &real_data(),
                    "--out",
                    &c.out(),
                ]));
                a
            },
        },
        Case {
            name: "an empty model directory",
            names: "model.bpk",
            make: |c| {
                std::fs::create_dir_all(c.dir.join("empty")).unwrap();
                args(&["eval", "--model", &c.path("empty"), "--data", &real_data()])
            },
        },
        // --- specs ---
        Case {
            name: "negative channel count",
            names: "channels",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["conv"][0]["channels"] = (-3).into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "zero channels",
            names: "channels",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["conv"][0]["channels"] = 0.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a million channels",
            names: "parameters",
            make: |c| {
                let s = c.spec_with("s.json", |j| {
                    j["arch"]["conv"][0]["channels"] = 1_000_000.into()
                });
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a kernel larger than its input",
            names: "kernel",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["conv"][0]["kernel"] = 40.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "an unknown field",
            names: "lattent",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["lattent"] = 8.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a negative learning rate",
            names: "lr",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["train"]["lr"] = (-0.001).into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a learning rate of \"NaN\" (a string)",
            names: "lr",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["train"]["lr"] = "NaN".into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "batch size 0",
            names: "batch",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["train"]["batch_size"] = 0.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a batch larger than the data",
            names: "batch",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["train"]["batch_size"] = 4096.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "latent of the wrong JSON type",
            names: "latent",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["latent"] = "eight".into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "latent 0",
            names: "latent",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["latent"] = 0.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "dropout 1.5",
            names: "dropout",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["encoder_dropout"] = 1.5.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "conv layers not a list",
            names: "conv",
            make: |c| {
                let s = c.spec_with("s.json", |j| j["arch"]["conv"] = 3.into());
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a spec file of binary bytes",
            names: "garbage.json",
            make: |c| {
                let s = c.write("garbage.json", &[0xff, 0xfe, 0, 1, 2, 3]);
                train(c, &real_data(), &["--spec", &s])
            },
        },
        Case {
            name: "a spec file that does not exist",
            names: "nowhere.json",
            make: |c| train(c, &real_data(), &["--spec", &c.path("nowhere.json")]),
        },
        Case {
            name: "a GAN spec of an unknown kind",
            names: "dcgan",
            make: |c| {
                let s = c.gan_spec_with("g.json", |j| j["kind"] = "dcgan".into());
                args(&[
                    "gan",
                    "--spec",
                    &s,
                    "--epochs",
                    "1",
                    "--limit",
                    "128",
                    "--data",
                    &real_data(),
                    "--out",
                    &c.out(),
                ])
            },
        },
        Case {
            name: "a GAN spec without noise",
            names: "noise",
            make: |c| {
                let s = c.gan_spec_with("g.json", |j| j["noise"] = 0.into());
                args(&[
                    "gan",
                    "--spec",
                    &s,
                    "--epochs",
                    "1",
                    "--limit",
                    "128",
                    "--data",
                    &real_data(),
                    "--out",
                    &c.out(),
                ])
            },
        },
        Case {
            name: "an autoencoder spec given as a GAN spec",
            names: "not a valid GAN spec",
            make: |c| {
                let s = c.spec_with("s.json", |_| {});
                args(&[
                    "gan",
                    "--spec",
                    &s,
                    "--epochs",
                    "1",
                    "--limit",
                    "128",
                    "--data",
                    &real_data(),
                    "--out",
                    &c.out(),
                ])
            },
        },
        // --- command-line options ---
        Case {
            name: "noise amount not a number",
            names: "urn",
            make: |c| train(c, &real_data(), &["--noise", "urn:abc"]),
        },
        Case {
            name: "an unknown noise kind",
            names: "sparkle",
            make: |c| train(c, &real_data(), &["--noise", "sparkle:0.3"]),
        },
        Case {
            name: "a noise amount out of range",
            names: "snp",
            make: |c| train(c, &real_data(), &["--noise", "snp:1.7"]),
        },
        Case {
            name: "prune every=x",
            names: "every",
            make: |c| train(c, &real_data(), &["--prune", "every=x"]),
        },
        Case {
            name: "an unknown prune key",
            names: "often",
            make: |c| train(c, &real_data(), &["--prune", "often=3"]),
        },
        Case {
            name: "--out is a file",
            names: "a-file",
            make: |c| {
                let f = c.write("a-file", b"keep me");
                train(c, &real_data(), &["--out", &f])
            },
        },
        Case {
            name: "--out cannot be created",
            names: "/proc",
            make: |c| train(c, &real_data(), &["--out", "/proc/latentlab-out"]),
        },
        Case {
            name: "--max-minutes negative",
            names: "max-minutes",
            make: |c| train(c, &real_data(), &["--max-minutes=-1"]),
        },
        Case {
            name: "--lr NaN",
            names: "lr",
            make: |c| train(c, &real_data(), &["--lr", "NaN"]),
        },
        Case {
            name: "--epochs 0",
            names: "epochs",
            make: |c| train(c, &real_data(), &["--epochs", "0"]),
        },
        Case {
            name: "--limit 0",
            names: "limit",
            make: |c| train(c, &real_data(), &["--limit", "0"]),
        },
        Case {
            name: "generate digit 12",
            names: "class",
            make: |c| {
                let out = format!("{}/digits.idx", c.out());
                let gan = c.fx.gan.to_str().unwrap().to_string();
                args(&[
                    "generate", "--model", &gan, "--class", "12", "--n", "4", "--out", &out,
                ])
            },
        },
        Case {
            name: "generate zero digits",
            names: "--n",
            make: |c| {
                let out = format!("{}/digits.idx", c.out());
                let gan = c.fx.gan.to_str().unwrap().to_string();
                args(&["generate", "--model", &gan, "--n", "0", "--out", &out])
            },
        },
        Case {
            name: "cv with one fold",
            names: "folds",
            make: |c| {
                let mut a = args(&[
                    "cv", "--folds", "1", "--epochs", "1", "--limit", "300", "--quiet",
                ]);
                a.extend(args(&["--data", &real_data(), "--out", &c.out()]));
                a
            },
        },
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
