#!/usr/bin/env bash
# Runs every test: setup (idempotent), formatting, clippy with warnings denied, native tests.
# Everything builds in the release profile so burn is compiled once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"

bash scripts/setup.sh
cargo fmt --check
cargo clippy --release --all-targets -- -D warnings
cargo test --release
