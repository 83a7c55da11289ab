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

from pytorch_cpu import ACT, read_idx_images, shapes, timed


def read_idx_labels(path):
    import gzip
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


OUTPUTS = {"gan": 1, "wgan": 1, "wgan-sn": 1, "acgan": 11, "acgan-study": 11}


class Discriminator(nn.Module):
    """The encoder's layers with the kind's outputs as its latent layer."""

    def __init__(self, spec):
        super().__init__()
        arch, leak = spec["arch"], spec.get("leak", 0.0)
        act = (lambda: nn.LeakyReLU(leak)) if leak > 0 else ACT[arch.get("activation", "relu")]
        geo = shapes(arch)
        chans = [1] + [c["channels"] for c in arch["conv"]]
        layers = []
        for i, c in enumerate(arch["conv"]):
            layers += [nn.Conv2d(chans[i], chans[i + 1], c["kernel"], c["stride"], c["padding"]), act()]
        side = geo[-1][1]
        widths = [chans[-1] * side * side] + arch["hidden"] + [OUTPUTS[spec["kind"]]]
        layers.append(nn.Flatten())
        n = len(widths) - 1
        for i in range(n):
            if i + 1 < n and arch.get("encoder_dropout", 0) > 0:
                layers.append(nn.Dropout(arch["encoder_dropout"]))
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            if i + 1 < n:
                layers.append(act())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Generator(nn.Module):
    """The decoder's layers reading noise (and a class embedding), batch norm as the spec says."""

    def __init__(self, spec):
        super().__init__()
        arch, bn = spec["arch"], spec.get("batch_norm", False)
        act = ACT[arch.get("activation", "relu")]
        self.cond = spec["conditioning"]
        width = spec["noise"] + (spec.get("embedding", 0) if self.cond == "concat" else 0)
        if self.cond != "none":
            self.embed = nn.Embedding(10, spec["embedding"] if self.cond == "concat" else spec["noise"])
        geo = shapes(arch)
        chans = [1] + [c["channels"] for c in arch["conv"]]
        side = geo[-1][1]
        widths = [chans[-1] * side * side] + arch["hidden"] + [width]
        n = len(widths) - 1
        layers = []
        for i in range(n):
            j = n - i
            if i > 0 and arch.get("decoder_dropout", 0) > 0:
                layers.append(nn.Dropout(arch["decoder_dropout"]))
            layers.append(nn.Linear(widths[j], widths[j - 1]))
            if bn:
                layers.append(nn.BatchNorm1d(widths[j - 1]))
            layers.append(act())
        layers.append(nn.Unflatten(1, (chans[-1], side, side)))
        for i in reversed(range(len(arch["conv"]))):
            c = arch["conv"][i]
            layers.append(nn.ConvTranspose2d(chans[i + 1], chans[i], c["kernel"], c["stride"], c["padding"], geo[i][2]))
            if i > 0:
                if bn:
                    layers.append(nn.BatchNorm2d(chans[i]))
                layers.append(act())
        self.net = nn.Sequential(*layers)

    def forward(self, z, classes=None):
        if self.cond == "add":
            z = self.embed(classes) + z
        elif self.cond == "concat":
            z = torch.cat([self.embed(classes), z], 1)
        return torch.sigmoid(self.net(z))


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
    gen, disc = Generator(spec), Discriminator(spec)
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
