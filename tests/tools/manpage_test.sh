#!/bin/bash
# SPDX-License-Identifier: BSL-1.0
# The generated man page is a pipc(1) page carrying every command's help.
set -u
page=$1
[[ -s $page ]] || { echo "no man page at $page"; exit 1; }
grep -q '^\.TH PIPC "1"' "$page" || { echo "not a section 1 page"; exit 1; }
for needle in 'pipc rm' 'pipc mq recv' '\\-\\-unused' 'EXIT STATUS' 'holders_complete' 'pipc lock info' 'pipc channel create' 'ROBUST MUTEXES AND CHANNELS'; do
    grep -q -- "$needle" "$page" || { echo "missing: $needle"; exit 1; }
done
