#!/usr/bin/env bash
# PyTorch (CPU) for the interop test and the benchmarks' PyTorch twins, idempotently: a venv
# this project owns at ~/.cache/latentlab/torch-venv with torch, safetensors and numpy from PyPI
# (PyPI's torch wheel brings CUDA libraries too: about 5 GB and 2 minutes, once).
set -euo pipefail
venv="${LATENTLAB_TORCH_VENV:-$HOME/.cache/latentlab/torch-venv}"
if ! "$venv/bin/python" -c 'import torch, safetensors, numpy' 2>/dev/null; then
  echo "setup-torch: installing torch into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check torch safetensors numpy
fi
