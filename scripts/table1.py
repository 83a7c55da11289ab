#!/usr/bin/env python3
"""The study's Table 1 with our numbers beside it: denoising fine-tunes of a trained model.

    python3 scripts/table1.py --model runs/best45 [--epochs 3|study] [--jobs N] [--out runs/table1]

Starting from --model, fine-tunes one copy per training noise (none, SNP(0.1), URN(0.7),
URN(0.7)+SNP(0.1), URN(2)+SNP(0.1)) with `latentlab train --from --noise`, evaluates each on
clean, SNP(0.1) and URN(0.7) test inputs with `latentlab eval --noise` (clean targets), and
writes table1.md and table1.json into --out (rewritten after every row, so a long run that is
stopped keeps the rows it finished). `--epochs study` trains each row for the study's epoch count
(52-100); the model's own early stopping may end a row sooner. The "no additional training" row
evaluates the model as it is. Everything runs through the CLI, so the table is what a user gets.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

STUDY = {  # the study's Table 1: test BCE against no noise, SNP(0.1), URN(0.7); its epochs
    "none": ([0.1246, 0.2459, 0.3150], None),
    "snp:0.1": ([0.1239, 0.1249, 0.2920], 52),
    "urn:0.7": ([0.1233, 0.2539, 0.1239], 55),
    "urn:0.7,snp:0.1": ([0.1236, 0.1248, 0.1242], 60),
    "urn:2,snp:0.1": ([0.1407, 0.1404, 0.1403], 100),
}
TESTS = ["none", "snp:0.1", "urn:0.7"]
LABEL = {"none": "no noise", "snp:0.1": "SNP(0.1)", "urn:0.7": "URN(0.7)",
         "urn:0.7,snp:0.1": "URN(0.7)+SNP(0.1)", "urn:2,snp:0.1": "URN(2)+SNP(0.1)"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="trained model directory (latentlab train --out)")
    parser.add_argument("--epochs", default="3", help="fine-tuning epochs per noise, or 'study' for the study's per row")
    parser.add_argument("--out", default="runs/table1")
    parser.add_argument("--jobs", type=int, default=1, help="rows fine-tuned at once")
    parser.add_argument("--data", default="data/mnist")
    args = parser.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/latentlab/target"))
    binary = os.path.join(target, "release", "latentlab")
    os.makedirs(args.out, exist_ok=True)

    def run(cmd):
        result = subprocess.run([binary, *cmd], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"latentlab {' '.join(cmd)} failed:\n{result.stderr}")
        return result.stdout

    def row(noise):
        study, study_epochs = STUDY[noise]
        started = time.time()
        model = args.model
        epochs = 0
        if noise != "none":
            epochs = study_epochs if args.epochs == "study" else int(args.epochs)
            model = os.path.join(args.out, noise.replace(":", "").replace(",", "+"))
            run(["train", "--from", args.model, "--noise", noise, "--epochs", str(epochs),
                 "--data", args.data, "--out", model, "--quiet"])
        ours = [json.loads(run(["eval", "--model", model, "--noise", t, "--data", args.data]))["test_loss"]
                for t in TESTS]
        print(f"{LABEL[noise]:<20} " + "  ".join(f"{o:.4f} (study {s:.4f})" for o, s in zip(ours, study)), flush=True)
        return {"trained_against": noise, "epochs": epochs, "epochs_run": epochs_run(model, noise),
                "test_loss": dict(zip(TESTS, ours)), "study_test_loss": dict(zip(TESTS, study)),
                "study_epochs": study_epochs, "seconds": time.time() - started}

    # Rows are independent fine-tunes: --jobs runs that many at once (each a process; give each
    # its threads with RAYON_NUM_THREADS). The table keeps the study's row order.
    done = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed({pool.submit(row, noise) for noise in STUDY}):
            r = future.result()
            done[r["trained_against"]] = r
            write(args, [done[n] for n in STUDY if n in done])


def epochs_run(model, noise):
    """How many epochs the fine-tune ran and which it kept (early stopping), from its metrics.json."""
    if noise == "none":
        return None
    with open(os.path.join(model, "metrics.json")) as f:
        metrics = json.load(f)
    return {"ran": len(metrics.get("epochs", [])), "kept": metrics.get("model_epoch"), "stop": metrics.get("stop")}


def write(args, rows):
    with open(os.path.join(args.out, "table1.json"), "w") as f:
        json.dump({"model": args.model, "rows": rows}, f, indent=2)
    lines = ["| trained against | epochs (study) | no noise | SNP(0.1) | URN(0.7) |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        epochs = "—" if r["trained_against"] == "none" else f"{r['epochs']} ({r['study_epochs']})"
        if r["epochs_run"] and r["epochs_run"]["ran"] < r["epochs"]:
            epochs += f", stopped at {r['epochs_run']['ran']}"
        cells = [f"{r['test_loss'][t]:.4f} ({r['study_test_loss'][t]:.4f})" for t in TESTS]
        lines.append(f"| {LABEL[r['trained_against']] if r['trained_against'] != 'none' else 'no additional training'} | {epochs} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n\nTest BCE, ours (the study's in brackets).\n"
    with open(os.path.join(args.out, "table1.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
