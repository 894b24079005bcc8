#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Checks that `pipc-bench --json` output (stdin) has the shape bench/README.md documents."""
import json
import sys

doc = json.load(sys.stdin)
if doc.get("scenario") == "sem-fanout":
    # `--scenario sem-fanout --json`: one cell per (pin, N), and the largest-N ratios per pin.
    cells = doc["cells"]
    assert cells, "no cells"
    assert isinstance(doc["command_line"], str) and isinstance(doc["started_utc"], str), "header"
    for c in cells:
        assert c["pin"] in {"same-cpu", "cross-cpu", "none"}, c
        assert isinstance(c["n"], int) and c["n"] >= 1, c
        assert c["ok"] is True, ("cell failed", c)
        assert c["backend"] in {"futex_waitv", "fallback"}, c
        p = [c[k] for k in ("p50_us", "p90_us", "p99_us", "max_us")]
        assert all(isinstance(x, (int, float)) and x > 0 for x in p), c
        assert p == sorted(p), ("percentiles not monotonic", c)
        for k in ("samples", "helper_threads", "process_threads", "rss_kib", "vm_kib"):
            assert isinstance(c[k], int) and c[k] > 0, (k, c)
    for pin, r in doc["ratios"].items():
        assert r["p50_largest_vs_1"] >= 0 and r["p99_largest_vs_1"] >= 0, (pin, r)
    print(f"ok: sem-fanout, {len(cells)} cells")
    sys.exit(0)
assert isinstance(doc["version"], str) and doc["version"], "version"
assert isinstance(doc["machine"], dict) and doc["machine"], "machine"
results = doc["results"]
assert results, "no results"
transports = {"mq", "channel", "sem", "shm", "pipe", "eventfd", "lock"}
impls = {"raw", "raw-epoll", "pipc-blocking", "pipc-blocking-zc", "pipc-blocking-cap64",
         "pipc-blocking-zc-cap64", "pipc-async", "pipc-async-zc", "pipc-async-public",
         "pipc-async-notify", "boost-interprocess", "pipc-async-deferred",
         "pipc-async-deferred-spin"}
# Spinning wait strategies of the pipc variants (pipc::wait_strategy).
impls |= {base + suffix for base in ("pipc-blocking", "pipc-async") for suffix in ("-spin", "-adaptive")}
# The floor of a spinning queue wait, and the free-semaphore cells (one process, batches).
impls |= {"raw-spin", "raw-free", "pipc-async-free", "pipc-async-free-try"}
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
    # Context switches per message of the one-way stream: measured by the blocking loops, and on
    # one CPU a stream cannot run without handing the CPU over between the two processes.
    if "stream_ctx_switches_per_msg" in r:
        assert isinstance(r["stream_ctx_switches_per_msg"], (int, float)), r
        assert r["stream_ctx_switches_per_msg"] >= 0, r
    if (r["pin"] == "same-cpu" and r["msgs_per_s"] is not None
            and r["transport"] + "/" + r["impl"] in ("mq/raw", "channel/pipc-blocking")):
        assert r.get("stream_ctx_switches_per_msg", 0) > 0, ("no stream context switches", r)
    seen.add(r["transport"] + "/" + r["impl"])
assert not doc.get("failures"), doc.get("failures")
missing = want - seen
assert not missing, ("variants missing", missing)
print(f"ok: {len(results)} results, {len(seen)} variants")
