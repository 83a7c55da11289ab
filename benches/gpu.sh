#!/usr/bin/env bash
# Training and inference images/s of both presets on every backend this machine has: flex (CPU),
# wgpu (Vulkan; Mesa's software Vulkan without a GPU), CUDA (the `cuda` feature; skipped with a
# note where no NVIDIA driver answers), and PyTorch on CUDA when torch sees a GPU (else on CPU).
# Usage: bash benches/gpu.sh [seconds per measurement, default 10]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
bash scripts/setup-data.sh >/dev/null
bash scripts/setup-torch.sh
venv="${LATENTLAB_TORCH_VENV:-$HOME/.cache/latentlab/torch-venv}"
# burn's CUDA backend downloads an LLVM bundle (tracel-llvm) from GitHub while it builds; where
# that download is refused the benchmark runs without the `cuda` feature and says so.
if ! cargo build --release -q --features cuda --bin latentlab 2>"${TMPDIR:-/tmp}/latentlab-cuda-build.log"; then
  echo "gpu.sh: the cuda feature did not build (see ${TMPDIR:-/tmp}/latentlab-cuda-build.log); measuring without it" >&2
  cargo build --release -q --bin latentlab
fi
bin=$CARGO_TARGET_DIR/release/latentlab
tmp=$(mktemp -d)
torch_device=$("$venv/bin/python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
for preset in basic best; do
  "$bin" arch --preset "$preset" --json > "$tmp/$preset.json"
  for backend in flex wgpu cuda; do
    if ! "$bin" bench --preset "$preset" --backend "$backend" --seconds "$seconds" 2>"$tmp/err"; then
      echo "{\"preset\": \"$preset\", \"backend\": \"$backend\", \"unavailable\": \"$(tail -1 "$tmp/err" | tr -d '"')\"}"
    fi
  done
  "$venv/bin/python" benches/pytorch_cpu.py --spec "$tmp/$preset.json" --device "$torch_device" \
    --threads "$(nproc)" --seconds "$seconds"
done
