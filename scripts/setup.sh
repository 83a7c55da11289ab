#!/usr/bin/env bash
# Installs what building and testing latentlab needs, idempotently, then puts MNIST under data/.
#  - Rust components: clippy and rustfmt (the toolchain itself comes with the machine)
#  - Mesa's software Vulkan (Debian: mesa-vulkan-drivers), so the wgpu backend finds an adapter on
#    a machine without a GPU and the GPU code path is tested natively (slowly); g++ for libFuzzer
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_apt=()
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers libvulkan1)
# A C++ compiler: libfuzzer-sys builds libFuzzer for the fuzz targets (fuzz/).
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

for component in clippy rustfmt; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

bash "$root/scripts/setup-search.sh"
bash "$root/scripts/setup-data.sh"
