"""latentlab's nets as PyTorch modules, built from the spec a latentlab model carries.

    import latentlab_torch
    net = latentlab_torch.load("model.safetensors")    # from `latentlab export`
    images = net(x)                                     # autoencoder: [n, 1, 28, 28] in (0, 1)
    latentlab_torch.save(net, "tuned.safetensors")      # back: `latentlab import --weights ...`

The modules name their layers as latentlab does (`encoder.conv.0.weight`, `generator.norm_conv.0
.running_mean`, ...), so an exported file loads with `load_state_dict(strict=True)`. The forward
passes are latentlab's: `Autoencoder.forward` gives images in (0, 1) and `forward_logits` the
logits before the sigmoid, `Classifier.forward` ten logits, `Gan.generator(noise, classes)`
images and `Gan.discriminator(images)` the kind's outputs. Call `.eval()` for inference (batch
norm's running statistics), as latentlab's own inference does.

The benchmarks' PyTorch twins (benches/pytorch_*.py) train these same modules.
Needs torch and safetensors.
"""
import json

import torch
import torch.nn.functional as F
from torch import nn

# The metadata keys of latentlab's model files (src/store.rs).
SPEC_KEY, CLASSIFIER_KEY, GAN_KEY = "latentlab.spec", "latentlab.classifier", "latentlab.gan"
OUTPUTS = {"gan": 1, "wgan": 1, "wgan-sn": 1, "wgan-gp": 1, "acgan": 11, "acgan-study": 11}
CLASSES = 10


def shapes(arch):
    """Per convolution: (input side, output side, the transposed convolution's output padding),
    as latentlab's shape inference derives them."""
    side, out = 28, []
    for c in arch["conv"]:
        k, s, p = c["kernel"], c["stride"], c["padding"]
        o = (side + 2 * p - k) // s + 1
        out.append((side, o, side - ((o - 1) * s + k - 2 * p)))
        side = o
    return out


def activation(name, leak=0.0):
    """latentlab's activations; a positive `leak` is a LeakyReLU of that slope whatever `name`."""
    if leak > 0:
        return lambda x: F.leaky_relu(x, leak)
    return {
        "relu": F.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, 0.01),
        "gelu": F.gelu,
        "tanh": torch.tanh,
    }[name]


def widths(arch, latent):
    """Flattened convolution output, the hidden widths, then `latent`."""
    chans = [1] + [c["channels"] for c in arch["conv"]]
    side = shapes(arch)[-1][1]
    return [chans[-1] * side * side] + list(arch["hidden"]) + [latent]


class Encoder(nn.Module):
    """Convolutions, then linear layers down to `latent` numbers (no activation on those)."""

    def __init__(self, arch, latent=None, leak=0.0):
        super().__init__()
        self.act = activation(arch.get("activation", "relu"), leak)
        chans = [1] + [c["channels"] for c in arch["conv"]]
        self.conv = nn.ModuleList(
            nn.Conv2d(chans[i], chans[i + 1], c["kernel"], c["stride"], c["padding"])
            for i, c in enumerate(arch["conv"]))
        w = widths(arch, arch["latent"] if latent is None else latent)
        n = len(w) - 1
        self.linear = nn.ModuleList(nn.Linear(w[i], w[i + 1]) for i in range(n))
        # Dropout before every linear layer whose output is a hidden layer.
        p = arch.get("encoder_dropout", 0.0)
        self.dropout = nn.ModuleList(nn.Dropout(p if i + 1 < n else 0.0) for i in range(n))

    def features(self, x):
        """The input of the last linear layer, and its output."""
        for i, conv in enumerate(self.conv):
            x = conv(x)
            if i > 0 and hasattr(self, "norm"):
                x = self.norm[i - 1](x)
            x = self.act(x)
        h = x.flatten(1)
        for i, (linear, dropout) in enumerate(zip(self.linear, self.dropout)):
            out = linear(dropout(h))
            if i + 1 == len(self.linear):
                return h, out
            h = self.act(out)

    def forward(self, x):
        return self.features(x)[1]


class Decoder(nn.Module):
    """Linear layers up from `latent` numbers, then transposed convolutions to 28 x 28 logits;
    batch norm after every layer but the last when asked (latentlab's GAN generator)."""

    def __init__(self, arch, latent=None, batch_norm=False):
        super().__init__()
        self.act = activation(arch.get("activation", "relu"))
        geo = shapes(arch)
        chans = [1] + [c["channels"] for c in arch["conv"]]
        w = widths(arch, arch["latent"] if latent is None else latent)
        n = len(w) - 1
        self.linear = nn.ModuleList(nn.Linear(w[n - i], w[n - i - 1]) for i in range(n))
        # The transposed convolutions run from the deepest to the first.
        order = list(reversed(range(len(arch["conv"]))))
        self.conv = nn.ModuleList(
            nn.ConvTranspose2d(chans[i + 1], chans[i], arch["conv"][i]["kernel"], arch["conv"][i]["stride"],
                               arch["conv"][i]["padding"], geo[i][2])
            for i in order)
        if batch_norm:
            self.norm_linear = nn.ModuleList(nn.BatchNorm1d(w[n - i - 1]) for i in range(n))
            self.norm_conv = nn.ModuleList(nn.BatchNorm2d(chans[i]) for i in order[:-1])
        # Dropout before every linear layer whose input is a hidden layer.
        p = arch.get("decoder_dropout", 0.0)
        self.dropout = nn.ModuleList(nn.Dropout(p if i > 0 else 0.0) for i in range(n))
        self.unflatten = (chans[-1], geo[-1][1], geo[-1][1])
        self.batch_norm = batch_norm

    def forward_logits(self, h):
        for i, (linear, dropout) in enumerate(zip(self.linear, self.dropout)):
            h = linear(dropout(h))
            if self.batch_norm:
                h = self.norm_linear[i](h)
            h = self.act(h)
        x = h.reshape(-1, *self.unflatten)
        for i, conv in enumerate(self.conv):
            x = conv(x)
            if i + 1 < len(self.conv):
                if self.batch_norm:
                    x = self.norm_conv[i](x)
                x = self.act(x)
        return x

    def forward(self, h):
        return torch.sigmoid(self.forward_logits(h))


class Autoencoder(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.encoder, self.decoder = Encoder(spec["arch"]), Decoder(spec["arch"])

    def forward_logits(self, x):
        return self.decoder.forward_logits(self.encoder(x))

    def forward(self, x):
        return self.decoder(self.encoder(x))

    def metadata(self):
        return {SPEC_KEY: json.dumps(self.spec)}


class Classifier(nn.Module):
    """A pretrained encoder and one linear layer from its latent code to ten digit logits."""

    def __init__(self, spec, head):
        super().__init__()
        self.spec, self.head_spec = spec, head
        self.encoder = Encoder(spec["arch"])
        self.head = nn.Linear(spec["arch"]["latent"], head.get("classes", CLASSES))

    def forward(self, x):
        return self.head(self.encoder(x))

    def metadata(self):
        return {SPEC_KEY: json.dumps(self.spec), CLASSIFIER_KEY: json.dumps(self.head_spec)}


def stddev_group(n):
    """latentlab's minibatch deviation groups: 4 images, or fewer when 4 does not divide n."""
    return next(g for g in (4, 2, 1) if n % g == 0)


class Discriminator(Encoder):
    """The encoder's layers with the kind's outputs as its latent layer, LeakyReLU when the spec
    has a leak, layer norm (a group norm of one group) after every convolution but the first
    when it has `critic_norm`, and the minibatch standard deviation as one more input of the
    last layer."""

    def __init__(self, spec):
        outputs = OUTPUTS[spec["kind"]]
        super().__init__(dict(spec["arch"], decoder_dropout=0.0), outputs, spec.get("leak", 0.0))
        if spec.get("critic_norm", False):
            self.norm = nn.ModuleList(nn.GroupNorm(1, c["channels"]) for c in spec["arch"]["conv"][1:])
        if spec.get("minibatch_std", False):
            self.stddev = nn.Linear(1, outputs)

    def forward(self, x, group=None):
        h, out = self.features(x)
        if hasattr(self, "stddev"):
            # Per group of consecutive images: the mean over features of their deviation.
            n = h.shape[0]
            g = group or stddev_group(n)
            grouped = h.reshape(n // g, g, -1)
            spread = (grouped.var(1, unbiased=False) + 1e-8).sqrt().mean(1, keepdim=True)
            out = out + self.stddev(spread.repeat_interleave(g, 0))
        return out


class Generator(Decoder):
    """The decoder's layers reading noise, scaled by, added to or beside a class embedding."""

    def __init__(self, spec):
        cond = spec["conditioning"]
        width = spec["noise"] + (spec.get("embedding", 0) if cond == "concat" else 0)
        super().__init__(dict(spec["arch"], encoder_dropout=0.0), width, spec.get("batch_norm", False))
        self.cond = cond
        if cond != "none":
            self.embedding = nn.Embedding(CLASSES, spec["embedding"] if self.cond == "concat" else spec["noise"])

    def forward(self, noise, classes=None):
        if self.cond == "add":
            noise = self.embedding(classes) + noise
        elif self.cond == "multiply":
            noise = self.embedding(classes) * noise
        elif self.cond == "concat":
            noise = torch.cat([self.embedding(classes), noise], 1)
        return torch.sigmoid(self.forward_logits(noise))


class Gan(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.generator, self.discriminator = Generator(spec), Discriminator(spec)

    def metadata(self):
        return {GAN_KEY: json.dumps(self.spec)}


def build(metadata):
    """The module a file's metadata describes (fresh weights)."""
    if GAN_KEY in metadata:
        return Gan(json.loads(metadata[GAN_KEY]))
    spec = json.loads(metadata[SPEC_KEY])
    if CLASSIFIER_KEY in metadata:
        return Classifier(spec, json.loads(metadata[CLASSIFIER_KEY]))
    return Autoencoder(spec)


def state_dict_for_torch(module, tensors):
    """`tensors` (a latentlab file's) plus the batch norm step counters PyTorch keeps and
    latentlab does not."""
    tensors = dict(tensors)
    for name, value in module.state_dict().items():
        if name.endswith("num_batches_tracked"):
            tensors.setdefault(name, torch.zeros_like(value))
    return tensors


def load(path):
    """The module of a safetensors file written by `latentlab export` (or `save`), weights in."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
    module = build(metadata)
    module.load_state_dict(state_dict_for_torch(module, load_file(path)), strict=True)
    return module


def save(module, path):
    """Writes `module` as safetensors with its spec, for `latentlab import --weights PATH`."""
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(tensors, path, metadata=module.metadata())
