#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Installs what is missing, builds pipc (Release) and runs the main job: the quickstart, then a
# quick latency benchmark against the raw POSIX floor (when the bench is built).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DPIPC_BUILD_TESTS=OFF \
      -DPIPC_BUILD_PYTHON=OFF >/dev/null
cmake --build build/release -j"${PIPC_JOBS:-$(nproc)}"
echo "== quickstart"
build/release/examples/example_quickstart
if [ -x build/release/bench/pipc-bench ]; then
  echo "== pipc bench --quick"
  build/release/bench/pipc-bench --quick
fi
