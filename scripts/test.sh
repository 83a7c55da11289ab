#!/usr/bin/env bash
# The README's test command: every test of latentlab.
#   1. setup (idempotent): system packages, Rust components, wasm tooling, chromium, npm, data
#   2. formatting, clippy with warnings denied, native unit and integration tests
#   3. the web app: wasm build, then the end-to-end browser test twice: without WebGPU (the CPU
#      path) and with headless Chromium's software WebGPU adapter (SwiftShader)
# Everything builds in the release profile so burn is compiled once per target.
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

step bash scripts/setup.sh
step bash scripts/setup-web.sh

step cargo fmt --check
step cargo clippy --release --all-targets -- -D warnings
step cargo test --release

step cargo build --release --bin latentlab
step bash scripts/build-web.sh
step node tests/e2e/app.mjs cpu
step node tests/e2e/app.mjs webgpu
echo "test: all passed in $((SECONDS - start)) s (screenshots in out/e2e/)"
