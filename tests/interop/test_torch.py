"""PyTorch interop, end to end: latentlab's nets in PyTorch and PyTorch's nets in latentlab give
the same outputs on the same inputs (max abs difference < 1e-4).

Usage: python tests/interop/test_torch.py LATENTLAB_BIN DATA_DIR   (in a venv with torch,
safetensors and numpy: scripts/setup-torch.sh). Part of the README's test command.

For an autoencoder, a classifier fine-tuned from it, the acgan preset (batch norm, class
embedding scaling the noise, LeakyReLU, minibatch deviation), the same with layer norm in its
discriminator (`critic_norm`) and the study's ACGAN (embedding added to the noise, dropout),
each trained briefly by the CLI:
  1. latentlab -> PyTorch: `latentlab export`, `latentlab_torch.load`, both sides' outputs on
     64 test digits (and, for GANs, the same noise and classes) compared;
  2. PyTorch -> latentlab: the PyTorch module with new weights (and batch norm statistics) saved
     as safetensors (`latentlab_torch.save`) and as `.pt` (`torch.save` of the state dict),
     `latentlab import`ed, outputs compared again;
  3. a state dict of another architecture is refused, naming the tensor.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import latentlab_torch  # noqa: E402

TOLERANCE = 1e-4
N = 64


def run(*args, ok=True):
    result = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, cwd=WORK)
    if ok and result.returncode != 0:
        raise AssertionError(f"latentlab {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def test_images():
    with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        raw = f.read()
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16)[: N * 784]
    return torch.from_numpy(pixels.astype(np.float32).reshape(N, 1, 28, 28) / 255.0)


def inputs_for(module, gen):
    """The inputs both sides run: test digits, and noise and classes for a GAN."""
    inputs = {"images": test_images()}
    if isinstance(module, latentlab_torch.Gan):
        inputs["noise"] = torch.randn(N, module.spec["noise"], generator=gen)
        inputs["classes"] = torch.arange(N, dtype=torch.int64) % 10
    return inputs


@torch.no_grad()
def torch_outputs(module, inputs):
    module.eval()
    if isinstance(module, latentlab_torch.Autoencoder):
        latent = module.encoder(inputs["images"])
        return {"latent": latent, "reconstructions": module.decoder(latent).flatten(1)}
    if isinstance(module, latentlab_torch.Classifier):
        return {"logits": module(inputs["images"])}
    classes = inputs["classes"] if module.generator.cond != "none" else None
    return {
        "generated": module.generator(inputs["noise"], classes).flatten(1),
        "scores": module.discriminator(inputs["images"]),
    }


def latentlab_outputs(model, inputs, name):
    path_in, path_out = os.path.join(WORK, f"{name}-in.safetensors"), os.path.join(WORK, f"{name}-out.safetensors")
    save_file({k: v.contiguous() for k, v in inputs.items()}, path_in)
    run("infer", "--model", model, "--inputs", path_in, "--out", path_out)
    return load_file(path_out)


def compare(what, ours, theirs):
    assert set(ours) == set(theirs), f"{what}: outputs {sorted(ours)} vs {sorted(theirs)}"
    worst = 0.0
    for key in ours:
        assert ours[key].shape == theirs[key].shape, f"{what} {key}: {ours[key].shape} vs {theirs[key].shape}"
        diff = (ours[key] - theirs[key]).abs().max().item()
        # Outputs that do not vary would compare equal whatever the weights: make sure they do.
        assert theirs[key].std().item() > 1e-3, f"{what} {key}: outputs barely vary"
        assert diff < TOLERANCE, f"{what} {key}: max abs difference {diff:.2e} >= {TOLERANCE}"
        worst = max(worst, diff)
    print(f"interop: {what}: {len(ours)} outputs, max abs difference {worst:.2e}")


def reinitialise(module, gen):
    """New weights and batch norm statistics, so an import that kept old ones would show."""
    with torch.no_grad():
        for name, value in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                value.copy_(torch.rand(value.shape, generator=gen) + 0.5)
            else:
                value.copy_(torch.randn(value.shape, generator=gen) * 0.1)


def check(name, model_dir, spec_kind):
    gen = torch.Generator().manual_seed(7)
    exported = os.path.join(WORK, f"{name}.safetensors")
    run("export", "--model", model_dir, "--out", exported)
    module = latentlab_torch.load(exported)
    inputs = inputs_for(module, gen)
    compare(f"{name} latentlab -> PyTorch", latentlab_outputs(model_dir, inputs, name), torch_outputs(module, inputs))

    reinitialise(module, gen)
    expected = torch_outputs(module, inputs)
    from_torch = os.path.join(WORK, f"{name}-torch.safetensors")
    latentlab_torch.save(module, from_torch)
    imported = os.path.join(WORK, f"{name}-imported")
    run("import", "--weights", from_torch, "--out", imported)
    compare(f"{name} PyTorch (safetensors) -> latentlab", latentlab_outputs(imported, inputs, name), expected)

    pickle = os.path.join(WORK, f"{name}-torch.pt")
    torch.save(module.state_dict(), pickle)
    spec_file = os.path.join(model_dir, "spec.json")
    imported_pt = os.path.join(WORK, f"{name}-imported-pt")
    run("import", "--weights", pickle, "--spec", spec_file, "--kind", spec_kind, "--out", imported_pt)
    compare(f"{name} PyTorch (.pt) -> latentlab", latentlab_outputs(imported_pt, inputs, name), expected)
    return module


def check_refusal(module):
    """A state dict whose first conv has another shape: refused, naming that tensor, and the
    output directory of an earlier import is left as it was."""
    tensors = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    tensors["encoder.conv.0.weight"] = torch.zeros(3, 1, 5, 5)
    wrong = os.path.join(WORK, "wrong.safetensors")
    save_file(tensors, wrong, metadata=module.metadata())
    target = os.path.join(WORK, "autoencoder-imported")
    before = open(os.path.join(target, "model.bpk"), "rb").read()
    result = run("import", "--weights", wrong, "--out", target, ok=False)
    assert result.returncode != 0, "a state dict of another architecture was accepted"
    assert "panicked" not in result.stderr, result.stderr
    assert "encoder.conv.0.weight" in result.stderr, f"the message does not name the tensor: {result.stderr}"
    assert open(os.path.join(target, "model.bpk"), "rb").read() == before, "the earlier import was overwritten"
    print(f"interop: refused another architecture: {result.stderr.strip().splitlines()[-1][:160]}")


def main():
    common = ["--data", DATA, "--limit", "512", "--quiet"]
    run("train", "--preset", "basic", "--epochs", "1", "--out", "ae", *common)
    run("finetune", "--model", "ae", "--unfreeze", "all", "--epochs", "1", "--out", "classifier", *common)
    for kind in ("acgan", "acgan-study"):
        run("gan", "--kind", kind, "--epochs", "1", "--out", kind, *common)
    # The acgan preset with layer norm in its discriminator (`critic_norm`, the wgan preset's).
    spec = json.load(open(os.path.join(WORK, "acgan", "spec.json")))
    spec.update(name="acgan-critic-norm", critic_norm=True)
    json.dump(spec, open(os.path.join(WORK, "acgan-critic-norm.json"), "w"))
    run("gan", "--spec", "acgan-critic-norm.json", "--epochs", "1", "--out", "acgan-critic-norm", *common)
    autoencoder = check("autoencoder", os.path.join(WORK, "ae"), "autoencoder")
    check("classifier", os.path.join(WORK, "classifier"), "classifier")
    for kind in ("acgan", "acgan-study", "acgan-critic-norm"):
        check(kind, os.path.join(WORK, kind), "gan")
    check_refusal(autoencoder)
    print("interop: all passed")


if __name__ == "__main__":
    BIN, DATA = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory() as WORK:
        main()
