#!/usr/bin/env bash
# The README's test command: every test of latentlab.
#   1. setup (idempotent): system packages, Rust components, data; then in the background the web
#      tooling (wasm-bindgen-cli, chromium, npm) and the wasm build
#   2. meanwhile: formatting, then the native unit and integration tests, built with clippy's
#      lints (warnings denied)
#   3. the search end to end (optuna with SQLite, then PostgreSQL with two workers)
#   4. PyTorch interop both ways (torch from PyPI, installed in the background meanwhile)
#   5. the end-to-end browser test twice: without WebGPU (the CPU path) and with headless
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

# The web app's tooling and build, beside the native build: the two compile different targets
# in different profile directories (no shared lock), and together they keep both cores busy
# where one crate's build would leave a core idle.
web() {
  step bash scripts/setup-web.sh
  step bash scripts/build-web.sh
}

step bash scripts/setup.sh
search_python="${LATENTLAB_SEARCH_VENV:-$HOME/.cache/latentlab/optuna-venv}/bin/python"
web_log=$(mktemp)
web >"$web_log" 2>&1 &
web_pid=$!
# PyTorch is mostly a download (about 2 minutes, once): beside the builds.
torch_python="${LATENTLAB_TORCH_VENV:-$HOME/.cache/latentlab/torch-venv}/bin/python"
torch_log=$(mktemp)
step bash scripts/setup-torch.sh >"$torch_log" 2>&1 &
torch_pid=$!
# Whatever happens below, the background jobs do not outlive this script.
trap 'kill "$web_pid" "$torch_pid" 2>/dev/null || true; rm -f "$web_log" "$torch_log"' EXIT

step cargo fmt --check
step native_cargo test --release
step native_cargo build --release --bin latentlab

web_status=0
wait "$web_pid" || web_status=$?
sed 's/^/[web] /' "$web_log"
if [ "$web_status" != 0 ]; then
  echo "test: the web app's setup or build failed (above)" >&2
  exit "$web_status"
fi
step "$search_python" tests/search/test_search.py "$CARGO_TARGET_DIR/release/latentlab" data/mnist
torch_status=0
wait "$torch_pid" || torch_status=$?
sed 's/^/[torch] /' "$torch_log"
if [ "$torch_status" != 0 ]; then
  echo "test: installing PyTorch failed (above)" >&2
  exit "$torch_status"
fi
step "$torch_python" tests/interop/test_torch.py "$CARGO_TARGET_DIR/release/latentlab" data/mnist
step node tests/e2e/app.mjs cpu
step node tests/e2e/app.mjs webgpu
echo "test: all passed in $((SECONDS - start)) s (screenshots in out/e2e/)"
