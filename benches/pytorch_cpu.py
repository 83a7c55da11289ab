"""PyTorch (CPU) twin of `latentlab bench`: the same autoencoder, loss, optimiser and batch size,
trained on MNIST for a fixed time; prints one JSON line like latentlab's.

Usage: python benches/pytorch_cpu.py --spec SPEC.json [--threads 2] [--seconds 10] [--data data/mnist]
                                      [--device cpu|cuda]   (cuda: benches/gpu.sh)
SPEC.json is what `latentlab arch --preset P --json` prints, so both sides build the same net.
"""
import argparse
import gzip
import json
import time

import os
import sys

import numpy as np
import torch
from torch import nn

# The nets themselves are latentlab's PyTorch modules (python/latentlab_torch.py), the ones
# `latentlab export` files load into.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from latentlab_torch import Autoencoder  # noqa: E402


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, 28, 28)


def timed(step, batches, seconds):
    """Images per second of `step` over `batches` (each yields (x, ...) or x) for `seconds`,
    with latentlab bench's cadence: the loss is read back every 5 steps, and the first read is
    the warm-up, after which the clock starts."""
    start, counted, n = None, 0, 0
    for batch in batches:
        loss = step(*batch) if isinstance(batch, tuple) else step(batch)
        n += 1
        size = len(batch[0] if isinstance(batch, tuple) else batch)
        if n % 5 == 0:
            loss.item()
            if start is None:
                start = time.perf_counter()
                continue
        if start is not None:
            counted += size
            if time.perf_counter() - start >= seconds:
                break
    return counted / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    spec = json.load(open(args.spec))
    train = spec["train"]
    dev = torch.device(args.device)
    images = torch.from_numpy(read_idx_images(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0).to(dev)
    test = torch.from_numpy(read_idx_images(f"{args.data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0).to(dev)
    model = Autoencoder(spec).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    if train["loss"] == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        mse = nn.MSELoss()
        loss_fn = lambda z, x: mse(torch.sigmoid(z), x)
    bs = train["batch_size"]

    def batches():
        while True:
            perm = torch.randperm(len(images), device=dev)
            for i in range(0, len(perm), bs):
                yield images[perm[i:i + bs]]

    model.train()

    def step(x):
        opt.zero_grad()
        loss = loss_fn(model.forward_logits(x), x)
        loss.backward()
        opt.step()
        return loss

    train_rate = timed(step, batches(), args.seconds)

    model.eval()
    n, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - t0 < args.seconds:
            for i in range(0, len(test), 1000):
                model(test[i:i + 1000]).cpu().numpy()
                n += len(test[i:i + 1000])
                if time.perf_counter() - t0 >= args.seconds:
                    break
    infer_rate = n / (time.perf_counter() - t0)
    print(json.dumps({
        "preset": spec["name"], "backend": f"pytorch-{dev.type}-{torch.__version__}",
        "train_images_per_s": round(train_rate), "infer_images_per_s": round(infer_rate),
        "batch_size": bs, "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
