#!/usr/bin/env bash
# Usage: run.sh <pipc build dir> <pipc source dir>
# Installs the built pipc into a scratch prefix, then builds and runs a consumer against it
# with find_package, and once more with add_subdirectory on the source tree.
set -euo pipefail
build=$1
source=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
test -f "$scratch/prefix/lib/pkgconfig/pipc.pc" || { echo "pipc.pc not installed"; exit 1; }
test -f "$scratch/prefix/lib/cmake/pipc/pipcConfigVersion.cmake" || { echo "no version file"; exit 1; }

cmake -S "$source/tests/consumer" -B "$scratch/fp" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/fp" -j2 >/dev/null
"$scratch/fp/consumer"

cmake -S "$source/tests/consumer" -B "$scratch/sub" -DPIPC_CONSUMER_MODE=subdirectory \
      -DPIPC_SOURCE_DIR="$source" >/dev/null
cmake --build "$scratch/sub" -j2 >/dev/null
"$scratch/sub/consumer"
