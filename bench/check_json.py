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
transports = {"mq", "sem", "shm", "pipe", "eventfd"}
impls = {"raw", "raw-epoll", "pipc-blocking", "pipc-async", "pipc-async-public", "pipc-async-notify",
         "boost-interprocess"}
# Spinning wait strategies of the pipc variants (pipc::wait_strategy).
impls |= {base + suffix for base in ("pipc-blocking", "pipc-async") for suffix in ("-spin", "-adaptive")}
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
    # Optional: CPU time of both processes per round trip (what spinning costs).
    assert "cpu_us_per_rt" not in r or (isinstance(r["cpu_us_per_rt"], (int, float))
                                        and r["cpu_us_per_rt"] >= 0), r
    seen.add(r["transport"] + "/" + r["impl"])
assert not doc.get("failures"), doc.get("failures")
missing = want - seen
assert not missing, ("variants missing", missing)
print(f"ok: {len(results)} results, {len(seen)} variants")
