#!/usr/bin/env bash
# Installs what building and testing the web app needs, idempotently:
#  - the wasm32 Rust target; for the page's threaded build (pkg/threads) the pinned nightly in
#    scripts/nightly-toolchain with rust-src (std is rebuilt with atomics); and wasm-bindgen-cli at the exact version Cargo.lock pins (built from
#    crates.io: prebuilt downloads are not reachable here)
#  - Debian's chromium, driven headless by playwright-core for the end-to-end tests
#  - the npm packages in package.json (playwright-core; TensorFlow.js for the browser benchmark)
# `setup-web.sh build` installs only the first (what scripts/build-web.sh needs), `setup-web.sh
# browser` only the last two (what the e2e tests need): the test command runs the two apart, the
# builds' tools beside the native build and the downloads beside both. No argument: all of it.
set -euo pipefail
part=${1:-all}
case "$part" in build | browser | all) ;; *) echo "usage: setup-web.sh [build|browser]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The builds' tools: the wasm32 target, the nightly, wasm-bindgen-cli.
build_tools() {
  rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
  nightly=$(cat scripts/nightly-toolchain)
  if ! rustup run "$nightly" rustc --print sysroot >/dev/null 2>&1 \
    || [ ! -d "$(rustup run "$nightly" rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    echo "setup-web: installing $nightly with rust-src (the threaded web build)"
    rustup toolchain install "$nightly" --profile minimal --component rust-src
  fi

  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$want" ]; then
    echo "setup-web: installing wasm-bindgen-cli $want (a few minutes)"
    # It only post-processes one module per build: at opt-level 1 without LTO it builds in 4
    # minutes on a cold 2-core machine instead of 5.4. Its own target directory: the test command
    # builds it beside latentlab's native build.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_DEBUG=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR="$HOME/.cache/latentlab/target-tools" \
      cargo install wasm-bindgen-cli --version "=$want" --force
  fi
}

# The e2e tests' browser and npm packages (downloads, mostly).
browser_tools() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "setup-web: installing chromium"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi

  if [ ! -d node_modules/playwright-core ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

case "$part" in
  build) build_tools ;;
  browser) browser_tools ;;
  all) build_tools && browser_tools ;;
esac
