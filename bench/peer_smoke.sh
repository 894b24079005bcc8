#!/bin/sh
# SPDX-License-Identifier: BSL-1.0
# Smoke test of --peer-mq / --peer-sem against the reference echo peer (bench/README.md).
set -eu
bench=$1
echo=$2
rq=/pipc-bench-smoke-req-$$
rp=/pipc-bench-smoke-rep-$$
for kind in mq sem; do
  "$echo" --$kind $rq,$rp &
  pid=$!
  status=0
  "$bench" --peer-$kind $rq,$rp --peer-wait 5 --round-trips 300 --warmup 30 \
           --throughput-msgs 3000 --sizes 64,1024 --no-progress --json >/dev/null || status=$?
  kill -TERM $pid
  wait $pid || status=$?
  [ $status -eq 0 ] || { echo "peer $kind failed: $status" >&2; exit 1; }
done
for n in $rq $rp; do
  b=${n#/}
  if [ -e /dev/mqueue/$b ] || [ -e /dev/shm/sem.$b ]; then echo "left behind: $n" >&2; exit 1; fi
done
