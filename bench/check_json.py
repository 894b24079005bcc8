#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Checks that `pipc-bench --json` output (stdin) has the shape bench/README.md documents."""
import json
import sys

doc = json.load(sys.stdin)
assert isinstance(doc["version"], str) and doc["version"], "version"
assert isinstance(doc["machine"], dict) and doc["machine"], "machine"
results = doc["results"]
assert results, "no results"
transports = {"mq", "channel", "sem", "shm", "pipe", "eventfd"}
impls = {"raw", "raw-epoll", "pipc-blocking", "pipc-blocking-zc", "pipc-async", "pipc-async-public", "pipc-async-notify",
         "boost-interprocess"}
pins = {"same-cpu", "cross-cpu", "none"}
want = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else set()
seen = set()
for r in results:
    assert r["transport"] in transports, r
    assert r["impl"] in impls, r
    assert r["pin"] in pins, r
    assert isinstance(r["size"], int) and r["size"] >= 0, r
    assert isinstance(r["round_trips"], int) and r["round_trips"] > 0, r
    p = [r[k] for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us")]
    assert all(isinstance(x, (int, float)) and x > 0 for x in p), r
    assert p == sorted(p), ("percentiles not monotonic", r)
    assert r["msgs_per_s"] is None or r["msgs_per_s"] > 0, r
    seen.add(r["transport"] + "/" + r["impl"])
assert not doc.get("failures"), doc.get("failures")
missing = want - seen
assert not missing, ("variants missing", missing)
print(f"ok: {len(results)} results, {len(seen)} variants")
