#!/usr/bin/env bash
# latentlab (flex) vs PyTorch (CPU), same nets, same machine, same thread count, side by side.
# Usage: bash benches/compare_cpu.sh [seconds per measurement, default 20]
# PyTorch is installed into a venv under ~/.cache/latentlab on first use (scripts/setup-torch.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-20}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
venv="${LATENTLAB_TORCH_VENV:-$HOME/.cache/latentlab/torch-venv}"
bash scripts/setup-torch.sh
bash scripts/setup-data.sh >/dev/null
cargo build --release -q
bin=$CARGO_TARGET_DIR/release/latentlab
threads=$(nproc)
tmp=$(mktemp -d)
printf "%-6s %-28s %12s %12s\n" preset backend train_img/s infer_img/s
for preset in basic best; do
  "$bin" arch --preset "$preset" --json > "$tmp/$preset.json"
  ours=$("$bin" bench --preset "$preset" --seconds "$seconds")
  theirs=$("$venv/bin/python" benches/pytorch_cpu.py --spec "$tmp/$preset.json" --threads "$threads" --seconds "$seconds")
  python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for r in (ours, theirs):
    print(f"{r['preset']:<6} {r['backend']:<28} {r['train_images_per_s']:>12.0f} {r['infer_images_per_s']:>12.0f}")
print(f"{ours['preset']:<6} {'ratio latentlab/pytorch':<28} {ours['train_images_per_s']/theirs['train_images_per_s']:>12.2f} {ours['infer_images_per_s']/theirs['infer_images_per_s']:>12.2f}")
PY
done

# GANs: our ACGAN (and the study's) against the PyTorch twin.
printf "\n%-12s %-28s %12s\n" gan backend train_img/s
for kind in acgan acgan-study; do
  "$bin" bench --gan "$kind" --print-spec > "$tmp/$kind.json"
  ours=$("$bin" bench --gan "$kind" --seconds "$seconds")
  theirs=$(cd benches && "$venv/bin/python" pytorch_gan.py --spec "$tmp/$kind.json" --threads "$threads" --seconds "$seconds" --data "$root/data/mnist")
  python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for r in (ours, theirs):
    print(f"{r['preset']:<12} {r['backend']:<28} {r['train_images_per_s']:>12.0f}")
print(f"{ours['preset']:<12} {'ratio latentlab/pytorch':<28} {ours['train_images_per_s']/theirs['train_images_per_s']:>12.2f}")
PY
done
rm -rf "$tmp"
