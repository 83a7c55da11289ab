#!/usr/bin/env bash
# Memory stays flat: trains a preset for 20 epochs natively and compares the process's resident
# memory after epoch 20 with epoch 2 (metrics.json's resident_mb, read from /proc after each
# epoch). Prints one JSON line; the issue's bound is a ratio within 1.10.
# Usage: bash benches/memory.sh [preset, default basic] [epochs, default 20]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
preset=${1:-basic}
epochs=${2:-20}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
cargo build --release --quiet --bin latentlab
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# No early stopping: every epoch runs, so the run is as long as asked.
spec="$out/spec.json"
"$CARGO_TARGET_DIR/release/latentlab" arch --preset "$preset" --json |
  python3 -c 'import json,sys; s=json.load(sys.stdin); s["train"]["patience"]=None; print(json.dumps(s))' >"$spec"
"$CARGO_TARGET_DIR/release/latentlab" train --spec "$spec" --epochs "$epochs" --quiet --out "$out/run" >/dev/null
python3 - "$out/run/metrics.json" "$preset" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
rss = m["resident_mb"]
print(json.dumps({"preset": sys.argv[2], "epochs": len(rss), "resident_mb_epoch_2": round(rss[1], 1),
                  "resident_mb_last": round(rss[-1], 1), "ratio": round(rss[-1] / rss[1], 3),
                  "resident_mb": [round(r) for r in rss]}))
PY
