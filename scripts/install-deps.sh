#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Installs what pipc needs to build, test and benchmark on Debian 12, from Debian's packages only.
# Idempotent and non-interactive: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  g++ cmake make pkgconf git
  libboost1.81-dev libboost-test1.81-dev libboost-json1.81-dev
  libspdlog-dev libcli11-dev libbenchmark-dev
  pybind11-dev python3-dev python3-pytest
  clang-format clang-tidy
  dpkg-dev file doxygen liburing-dev help2man
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
