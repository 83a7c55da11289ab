#!/usr/bin/env bash
# The README's test command: every test of latentlab.
#   1. setup (idempotent): system packages, Rust components, data; then in the background the web
#      build tools (wasm32, nightly, wasm-bindgen-cli) and the two wasm builds, the browser and
#      npm packages, and PyTorch
#   2. meanwhile: formatting, then the native unit and integration tests, built with clippy's
#      lints (warnings denied), the CLI and fuzz targets, and a type-check of the `cuda` feature
#   3. the search end to end (optuna with SQLite, then PostgreSQL with two workers)
#   4. PyTorch interop both ways (torch from PyPI, installed in the background meanwhile)
#   5. the end-to-end browser test twice (and the page on a full disk): without WebGPU (the CPU path) and with headless
#      Chromium's software WebGPU adapter (SwiftShader)
# Natively everything builds in the release profile, the web app in the `web` profile, so burn
# is compiled once per target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

# Each step's wall time, so a slow CI run says where its minutes went.
start=$SECONDS
step() {
  local t=$SECONDS
  "$@"
  echo "test: [$((SECONDS - t)) s, $((SECONDS - start)) s in all] $*"
}

# Native cargo with clippy's lints on latentlab itself: clippy-driver as the workspace's rustc
# wrapper with warnings denied, which is what `cargo clippy -- -D warnings` sets up, but in the
# build the tests need anyway. A separate `cargo clippy` would type-check every dependency once
# more (4 minutes of a cold CI run); dependencies are built by plain rustc either way.
native_cargo() {
  RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver)" \
    CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__" cargo "$@"
}

# The web app's build tools and its two builds, beside the native build: the two compile
# different targets in different profile directories (no shared lock), and together they keep
# both cores busy where one crate's build would leave a core idle. The browser and the npm
# packages for the e2e tests are mostly downloads: a third job beside both.
web() {
  step bash scripts/setup-web.sh build
  step bash scripts/build-web.sh
}

# The `cuda` feature is type-checked in the web profile's directory (whose host build scripts and
# proc macros it reuses, and which leaves the release directory's build scripts alone): there is
# no CUDA here, and DOCS_RS=1 stops burn's CUDA crates from downloading the LLVM bundle they link
# (this network refuses it), so it is checked, not built. It runs after the native build, beside
# the tail of the web builds, which it would otherwise lengthen.
cuda_check() {
  DOCS_RS=1 cargo check --timings --profile web --features cuda --bin latentlab
}

step bash scripts/setup.sh
search_python="${LATENTLAB_SEARCH_VENV:-$HOME/.cache/latentlab/optuna-venv}/bin/python"
web_log=$(mktemp)
web >"$web_log" 2>&1 &
web_pid=$!
browser_log=$(mktemp)
step bash scripts/setup-web.sh browser >"$browser_log" 2>&1 &
browser_pid=$!
# PyTorch is mostly a download (about 2 minutes, once): beside the builds.
torch_python="${LATENTLAB_TORCH_VENV:-$HOME/.cache/latentlab/torch-venv}/bin/python"
torch_log=$(mktemp)
step bash scripts/setup-torch.sh >"$torch_log" 2>&1 &
torch_pid=$!
# Whatever happens below, the background jobs do not outlive this script.
trap 'kill "$web_pid" "$browser_pid" "$torch_pid" 2>/dev/null || true; rm -f "$web_log" "$browser_log" "$torch_log"' EXIT

step cargo fmt --check
# --timings: each cargo build leaves an HTML report of its crates' compile times in
# $CARGO_TARGET_DIR/cargo-timings/ (where a slow cold run's minutes went).
step native_cargo test --timings --release
# The CLI and the fuzz targets (fuzz/: built here against the same burn, run by hand, README).
step native_cargo build --timings --release --workspace
step cuda_check

# Waits for a background job; on failure shows its log and stops.
join() {
  local pid=$1 log=$2 tag=$3 what=$4 status=0
  wait "$pid" || status=$?
  sed "s/^/[$tag] /" "$log"
  if [ "$status" != 0 ]; then
    echo "test: $what failed (above)" >&2
    exit "$status"
  fi
}

join "$web_pid" "$web_log" web "the web app's setup or build"
step "$search_python" tests/search/test_search.py "$CARGO_TARGET_DIR/release/latentlab" data/mnist
join "$torch_pid" "$torch_log" torch "installing PyTorch"
step "$torch_python" tests/interop/test_torch.py "$CARGO_TARGET_DIR/release/latentlab" data/mnist
join "$browser_pid" "$browser_log" browser "installing the browser or the npm packages"
step node tests/e2e/app.mjs cpu
step node tests/e2e/storage_full.mjs
step node tests/e2e/single_thread.mjs
step node tests/e2e/app.mjs webgpu
echo "test: all passed in $((SECONDS - start)) s (screenshots in out/e2e/)"
