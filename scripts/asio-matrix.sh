#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Compatibility builds of the Asio layer: builds the Asio tests (label "asio") and the examples
# against other Asio releases and other Asio reactors, each in a build dir of its own, and runs
# them (the stress tests with a few thousand races instead of 100,000).
#
#   asio-<version>  the headers of each folder in PIPC_COMPAT_ASIO_DIRS (default: every
#                   ../shared/compat/boost-asio-*/include), epoll reactor: tests and examples
#   select          Boost's own Asio, -DBOOST_ASIO_DISABLE_EPOLL (select reactor): tests
#   io_uring        Boost's own Asio, io_uring as Asio's backend (needs liburing-dev): tests
#   public-path     only with PIPC_ASIO_MATRIX_PUBLIC_PATH=1: epoll with the public-API wait path
# The reactor configurations skip the examples: they exercise no reactor path the tests do not,
# and compiling them again for each reactor was a third of the matrix's time.
#
# Usage: scripts/asio-matrix.sh [config...]   (no argument: all of the above that apply)
# PIPC_COMPAT_ASIO_DIRS: space-separated folders that each hold boost/asio.hpp (an Asio's
# include directory); set it empty to skip the compat builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PIPC_JOBS:-$(nproc)}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

if [ -z "${PIPC_COMPAT_ASIO_DIRS+set}" ]; then
  PIPC_COMPAT_ASIO_DIRS=""
  for d in "$root"/../shared/compat/boost-asio-*/include; do
    [ -d "$d" ] && PIPC_COMPAT_ASIO_DIRS="$PIPC_COMPAT_ASIO_DIRS $(cd "$d" && pwd)"
  done
fi

configs=()   # name|extra CXX flags|extra libraries|ctest label regex
for d in $PIPC_COMPAT_ASIO_DIRS; do
  if [ ! -f "$d/boost/asio/version.hpp" ]; then
    echo "asio-matrix: $d holds no boost/asio/version.hpp" >&2
    exit 2
  fi
  v=$(sed -n 's|^#define BOOST_ASIO_VERSION \([0-9]*\).*|\1|p' "$d/boost/asio/version.hpp")
  configs+=("asio-$((v / 100000)).$((v / 100 % 1000)).$((v % 100))|-isystem $d||^(asio|example)$")
done
if [ -z "${PIPC_COMPAT_ASIO_DIRS// /}" ]; then
  echo "asio-matrix: no other Asio headers (../shared/compat absent, PIPC_COMPAT_ASIO_DIRS empty):" \
       "skipping the compat builds"
fi
configs+=("select|-DBOOST_ASIO_DISABLE_EPOLL||^asio$")
if [ -f /usr/include/liburing.h ]; then
  configs+=("io_uring|-DBOOST_ASIO_HAS_IO_URING -DBOOST_ASIO_DISABLE_EPOLL|-luring|^asio$")
else
  echo "asio-matrix: liburing.h not found (liburing-dev): skipping the io_uring build"
fi
if [ "${PIPC_ASIO_MATRIX_PUBLIC_PATH:-0}" = 1 ]; then
  configs+=("public-path|-DPIPC_ASIO_PUBLIC_REACTOR_PATH||^asio$")
fi

wanted=("$@")
selected() {
  [ ${#wanted[@]} -eq 0 ] && return 0
  local w
  for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

for c in "${configs[@]}"; do
  IFS='|' read -r name flags libs labels <<<"$c"
  selected "$name" || continue
  dir=build/asio-matrix/$name
  printf '\n---- Asio matrix: %s (%s) (%s)\n' "$name" "$flags" "$(date +%H:%M:%S)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=None "${launcher[@]}" \
        "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_CXX_STANDARD_LIBRARIES=$libs" \
        -DPIPC_BUILD_PYTHON=OFF -DPIPC_BUILD_BENCH=OFF -DPIPC_BUILD_TOOLS=OFF >/dev/null
  # A "_fallback" test reruns its namesake's executable with the fallback path forced.
  targets=$(cd "$dir" && ctest -N -L "$labels" | sed -n 's/^ *Test *#[0-9]*: *//p' |
            sed 's/_fallback$//' | sort -u)
  if [ -z "$targets" ]; then
    echo "asio-matrix: no test matching label $labels in $dir" >&2
    exit 1
  fi
  cmake --build "$dir" -j"$jobs" --target $targets
  (cd "$dir" && PIPC_MQ_STRESS_COUNT=3000 PIPC_STRESS_DIVISOR=30 \
     ctest -j"$jobs" --output-on-failure --timeout 600 -L "$labels")
done
echo "asio-matrix: all configurations passed"
