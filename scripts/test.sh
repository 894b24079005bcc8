#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Installs what is missing, builds pipc and runs every test:
#   1. formatting check (clang-format) on all C++ in the repo
#   2. RelWithDebInfo build + the whole ctest suite (unit, multi-process, tools, Python, examples,
#      package consumer)
#   2b. scripts/asio-matrix.sh: the Asio tests and examples against other Asios and reactors
#   3. the API reference (Doxygen over include/pipc; an undocumented public entity fails it)
#      and clang-tidy (focused checks, .clang-tidy) on the library, tools and bench sources
#   4. AddressSanitizer + UndefinedBehaviorSanitizer build + the suite (Python off: CPython and
#      ASan do not share a process)
#   5. ThreadSanitizer build + the tests labelled "threaded"
# Usage: scripts/test.sh [--skip-sanitizers] [--skip-tidy] [--skip-format]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${PIPC_JOBS:-$(nproc)}
skip_sanitizers=0
skip_tidy=0
skip_format=0
for arg in "$@"; do
  case $arg in
    --skip-sanitizers) skip_sanitizers=1 ;;
    --skip-tidy) skip_tidy=1 ;;
    --skip-format) skip_format=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

step() { printf '\n==== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "dependencies"
scripts/install-deps.sh

# POSIX queues are only listable with the mqueue filesystem mounted; tests and `pipc ls` use it.
if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /dev/mqueue 2>/dev/null; then
  mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue || echo "note: could not mount /dev/mqueue"
fi

if [ $skip_format -eq 0 ]; then
  step "format check"
  git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror
  scripts/check-spdx.sh
fi

# ccache, where installed, only makes rebuilds cheaper; nothing depends on it.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=$root # relative paths: a fresh clone elsewhere reuses the cache
fi

step "build (RelWithDebInfo)"
cmake -S . -B build/default -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build build/default -j"$jobs"

step "tests"
(cd build/default && ctest -j"$jobs" --output-on-failure --timeout 600)

step "API reference (Doxygen; any warning fails)"
cmake --build build/default --target docs
step "Asio compatibility builds (Asio 1.83/1.90 headers, select and io_uring reactors)"
PIPC_JOBS=$jobs scripts/asio-matrix.sh

if [ $skip_tidy -eq 0 ]; then
  step "clang-tidy"
  files=$(git ls-files 'src/*.cpp' 'tools/*.cpp' 'bench/engine/*.cpp' | sed "s|^|$root/|")
  run-clang-tidy -quiet -p build/default -j"$jobs" $files >/tmp/pipc-tidy.log 2>&1 || {
    grep -E 'error:|warning:' /tmp/pipc-tidy.log | sort -u; echo "clang-tidy failed"; exit 1; }
fi

if [ $skip_sanitizers -eq 0 ]; then
  step "build + tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DPIPC_SANITIZE=address,undefined "${launcher[@]}" \
        -DPIPC_BUILD_PYTHON=OFF -DPIPC_BUILD_BENCH=OFF >/dev/null
  cmake --build build/asan -j"$jobs"
  (cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j"$jobs" --output-on-failure --timeout 900 -LE package)

  step "build + threaded tests under ThreadSanitizer"
  cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DPIPC_SANITIZE=thread "${launcher[@]}" \
        -DPIPC_BUILD_PYTHON=OFF -DPIPC_BUILD_BENCH=OFF -DPIPC_BUILD_TOOLS=OFF >/dev/null
  # A "_fallback" test reruns its namesake's executable with the fallback path forced.
  threaded=$(cd build/tsan && ctest -N -L threaded | sed -n 's/^ *Test *#[0-9]*: *//p' |
             sed 's/_fallback$//' | sort -u)
  cmake --build build/tsan -j"$jobs" --target $threaded
  # TSan needs the classic address-space layout; the kernel's high ASLR entropy breaks it.
  (cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
     setarch "$(uname -m)" -R ctest -j"$jobs" --output-on-failure --timeout 900 -L threaded)
fi

step "leftovers"
left=$(ls /dev/shm | grep -E '^(sem\.)?pipc-' || true)
mountpoint -q /dev/mqueue 2>/dev/null && left="$left $(ls /dev/mqueue | grep -E '^pipc-' || true)"
if [ -n "${left// /}" ]; then
  echo "IPC objects left behind by the tests: $left"
  exit 1
fi
echo "all test stages passed"
