#!/usr/bin/env bash
# SPDX-License-Identifier: BSL-1.0
# Fails, listing them, if any tracked source file (C++, CMake, shell, Python) lacks an
# `SPDX-License-Identifier: BSL-1.0` line among its first 3 lines. Data, Markdown, JSON, SVG and
# the LICENSE itself are not source. Usage: scripts/check-spdx.sh (from anywhere in the tree).
set -euo pipefail
cd "$(dirname "$0")/.."

is_source() {
  case $1 in
    *.cpp | *.hpp | *.h | *.cc | *.ipp | *.cmake | *.cmake.in | CMakeLists.txt | */CMakeLists.txt \
      | *.sh | *.bash | *.py | *.pyi) return 0 ;;
    *.md | *.json | *.svg | *.txt | *.csv | *.in | LICENSE*) return 1 ;;
  esac
  # Extension-less scripts (.ci/run and the like) count by their interpreter line.
  head -c 64 -- "$1" 2>/dev/null | head -n 1 | grep -qE '^#!.*(sh|bash|python[0-9.]*)\b'
}

missing=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  is_source "$f" || continue
  head -n 3 -- "$f" | grep -q 'SPDX-License-Identifier: BSL-1.0' || missing+=("$f")
done < <(git ls-files -z)

if [ ${#missing[@]} -gt 0 ]; then
  printf '%s\n' "${missing[@]}"
  echo "check-spdx: ${#missing[@]} source file(s) without 'SPDX-License-Identifier: BSL-1.0' in their first 3 lines" >&2
  exit 1
fi
echo "check-spdx: every source file carries its SPDX line"
