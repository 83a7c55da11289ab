//! The `latentlab` binary end to end: train, eval, arch, bench, and its errors.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{TempDir, data_dir};

fn latentlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(args)
        .output()
        .expect("runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `train` for one epoch on 1,200 images, quietly, with `source` (a spec, or --from) and extras.
fn quick_train(source: &[&str], data: &str, out: &Path) -> Output {
    let mut args = vec!["train"];
    args.extend_from_slice(source);
    let out = out.to_str().unwrap();
    args.extend_from_slice(&[
        "--epochs", "1", "--limit", "1200", "--quiet", "--data", data, "--out", out,
    ]);
    latentlab(&args)
}

fn train_small(out: &Path, backend: &str) -> serde_json::Value {
    let data = data_dir();
    let result = latentlab(&[
        "train",
        "--preset",
        "basic",
        "--epochs",
        "1",
        "--limit",
        "1200",
        "--quiet",
        "--backend",
        backend,
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text(&result));
    for file in [
        "model.bpk",
        "spec.json",
        "metrics.json",
        "reconstructions.png",
    ] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let png = std::fs::read(out.join("reconstructions.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap()
}

#[test]
fn train_then_eval_agree() {
    let dir = TempDir::new();
    let metrics = train_small(dir.path(), "flex");
    assert_eq!(metrics["backend"], "flex");
    assert_eq!(metrics["train_images"], 960);
    assert_eq!(metrics["test_images"], 10000);
    let test_loss = metrics["test_loss"].as_f64().unwrap();
    assert!(test_loss > 0.0 && test_loss < 0.25, "{test_loss}");
    assert!(metrics["train_images_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(metrics["epochs"].as_array().unwrap().len(), 1);
    let sparsity = metrics["sparsity"].as_array().unwrap();
    assert_eq!(sparsity.len(), 12, "every conv and linear layer of basic");
    assert!(
        sparsity.iter().all(|l| l["zero_fraction"] == 0.0),
        "no pruning asked"
    );

    let data = data_dir();
    let out = latentlab(&[
        "eval",
        "--model",
        dir.path().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let eval: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        (eval["test_loss"].as_f64().unwrap() - test_loss).abs() < 1e-6,
        "{eval} vs {test_loss}"
    );
    assert_eq!(eval["sparsity"], 0.0, "no pruning asked");
}

/// A denoising run starts from a trained model and records its noise; `eval --noise` measures
/// the loss on corrupted test inputs, which is higher than on clean ones.
#[test]
fn denoising_fine_tune_from_a_trained_model() {
    let data = data_dir();
    let data = data.to_str().unwrap();
    // A tanh net: after one short epoch a ReLU basic net still outputs the mean digit whatever
    // the input, and noise would not change its loss.
    let base = TempDir::new();
    let arch = latentlab(&["arch", "--preset", "basic", "--json"]);
    let mut spec: serde_json::Value = serde_json::from_slice(&arch.stdout).unwrap();
    spec["arch"]["activation"] = "tanh".into();
    let spec_file = base.path().join("tanh.json");
    std::fs::write(&spec_file, spec.to_string()).unwrap();
    let model_dir = base.path().join("model");
    let first = quick_train(&["--spec", spec_file.to_str().unwrap()], data, &model_dir);
    assert!(first.status.success(), "{}", text(&first));
    let tuned = TempDir::new();
    let from = ["--from", model_dir.to_str().unwrap()];
    let denoise = ["--noise", "urn:0.7,snp:0.1", "--iterations", "2"];
    let result = quick_train(&[&from[..], &denoise[..]].concat(), data, tuned.path());
    assert!(result.status.success(), "{}", text(&result));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.path().join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["noise"], "urn:0.7,snp:0.1");
    assert_eq!(metrics["iterations"], 2);
    assert_eq!(metrics["spec"], "basic");
    let clean = metrics["test_loss"].as_f64().unwrap();
    let noisy = metrics["test_loss_noisy"].as_f64().unwrap();
    assert!(noisy > clean, "noisy {noisy} vs clean {clean}");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.path().join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec["train"]["iterations"], 2);

    let eval = |noise: &str| {
        let out = latentlab(&[
            "eval",
            "--model",
            tuned.path().to_str().unwrap(),
            "--noise",
            noise,
            "--data",
            data,
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["test_loss"].as_f64().unwrap()
    };
    assert!((eval("none") - clean).abs() < 1e-6);
    assert!(
        (eval("urn:0.7,snp:0.1") - noisy).abs() < 1e-6,
        "seeded: the same noise"
    );
    let bad = latentlab(&[
        "eval",
        "--model",
        tuned.path().to_str().unwrap(),
        "--noise",
        "fog:3",
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("fog"), "{}", text(&bad));
}

/// `cv` trains one net per fold, summarises their validation losses and keeps the best.
#[test]
fn cross_validation_reports_every_fold_and_keeps_the_best() {
    let dir = TempDir::new();
    let data = data_dir();
    let out = latentlab(&[
        "cv",
        "--preset",
        "basic",
        "--folds",
        "3",
        "--epochs",
        "1",
        "--limit",
        "900",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let folds = summary["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3);
    assert!(
        folds
            .iter()
            .all(|f| f["train_images"] == 600 && f["val_images"] == 300)
    );
    let losses: Vec<f64> = folds
        .iter()
        .map(|f| f["val_loss"].as_f64().unwrap())
        .collect();
    let best = summary["best_fold"].as_u64().unwrap() as usize;
    let min = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[best - 1], min);
    let mean = losses.iter().sum::<f64>() / 3.0;
    assert!((summary["mean_val_loss"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert!(dir.path().join("model.bpk").is_file());

    let bad = latentlab(&["cv", "--folds", "1", "--data", data.to_str().unwrap()]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("fold"), "{}", text(&bad));
}

/// wgpu must work here too: with Mesa's software Vulkan on a machine without a GPU.
#[test]
fn train_on_wgpu() {
    let dir = TempDir::new();
    let metrics = train_small(dir.path(), "wgpu");
    assert_eq!(metrics["backend"], "wgpu");
    assert!(metrics["test_loss"].as_f64().unwrap() < 0.25);
}

#[test]
fn eval_rejects_weights_that_do_not_fit_the_spec() {
    let dir = TempDir::new();
    train_small(dir.path(), "flex");
    let best = latentlab(&["arch", "--preset", "best", "--json"]);
    std::fs::write(dir.path().join("spec.json"), &best.stdout).unwrap();
    let out = latentlab(&[
        "eval",
        "--model",
        dir.path().to_str().unwrap(),
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("different architecture"),
        "{}",
        text(&out)
    );
}

#[test]
fn arch_prints_shapes_and_counts() {
    let out = latentlab(&["arch", "--preset", "best"]);
    let t = text(&out);
    assert!(out.status.success());
    for line in [
        "6x29x29",
        "17x10x10",
        "flatten: 17x10x10 -> 1700",
        "linear: 1700 -> 57",
        "total 200654",
    ] {
        assert!(t.contains(line), "{line} in\n{t}");
    }
}

#[test]
fn bench_prints_one_json_line() {
    let out = latentlab(&[
        "bench",
        "--preset",
        "basic",
        "--seconds",
        "0.5",
        "--data",
        data_dir().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["preset"], "basic");
    assert_eq!(line["backend"], "flex");
    assert!(line["train_images_per_s"].as_f64().unwrap() > 0.0);
    assert!(line["infer_images_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_data_and_bad_specs_are_clear_errors() {
    let dir = TempDir::new();
    // A directory whose training images are truncated.
    let src = data_dir();
    for name in [
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let images = std::fs::read(src.join("train-images-idx3-ubyte.gz")).unwrap();
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte.gz"),
        &images[..images.len() / 3],
    )
    .unwrap();
    let out = latentlab(&[
        "train",
        "--epochs",
        "1",
        "--data",
        dir.path().to_str().unwrap(),
        "--out",
        "/nonexistent",
    ]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("train-images-idx3-ubyte.gz") && t.contains("gzip"),
        "{t}"
    );
    assert!(!t.contains("panicked"), "{t}");

    let empty = TempDir::new();
    let out = latentlab(&["train", "--data", empty.path().to_str().unwrap()]);
    assert!(text(&out).contains("setup-data.sh"), "{}", text(&out));

    let spec = dir.path().join("spec.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&latentlab(&["arch", "--json"]).stdout).unwrap();
    json["arch"]["conv"][2]["kernel"] = 9.into();
    json["arch"]["conv"][2]["padding"] = 0.into();
    std::fs::write(&spec, json.to_string()).unwrap();
    let out = latentlab(&["arch", "--spec", spec.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("conv layer 3") && text(&out).contains("does not fit"),
        "{}",
        text(&out)
    );
}

#[test]
fn cv_prunes_with_the_options_given() {
    let dir = TempDir::new();
    let data = data_dir();
    let out = latentlab(&[
        "cv",
        "--preset",
        "basic",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--limit",
        "600",
        "--prune",
        "every=1,reading=target",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("spec.json")).unwrap())
            .unwrap();
    assert_eq!(spec["train"]["pruning"]["reading"], "target");
    assert_eq!(spec["train"]["pruning"]["every"], 1);
    // The kept model is pruned: eval reports its zeros (basic's layers are mostly linear, at
    // 39.8% and 21.4%).
    let eval = latentlab(&[
        "eval",
        "--model",
        dir.path().to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let sparsity = eval["sparsity"].as_f64().unwrap();
    assert!(sparsity > 0.2 && sparsity < 0.4, "{eval}");
    assert_eq!(eval["sparsity_per_layer"].as_array().unwrap().len(), 12);
    let bad = latentlab(&[
        "cv",
        "--prune",
        "scope=net",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("layer or group"), "{}", text(&bad));
}

/// An autoencoder, a classifier fine-tuned from it, and both latent views: the CLI's path
/// through the study's section 2.4 on a small scale.
#[test]
fn finetune_table2_and_latent_views() {
    let dir = TempDir::new();
    let data = data_dir();
    let data = data.to_str().unwrap();
    let ae = dir.path().join("ae");
    assert!(
        quick_train(&["--preset", "best"], data, &ae)
            .status
            .success()
    );

    let clf = dir.path().join("clf");
    let out = latentlab(&[
        "finetune",
        "--model",
        ae.to_str().unwrap(),
        "--unfreeze",
        "all",
        "--folds",
        "2",
        "--epochs",
        "3",
        "--limit",
        "3000",
        "--augment",
        "rot:5",
        "--quiet",
        "--data",
        data,
        "--out",
        clf.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accuracy = summary["mean_test_accuracy"].as_f64().unwrap();
    // Some 20 steps from an encoder trained one epoch on 1,200 images: well above chance (0.1).
    assert!(accuracy > 0.2 && accuracy <= 1.0, "{summary}");
    for file in ["model.bpk", "spec.json", "metrics.json", "confusion.png"] {
        assert!(clf.join(file).is_file(), "{file}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clf.join("metrics.json")).unwrap()).unwrap();
    let counts = metrics["confusion"]["counts"].as_array().unwrap();
    let total: u64 = counts
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 10_000, "every test image in the confusion matrix");

    // Fine-tuning a classifier, or an unknown depth: clear errors.
    let again = latentlab(&["finetune", "--model", clf.to_str().unwrap(), "--data", data]);
    assert!(
        text(&again).contains("already a classifier"),
        "{}",
        text(&again)
    );
    let depth = latentlab(&[
        "finetune",
        "--model",
        ae.to_str().unwrap(),
        "--unfreeze",
        "deep",
    ]);
    assert!(
        text(&depth).contains("head, latent, hidden, conv, all"),
        "{}",
        text(&depth)
    );

    let table = dir.path().join("table2");
    let out = latentlab(&[
        "table2",
        "--model",
        ae.to_str().unwrap(),
        "--depths",
        "head,conv",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--limit",
        "600",
        "--quiet",
        "--data",
        data,
        "--out",
        table.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let md = std::fs::read_to_string(table.join("table2.md")).unwrap();
    assert!(md.contains("(0.9126)") && md.contains("(0.9874)"), "{md}");
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(table.join("table2.json")).unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert!(table.join("conv/model.bpk").is_file());

    // Latent views of both models; a slice of the autoencoder also decodes a grid.
    for (model, method, extra) in [
        (&ae, "tsne", vec![]),
        (&clf, "pca", vec![]),
        (&ae, "slice", vec!["--dims", "2,4"]),
    ] {
        let mut args = vec![
            "latent",
            "--model",
            model.to_str().unwrap(),
            "--method",
            method,
            "--points",
            "300",
            "--quiet",
            "--data",
            data,
        ];
        args.extend(extra);
        let out = latentlab(&args);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["points"], 300);
        assert!(Path::new(v["png"].as_str().unwrap()).is_file());
    }
    assert!(ae.join("latent-slice-2-4-decoded.png").is_file());
    let bad = latentlab(&[
        "latent",
        "--model",
        ae.to_str().unwrap(),
        "--method",
        "slice",
        "--dims",
        "2,9",
        "--data",
        data,
    ]);
    assert!(
        text(&bad).contains("two different dimensions below 6"),
        "{}",
        text(&bad)
    );
}

/// Runs `latentlab` and asserts it succeeded.
fn ok(args: &[&str]) -> Output {
    let out = latentlab(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

#[test]
fn judge_gan_and_generate_end_to_end() {
    let dir = TempDir::new();
    let data = data_dir();
    let data = data.to_str().unwrap();
    let judge = dir.path().join("judge");
    let judge = judge.to_str().unwrap();
    let out = ok(&[
        "judge", "--epochs", "2", "--limit", "3000", "--quiet", "--data", data, "--out", judge,
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 0.5,
        "{summary}"
    );

    // A conditional GAN, judged after its epoch and at the end.
    let acgan = dir.path().join("acgan");
    let acgan_dir = acgan.to_str().unwrap();
    ok(&[
        "gan",
        "--kind",
        "acgan",
        "--epochs",
        "1",
        "--limit",
        "1200",
        "--quiet",
        "--data",
        data,
        "--out",
        acgan_dir,
        "--judge",
        judge,
        "--judge-n",
        "100",
    ]);
    for file in [
        "model.bpk",
        "spec.json",
        "metrics.json",
        "samples.png",
        "samples-epoch-001.png",
    ] {
        assert!(acgan.join(file).is_file(), "{file} written");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(acgan.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["quality"].as_array().unwrap().len(), 1);
    assert_eq!(
        metrics["test_quality"]["per_class"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    assert_eq!(metrics["epochs"][0]["losses"][0]["name"], "d");

    // Mixed digits: an IDX image file and its labels, read back by our own parser.
    let idx = dir.path().join("digits.idx");
    ok(&[
        "generate",
        "--model",
        acgan_dir,
        "--n",
        "25",
        "--out",
        idx.to_str().unwrap(),
    ]);
    let images = std::fs::read(&idx).unwrap();
    assert_eq!(&images[..4], &[0, 0, 8, 3], "magic 2051");
    let pixels = latentlab::data::idx::parse_images("digits.idx", &images).unwrap();
    assert_eq!(pixels.len(), 25 * 784);
    assert!(pixels.iter().any(|&p| p > 0), "not blank");
    let labels = std::fs::read(dir.path().join("digits.idx.labels")).unwrap();
    let labels = latentlab::data::idx::parse_labels("digits.idx.labels", &labels).unwrap();
    let want: Vec<u8> = (0..25).map(|i| (i % 10) as u8).collect();
    assert_eq!(labels, want);

    // One chosen digit: no label file; a PNG grid.
    let threes = dir.path().join("threes.idx");
    ok(&[
        "generate",
        "--model",
        acgan_dir,
        "--class",
        "3",
        "--n",
        "5",
        "--out",
        threes.to_str().unwrap(),
    ]);
    assert!(!dir.path().join("threes.idx.labels").exists());
    let grid = dir.path().join("grid.png");
    ok(&[
        "generate",
        "--model",
        acgan_dir,
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert_eq!(&std::fs::read(&grid).unwrap()[1..4], b"PNG");

    // Errors: a digit out of range, a class for an unconditional GAN, a model of another kind.
    let bad = latentlab(&[
        "generate", "--model", acgan_dir, "--class", "12", "--out", "x.idx",
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("0 to 9"),
        "{}",
        text(&bad)
    );
    let gan = dir.path().join("gan");
    ok(&[
        "gan",
        "--kind",
        "gan",
        "--epochs",
        "1",
        "--limit",
        "600",
        "--quiet",
        "--data",
        data,
        "--out",
        gan.to_str().unwrap(),
        "--judge",
        judge,
        "--judge-n",
        "50",
    ]);
    let bad = latentlab(&[
        "generate",
        "--model",
        gan.to_str().unwrap(),
        "--class",
        "1",
        "--out",
        "x.idx",
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("no chosen class"),
        "{}",
        text(&bad)
    );
    // The unconditional preset keeps each digit the best of 8 candidates; `--rank 1` draws the
    // generator alone from the same seed, so the files differ.
    let draw = |rank: Option<&str>, name: &str| {
        let path = dir.path().join(name);
        let mut args = vec![
            "generate",
            "--model",
            gan.to_str().unwrap(),
            "--n",
            "6",
            "--out",
            path.to_str().unwrap(),
        ];
        if let Some(rank) = rank {
            args.extend(["--rank", rank]);
        }
        ok(&args);
        std::fs::read(path).unwrap()
    };
    let (ranked, alone) = (draw(None, "ranked.idx"), draw(Some("1"), "alone.idx"));
    assert_eq!(ranked.len(), alone.len());
    assert_ne!(
        ranked, alone,
        "best of 8 and the generator alone draw other digits"
    );
    let bad = latentlab(&[
        "generate",
        "--model",
        gan.to_str().unwrap(),
        "--rank",
        "0",
        "--out",
        "x.idx",
    ]);
    assert!(
        !bad.status.success() && text(&bad).contains("rank"),
        "{}",
        text(&bad)
    );
    let bad = latentlab(&["generate", "--model", judge, "--out", "x.idx"]);
    assert!(
        !bad.status.success() && text(&bad).contains("not a GAN"),
        "{}",
        text(&bad)
    );
    assert!(
        !std::path::Path::new("x.idx").exists(),
        "nothing written on errors"
    );
    let bad = latentlab(&["gan", "--kind", "wgan-lp", "--data", data]);
    assert!(
        !bad.status.success() && text(&bad).contains("one of gan, wgan, wgan-sn, wgan-gp"),
        "{}",
        text(&bad)
    );
}
