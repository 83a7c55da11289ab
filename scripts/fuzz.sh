#!/usr/bin/env bash
# Fuzzes latentlab's parsers of outside input with cargo-fuzz (libFuzzer): the IDX reader, model
# files, specs and the option strings (fuzz/fuzz_targets/). Not part of the test command, which
# only builds the targets.
# Usage: bash scripts/fuzz.sh [seconds per target, default 600] [targets..., default all four]
# Seeds come from real inputs (MNIST files, a trained model, the presets' specs, option strings);
# corpora and any crash (fuzz/artifacts/TARGET/) stay under ~/.cache/latentlab/fuzz and fuzz/.
# Two targets run at a time (one per core); `-s none`: no sanitizer, the targets are safe Rust.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(idx model_file spec options)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
fuzz_target_dir=$HOME/.cache/latentlab/target-fuzz
corpus=$HOME/.cache/latentlab/fuzz
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
bash scripts/setup-data.sh >/dev/null

# Seeds, once: small real files of each kind.
if [ ! -d "$corpus/seeds-done" ]; then
  mkdir -p "$corpus"/{idx,model_file,spec,options}
  cargo build --release -q --bin latentlab
  bin=$CARGO_TARGET_DIR/release/latentlab
  cp data/mnist/t10k-labels-idx1-ubyte.gz "$corpus/idx/labels.gz"
  python3 - "$corpus/idx" <<'PY'
import gzip, sys
raw = gzip.open("data/mnist/t10k-images-idx3-ubyte.gz").read()
few = raw[:4] + (3).to_bytes(4, "big") + raw[8:16] + raw[16:16 + 3 * 784]
open(f"{sys.argv[1]}/images3", "wb").write(few)
open(f"{sys.argv[1]}/images3.gz", "wb").write(gzip.compress(few))
labels = gzip.open("data/mnist/t10k-labels-idx1-ubyte.gz").read()
open(f"{sys.argv[1]}/labels3", "wb").write(labels[:4] + (3).to_bytes(4, "big") + labels[8:11])
PY
  tmp=$(mktemp -d)
  spec_json() { "$bin" arch --preset "$1" --json; }
  for preset in basic best; do spec_json "$preset" > "$corpus/spec/$preset.json"; done
  for kind in acgan wgan-sn; do "$bin" bench --gan "$kind" --print-spec > "$corpus/spec/$kind.json"; done
  "$bin" train --preset basic --epochs 1 --limit 512 --quiet --out "$tmp/ae"
  cp "$tmp/ae/model.bpk" "$corpus/model_file/basic.bpk"
  printf '%s' "snp:0.1" > "$corpus/options/noise1"
  printf '%s' "urn:0.7,snp:0.1+hole:6" > "$corpus/options/noise2"
  printf '%s' "rot:10,shift:2" > "$corpus/options/noise3"
  printf '%s' "reading=target,scope=group,until=20,every=5" > "$corpus/options/prune1"
  printf '%s' "all" > "$corpus/options/unfreeze"
  rm -rf "$tmp"
  mkdir -p "$corpus/seeds-done"
fi

cargo fuzz build -s none --target-dir "$fuzz_target_dir"
run() {
  local target=$1
  echo "fuzz: $target for $seconds s"
  cargo fuzz run -s none --target-dir "$fuzz_target_dir" "$target" "$corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 \
    >"$corpus/$target.log" 2>&1 || { echo "fuzz: $target FAILED (see $corpus/$target.log)"; return 1; }
  echo "fuzz: $target: $(grep -E 'stat::number_of_executed_units' "$corpus/$target.log" | awk '{print $2}') runs, no crash"
}
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for t in "${targets[@]:i:2}"; do run "$t" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
done
exit $status
