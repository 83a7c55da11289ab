#!/usr/bin/env bash
# The README's run command: sets up, builds the native CLI and the web app, and serves the page
# on http://127.0.0.1:${PORT:-8080}/ (the URL is printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latentlab/target}"

bash scripts/setup.sh
bash scripts/setup-web.sh
cargo build --release --bin latentlab
bash scripts/build-web.sh
exec "$CARGO_TARGET_DIR/release/latentlab" serve --port "${PORT:-8080}"
