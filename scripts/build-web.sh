#!/usr/bin/env bash
# Builds the web app twice, each the crate's library for wasm32 in profile `web` (see Cargo.toml)
# with SIMD, then wasm-bindgen's JS glue:
#  - pkg/: feature `webgpu` (WebGPU, and flex on one thread), stable Rust;
#  - pkg/threads/: feature `threads` (flex on a rayon pool of Web Workers, no WebGPU): the
#    pinned nightly of scripts/nightly-toolchain, std rebuilt with atomics, shared memory up to
#    4 GiB. Its own target directory: other flags and another compiler, so the two builds
#    would otherwise invalidate each other's artifacts.
# index.html picks one per page load.
# Needs scripts/setup-web.sh (wasm32 target, the nightly with rust-src, wasm-bindgen).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

# wasm-bindgen's glue for the module built in target dir $1 into $2, and its size.
bindgen() {
  wasm-bindgen --target web --out-dir "$2" --no-typescript \
    --remove-name-section --remove-producers-section \
    "$1/wasm32-unknown-unknown/web/latentlab.wasm"
  local raw gz
  raw=$(stat -c %s "$2/latentlab_bg.wasm")
  gz=$(gzip -9 -c "$2/latentlab_bg.wasm" | wc -c)
  echo "build-web: $2/latentlab_bg.wasm $((raw / 1024)) KiB raw, $((gz / 1024)) KiB gzip"
}

# The WebGPU build links with fat LTO in one codegen unit: 17,682 KiB raw and 3,839 KiB gzip
# against 23,471 and 4,282 KiB without, for 16 s more on a warm rebuild (README, "Size and
# start"). The threaded build keeps the profile as it is: its std is rebuilt for every profile
# change, and its module is already 1.7 MB gzip.
CARGO_PROFILE_WEB_LTO=fat CARGO_PROFILE_WEB_CODEGEN_UNITS=1 \
  cargo build --timings --profile web --lib --target wasm32-unknown-unknown --features webgpu
bindgen "$CARGO_TARGET_DIR" pkg

threads_dir="$CARGO_TARGET_DIR/threads"
# The link flags wasm-bindgen's thread support needs (shared, imported memory; the TLS exports)
# go to latentlab's own link only (`cargo rustc -- ...`): in RUSTFLAGS they would be part of every
# dependency's fingerprint.
RUSTFLAGS="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128" \
  CARGO_TARGET_DIR="$threads_dir" \
  cargo "+$(cat scripts/nightly-toolchain)" rustc --timings -Z build-std=panic_abort,std \
  --profile web --lib --target wasm32-unknown-unknown --features threads -- \
  -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
  -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
  -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base
bindgen "$threads_dir" pkg/threads
