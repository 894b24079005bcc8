#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Compatibility builds of the Asio layer: builds the Asio tests (label "asio") and the examples
# against other Asio releases and other Asio reactors, each in a build dir of its own, and runs
# them (the stress tests with a few thousand races instead of 100,000).
#
#   asio-<version>  the headers of each folder in PIPC_COMPAT_ASIO_DIRS (default: every
#                   ../shared/compat/boost-asio-*/include), epoll reactor: tests and examples
#   select          Boost's own Asio, -DBOOST_ASIO_DISABLE_EPOLL (select reactor): tests
#   io_uring        io_uring as Asio's backend (needs liburing-dev): tests, with Boost's own Asio
#                   if it is 1.27 or newer, else with the newest of the other Asios
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

asio_version_name() { echo "$(($1 / 100000)).$(($1 / 100 % 1000)).$(($1 % 100))"; }

configs=()   # name|extra CXX flags|extra libraries|ctest label regex
newest_compat="" newest_compat_version=0
for d in $PIPC_COMPAT_ASIO_DIRS; do
  if [ ! -f "$d/boost/asio/version.hpp" ]; then
    echo "asio-matrix: $d holds no boost/asio/version.hpp" >&2
    exit 2
  fi
  v=$(sed -n 's|^#define BOOST_ASIO_VERSION \([0-9]*\).*|\1|p' "$d/boost/asio/version.hpp")
  configs+=("asio-$(asio_version_name "$v")|-isystem $d||^(asio|example)$")
  if [ "$v" -gt "$newest_compat_version" ]; then newest_compat=$d newest_compat_version=$v; fi
done
if [ -z "${PIPC_COMPAT_ASIO_DIRS// /}" ]; then
  echo "asio-matrix: no other Asio headers (../shared/compat absent, PIPC_COMPAT_ASIO_DIRS empty):" \
       "skipping the compat builds"
fi
configs+=("select|-DBOOST_ASIO_DISABLE_EPOLL||^asio$")
# Asio before 1.27 (Boost 1.81's is 1.26) reuses io_uring submission entries without clearing
# their user data, so the completion of its own IORING_OP_ASYNC_CANCEL can land on another
# operation's queue and a cancelled wait may never complete (chriskohlhoff/asio PR #1215, fixed by
# commit 0080ec1c9 in 1.27). That backend cannot pass the cancellation tests; io_uring is then
# tested with the newest other Asio there is.
own_asio=$(echo '#include <boost/asio/version.hpp>' | ${CXX:-c++} -E -dM -x c++ - |
           sed -n 's/^#define BOOST_ASIO_VERSION \([0-9]*\).*/\1/p')
if [ ! -f /usr/include/liburing.h ]; then
  echo "asio-matrix: liburing.h not found (liburing-dev): skipping the io_uring build"
elif [ "${own_asio:-0}" -ge 102700 ]; then
  configs+=("io_uring|-DBOOST_ASIO_HAS_IO_URING -DBOOST_ASIO_DISABLE_EPOLL|-luring|^asio$")
elif [ -n "$newest_compat" ]; then
  configs+=("io_uring-asio-$(asio_version_name "$newest_compat_version")|-isystem $newest_compat \
-DBOOST_ASIO_HAS_IO_URING -DBOOST_ASIO_DISABLE_EPOLL|-luring|^asio$")
else
  echo "asio-matrix: Boost's own Asio $(asio_version_name "${own_asio:-0}") has the io_uring" \
       "cancellation bug fixed in Asio 1.27 and there is no other Asio: skipping the io_uring build"
fi
if [ "${PIPC_ASIO_MATRIX_PUBLIC_PATH:-0}" = 1 ]; then
  configs+=("public-path|-DPIPC_ASIO_PUBLIC_REACTOR_PATH||^asio$")
fi

wanted=("$@")
for w in "${wanted[@]}"; do
  known=0
  for c in "${configs[@]}"; do [ "${c%%|*}" = "$w" ] && known=1; done
  if [ "$known" = 0 ]; then
    echo "asio-matrix: no configuration named $w (there are: $(printf '%s ' "${configs[@]%%|*}"))" >&2
    exit 2
  fi
done
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
