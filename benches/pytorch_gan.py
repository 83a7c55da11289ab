"""PyTorch (CPU) twin of `latentlab bench --gan KIND`: the same generator and discriminator, losses,
optimisers and batch size, trained on MNIST for a fixed time; prints one JSON line like
latentlab's (training images/s: real images per second, each a discriminator and a generator
step as the update periods say).

Usage: python benches/pytorch_gan.py --spec GAN.json [--threads 2] [--seconds 10] [--data data/mnist]
GAN.json is a GAN spec as `latentlab gan` writes it (spec.json), or `latentlab bench --gan KIND
--print-spec` prints it, so both sides build the same nets.
"""
import argparse
import json

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from pytorch_cpu import read_idx_images, timed  # also puts python/ on the path
from latentlab_torch import Gan  # noqa: E402


def read_idx_labels(path):
    import gzip
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def d_loss(kind, real_label, real, fake, labels, classes, classify_fakes=True):
    if kind == "gan":
        return bce(real, real_label) + bce(fake, 0.0)
    if kind in ("wgan", "wgan-sn"):
        return fake.mean() - real.mean()
    if kind == "acgan-study":
        return F.cross_entropy(torch.cat([real, fake]), torch.cat([labels, torch.full_like(classes, 10)]))
    digits = (F.cross_entropy(torch.cat([real[:, 1:], fake[:, 1:]]), torch.cat([labels, classes]))
              if classify_fakes else F.cross_entropy(real[:, 1:], labels))
    return bce(real[:, :1], real_label) + bce(fake[:, :1], 0.0) + digits


def g_loss(kind, fake, classes, class_weight=1.0):
    if kind == "gan":
        return bce(fake, 1.0)
    if kind in ("wgan", "wgan-sn"):
        return -fake.mean()
    if kind == "acgan-study":
        return F.cross_entropy(fake, classes)
    return bce(fake[:, :1], 1.0) + class_weight * F.cross_entropy(fake[:, 1:], classes)


def optimiser(params, spec, lr):
    o = spec["train"]["optimizer"]
    if o["kind"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(o["beta1"], o["beta2"]))
    return torch.optim.RMSprop(params, lr=lr, momentum=0.0)


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
    kind, t = spec["kind"], spec["train"]
    images = torch.from_numpy(read_idx_images(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    labels = torch.from_numpy(read_idx_labels(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    gan = Gan(spec)
    gen, disc = gan.generator, gan.discriminator
    opt_g, opt_d = optimiser(gen.parameters(), spec, t["lr_g"]), optimiser(disc.parameters(), spec, t["lr_d"])
    conditional = kind in ("acgan", "acgan-study")
    bs, real_label, clip = t["batch_size"], t.get("real_label", 1.0), t.get("clip")

    def batches():
        while True:
            perm = torch.randperm(len(images))
            for i in range(0, len(perm) - bs + 1, bs):
                yield images[perm[i:i + bs]], labels[perm[i:i + bs]]

    def sample(n):
        classes = torch.randint(0, 10, (n,)) if conditional else None
        return gen(torch.randn(n, spec["noise"]), classes), classes

    state = {"step": 0, "loss_d": None}

    def step(x, y):
        # One batch of fakes for both nets' steps, as latentlab's learner does.
        fake, classes = sample(len(x))
        if state["step"] % t["u_d"] == 0:
            out = disc(torch.cat([x, fake.detach()]))
            loss_d = d_loss(kind, real_label, out[:len(x)], out[len(x):], y, classes,
                            t.get("classify_fakes", True))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            if clip:
                for p in disc.parameters():
                    p.data.clamp_(-clip, clip)
            state["loss_d"] = loss_d
        if state["step"] % t["u_g"] == 0:
            for p in disc.parameters():
                p.requires_grad_(False)
            loss_g = g_loss(kind, disc(fake), classes, t.get("class_weight", 1.0))
            for p in disc.parameters():
                p.requires_grad_(True)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        state["step"] += 1
        return state["loss_d"]

    rate = timed(step, batches(), args.seconds)
    print(json.dumps({
        "preset": spec["name"], "backend": f"pytorch-cpu-{torch.__version__}",
        "train_images_per_s": round(rate), "batch_size": bs, "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
