#!/usr/bin/env bash
# Builds the web app: the crate's library for wasm32 (profile `web`: release with every crate at
# opt-level 3, see Cargo.toml; SIMD on via .cargo/config.toml), then wasm-bindgen's JS glue into pkg/. Needs scripts/setup-web.sh (wasm32 target, wasm-bindgen).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

cargo build --profile web --lib --target wasm32-unknown-unknown
wasm-bindgen --target web --out-dir pkg --no-typescript \
  --remove-name-section --remove-producers-section \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/web/latentlab.wasm"
raw=$(stat -c %s pkg/latentlab_bg.wasm)
gz=$(gzip -9 -c pkg/latentlab_bg.wasm | wc -c)
echo "build-web: pkg/latentlab_bg.wasm $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzip"
