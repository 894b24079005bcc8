#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Usage: run.sh <pipc build dir> <pipc source dir> <Boost version pipc was built with>
# Builds and runs the same small program (tests/consumer/main.cpp) the ways users link pipc:
#   find_package and pkg-config, each against a static and a shared install; add_subdirectory on
#   the source tree; and, where cpack and dpkg-deb exist, find_package and pkg-config against the
#   Debian packages unpacked into a scratch root. It also checks that a consumer with another Boost
#   gets pipc's configure-time error. The shared library is built in <build>/package-shared
#   (library only, kept between runs so that later runs are incremental).
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
boost_version=$3
# A fixed scratch path (not mktemp) keeps compiler command lines identical from run to run, so
# that ccache, when pipc's build uses it, makes reruns cheap.
scratch=$build/package-test
rm -rf "$scratch"
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
jobs=${PIPC_JOBS:-2}
# PIPC_CONSUMER_STAGES picks stages (to check one quickly): static shared boost subdir deb.
stages=" ${PIPC_CONSUMER_STAGES:-static shared boost subdir deb} "
stage() { [[ $stages == *" $1 "* ]]; }

fail() { echo "FAIL: $*" >&2; exit 1; }
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
launcher=$(cache CMAKE_CXX_COMPILER_LAUNCHER)
build_type=$(cache CMAKE_BUILD_TYPE)

# Runs a built consumer; it must exit 0 and print the line main.cpp prints when every check passed.
run_consumer() {
  local what=$1 exe=$2 out rc=0
  out=$("$exe" 2>&1) || rc=$?
  [ $rc -eq 0 ] || fail "$what: consumer exited with $rc: $out"
  [[ $out == "consumer ok: mq=ping async_mq=pong async_sem=acquired error=existential pipc="* ]] ||
    fail "$what: unexpected output: $out"
  echo "$what: $out"
}
# The consumer links libpipc dynamically exactly when it should.
check_linkage() {
  local what=$1 exe=$2 want=$3 needed
  needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  if [ "$want" = shared ]; then
    grep -qx 'libpipc\.so\.[0-9.]*' <<<"$needed" || fail "$what: not linked to libpipc.so: $needed"
  else
    ! grep -q 'libpipc' <<<"$needed" || fail "$what: linked to a shared libpipc: $needed"
  fi
}
# find_package(pipc) against a prefix; asserts the kind of pipc::pipc it found.
consumer_find_package() {
  local what=$1 prefix=$2 kind=$3 dir=$scratch/fp-$1 log
  log=$(cmake -S "$source/tests/consumer" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" \
              -DCMAKE_BUILD_TYPE=Release ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} 2>&1) || fail "$what: configure failed: $log"
  grep -q "pipc::pipc is a $kind" <<<"$log" || fail "$what: pipc::pipc is not a $kind: $log"
  cmake --build "$dir" -j"$jobs" >/dev/null || fail "$what: build failed"
  check_linkage "$what" "$dir/consumer" "$([ "$kind" = SHARED_LIBRARY ] && echo shared || echo static)"
  run_consumer "$what" "$dir/consumer"
}
# pkg-config as in the README: plain for a shared libpipc, --static for a static one.
consumer_pkg_config() {
  local what=$1 pcdir=$2 kind=$3 flags
  # shellcheck disable=SC2046 # --static or nothing
  flags=$(PKG_CONFIG_PATH=$pcdir pkg-config $([ "$kind" = static ] && echo --static) \
            --cflags --libs pipc) || fail "$what: pkg-config failed"
  # shellcheck disable=SC2086 # the flags are words
  $launcher g++ -std=c++20 -O1 "$source/tests/consumer/main.cpp" -o "$scratch/pc-$what" $flags ||
    fail "$what: compiling with \`pkg-config --cflags --libs pipc\` ($flags) failed"
  check_linkage "$what" "$scratch/pc-$what" "$kind"
  if [ "$kind" = shared ]; then
    local libdir
    libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir pipc)
    LD_LIBRARY_PATH=$libdir run_consumer "$what" "$scratch/pc-$what"
  else
    run_consumer "$what" "$scratch/pc-$what"
  fi
}

# --- static install (the build under test) ---
static=$scratch/static
cmake --install "$build" --prefix "$static" --component dev >/dev/null
static_libdir=$(dirname "$(find "$static" -name libpipc.a | head -n 1)")
[ -f "$static_libdir/libpipc.a" ] || fail "static install has no libpipc.a"
[ -f "$static_libdir/pkgconfig/pipc.pc" ] || fail "pipc.pc not installed"
[ -f "$static_libdir/cmake/pipc/pipcConfigVersion.cmake" ] || fail "no CMake version file"
cmp -s "$source/LICENSE" "$static/share/doc/pipc/LICENSE" || fail "LICENSE not installed"
grep -qx 'License: BSL-1.0' "$static_libdir/pkgconfig/pipc.pc" || fail "pipc.pc names no license"
if stage static; then
  consumer_find_package static-find_package "$static" STATIC_LIBRARY
  consumer_pkg_config static-pkg-config "$static_libdir/pkgconfig" static
fi

# --- shared install: the same sources with BUILD_SHARED_LIBS=ON, library only ---
if stage shared; then
shared_build=$build/package-shared
cmake -S "$source" -B "$shared_build" -DBUILD_SHARED_LIBS=ON -DPIPC_INSTALL=ON \
      -DPIPC_BUILD_TESTS=OFF -DPIPC_BUILD_EXAMPLES=OFF -DPIPC_BUILD_BENCH=OFF \
      -DPIPC_BUILD_TOOLS=OFF -DPIPC_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE="${build_type:-Release}" \
      ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} >/dev/null
cmake --build "$shared_build" -j"$jobs" --target pipc >/dev/null
shared=$scratch/shared
cmake --install "$shared_build" --prefix "$shared" --component dev >/dev/null
so=$(find "$shared" -name 'libpipc.so.*.*.*' | head -n 1)
[ -n "$so" ] || fail "shared install has no versioned libpipc.so"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname =~ ^libpipc\.so\.[0-9]+(\.[0-9]+)?$ ]] || fail "SONAME is '$soname'"
[ -L "$(dirname "$so")/$soname" ] || fail "no $soname symlink"
# Exported: pipc's API and nothing of its implementation. Every strong definition (T/D/B/R) must
# be a pipc:: name; the weak and unique ones (V/W/u) are instantiations from Boost headers of types
# Boost declares visible (error categories, Asio's service ids), which must stay one per process.
symbols=$(nm -D --defined-only -C "$so")
strong=$(awk '$2 ~ /^[TDBR]$/ { $1 = ""; $2 = ""; sub(/^  /, ""); print }' <<<"$symbols")
[ "$(grep -c . <<<"$strong")" -gt 20 ] || fail "too few exported functions: $strong"
leaked=$(grep -vE '^pipc::' <<<"$strong" || true)
[ -z "$leaked" ] || fail "libpipc.so exports more than pipc's API:
$leaked"
! grep -E ' (spdlog|fmt)::' <<<"$symbols" || fail "libpipc.so exports its spdlog/fmt internals"
! grep -E 'pipc::detail::(sys|real_sys)\(' <<<"$symbols" ||
  fail "libpipc.so built without tests exports the test hooks"
consumer_find_package shared-find_package "$shared" SHARED_LIBRARY
consumer_pkg_config shared-pkg-config "$(dirname "$so")/pkgconfig" shared
fi

# --- a consumer with another Boost: a clear configure-time error, never a crash at run time ---
if stage boost; then
other_boost=$(awk -F. '{ printf "%d.%d.0", $1, $2 + 1 }' <<<"$boost_version")
fake=$scratch/fake-boost/lib/cmake/Boost-$other_boost
mkdir -p "$fake"
cat >"$fake/BoostConfig.cmake" <<FAKE
set(Boost_VERSION $other_boost)
set(Boost_FOUND TRUE)
if(NOT TARGET Boost::headers)
  add_library(Boost::headers INTERFACE IMPORTED)
endif()
FAKE
cat >"$fake/BoostConfigVersion.cmake" <<FAKE
set(PACKAGE_VERSION $other_boost)
set(PACKAGE_VERSION_COMPATIBLE TRUE)
FAKE
if log=$(cmake -S "$source/tests/consumer" -B "$scratch/other-boost" -DCMAKE_PREFIX_PATH="$static" \
               -DBoost_DIR="$fake" 2>&1); then
  fail "a consumer with Boost $other_boost configured against pipc built with Boost $boost_version"
fi
log=$(tr -s ' \n' ' ' <<<"$log")
for want in "pipc was built against Boost $boost_version" "this project uses Boost $other_boost" \
            "Rebuild pipc against Boost $other_boost"; do
  grep -qF "$want" <<<"$log" || fail "the Boost mismatch error does not say '$want': $log"
done
echo "other-boost: configure refused Boost $other_boost (pipc built with $boost_version)"
fi

# --- add_subdirectory on the source tree: only the library, none of pipc's developer targets ---
if stage subdir; then
forbidden=()
declare -A option_of=([pipc-bench]=PIPC_BUILD_BENCH [pipc_cli]=PIPC_BUILD_TOOLS
                      [core_semaphore]=PIPC_BUILD_TESTS [example_quickstart]=PIPC_BUILD_EXAMPLES
                      [pipc_python]=PIPC_BUILD_PYTHON)
targets=$(cmake --build "$build" --target help)
# Whether pipc's own (top-level) build should have target $1.
expected_in_top_level() {
  [ "$(cache "${option_of[$1]}")" = ON ] || return 1
  [ "$1" != pipc_python ] || [[ -n $(cache pybind11_DIR) && $(cache pybind11_DIR) != *NOTFOUND* ]]
}
for t in "${!option_of[@]}"; do
  # A name that pipc's own build does not have would make the subproject check pass vacuously.
  if expected_in_top_level "$t"; then
    grep -qE "^\.\.\. $t( |$)" <<<"$targets" || fail "pipc's own build has no target '$t'"
  fi
  forbidden+=("$t")
done
log=$(cmake -S "$source/tests/consumer" -B "$scratch/sub" -DPIPC_CONSUMER_MODE=subdirectory \
      -DPIPC_SOURCE_DIR="$source" -DPIPC_CONSUMER_FORBIDDEN_TARGETS="$(IFS=';'; echo "${forbidden[*]}")" \
      ${launcher:+-DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"} -DCMAKE_BUILD_TYPE=Release 2>&1) ||
  fail "add_subdirectory configure failed: $(grep -A3 'CMake Error' <<<"$log")"
cmake --build "$scratch/sub" -j"$jobs" >/dev/null || fail "add_subdirectory build failed"
run_consumer add_subdirectory "$scratch/sub/consumer"
fi

# --- the Debian packages, unpacked into a scratch root ---
stage deb || exit 0
if ! command -v dpkg-deb >/dev/null || ! [ -f "$build/CPackConfig.cmake" ]; then
  echo "deb: skipped (no dpkg-deb or no CPack configuration)"
  exit 0
fi
(cd "$scratch" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/deb" >/dev/null) ||
  fail "cpack -G DEB failed"
root=$scratch/root
for deb in "$scratch"/deb/*.deb; do
  dpkg-deb -x "$deb" "$root"
  echo "deb: $(dpkg-deb -f "$deb" Package Depends | tr '\n' ' ')"
done
dev_deb=$(ls "$scratch"/deb/libpipc-dev_*.deb 2>/dev/null) || fail "no libpipc-dev package"
dev_files=$(dpkg-deb -c "$dev_deb")
grep -q '/usr/share/doc/libpipc-dev/copyright$' <<<"$dev_files" ||
  fail "libpipc-dev carries no copyright file"
deb_libdir=$(dirname "$(find "$root/usr" -name pipc.pc)")
consumer_find_package deb-find_package "$root/usr" STATIC_LIBRARY
consumer_pkg_config deb-pkg-config "$deb_libdir" static
if [ "$(cache PIPC_BUILD_TOOLS)" = ON ]; then
  [ -x "$root/usr/bin/pipc" ] || fail "the pipc package has no /usr/bin/pipc"
  "$root/usr/bin/pipc" --version >/dev/null || fail "the packaged pipc tool does not run"
fi
