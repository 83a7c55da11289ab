"""PyTorch (CPU) twin of `latentlab bench`: the same autoencoder, loss, optimiser and batch size,
trained on MNIST for a fixed time; prints one JSON line like latentlab's.

Usage: python benches/pytorch_cpu.py --spec SPEC.json [--threads 2] [--seconds 10] [--data data/mnist]
SPEC.json is what `latentlab arch --preset P --json` prints, so both sides build the same net.
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
from torch import nn


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], "big")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, 28, 28)


ACT = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def shapes(arch):
    """Side lengths and output paddings, as latentlab's shape inference derives them."""
    side, out = 28, []
    for c in arch["conv"]:
        k, s, p = c["kernel"], c["stride"], c["padding"]
        o = (side + 2 * p - k) // s + 1
        out.append((side, o, side - ((o - 1) * s + k - 2 * p)))
        side = o
    return out


class Autoencoder(nn.Module):
    def __init__(self, arch):
        super().__init__()
        act = ACT[arch.get("activation", "relu")]
        geo = shapes(arch)
        chans = [1] + [c["channels"] for c in arch["conv"]]
        enc = []
        for i, c in enumerate(arch["conv"]):
            enc += [nn.Conv2d(chans[i], chans[i + 1], c["kernel"], c["stride"], c["padding"]), act()]
        side = geo[-1][1]
        flat = chans[-1] * side * side
        widths = [flat] + arch["hidden"] + [arch["latent"]]
        n = len(widths) - 1
        enc.append(nn.Flatten())
        for i in range(n):
            if i + 1 < n and arch.get("encoder_dropout", 0) > 0:
                enc.append(nn.Dropout(arch["encoder_dropout"]))
            enc.append(nn.Linear(widths[i], widths[i + 1]))
            if i + 1 < n:
                enc.append(act())
        dec = []
        for i in range(n):
            j = n - i
            if i > 0 and arch.get("decoder_dropout", 0) > 0:
                dec.append(nn.Dropout(arch["decoder_dropout"]))
            dec += [nn.Linear(widths[j], widths[j - 1]), act()]
        dec.append(nn.Unflatten(1, (chans[-1], side, side)))
        for i in reversed(range(len(arch["conv"]))):
            c = arch["conv"][i]
            dec.append(nn.ConvTranspose2d(chans[i + 1], chans[i], c["kernel"], c["stride"], c["padding"], geo[i][2]))
            if i > 0:
                dec.append(act())
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def forward(self, x):  # logits, as latentlab's forward_logits
        return self.decoder(self.encoder(x))


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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    spec = json.load(open(args.spec))
    train = spec["train"]
    images = torch.from_numpy(read_idx_images(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    test = torch.from_numpy(read_idx_images(f"{args.data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    model = Autoencoder(spec["arch"])
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])
    if train["loss"] == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        mse = nn.MSELoss()
        loss_fn = lambda z, x: mse(torch.sigmoid(z), x)
    bs = train["batch_size"]

    def batches():
        while True:
            perm = torch.randperm(len(images))
            for i in range(0, len(perm), bs):
                yield images[perm[i:i + bs]]

    model.train()

    def step(x):
        opt.zero_grad()
        loss = loss_fn(model(x), x)
        loss.backward()
        opt.step()
        return loss

    train_rate = timed(step, batches(), args.seconds)

    model.eval()
    n, t0 = 0, time.perf_counter()
    with torch.no_grad():
        while time.perf_counter() - t0 < args.seconds:
            for i in range(0, len(test), 1000):
                torch.sigmoid(model(test[i:i + 1000])).numpy()
                n += len(test[i:i + 1000])
                if time.perf_counter() - t0 >= args.seconds:
                    break
    infer_rate = n / (time.perf_counter() - t0)
    print(json.dumps({
        "preset": spec["name"], "backend": f"pytorch-cpu-{torch.__version__}",
        "train_images_per_s": round(train_rate), "infer_images_per_s": round(infer_rate),
        "batch_size": bs, "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
