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
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh
bash scripts/setup-web.sh

cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release

cargo build --release --bin latentlab
bash scripts/build-web.sh
node tests/e2e/app.mjs cpu
node tests/e2e/app.mjs webgpu
echo "test: all passed (screenshots in out/e2e/)"
