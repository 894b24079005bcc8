#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Two-process message-queue ping-pong through the posix_ipc module found on sys.path.

    PYTHONPATH=<dir with posix_ipc*.so> python3 python/bench/pingpong.py [--round-trips N]
        [--pin same|cross|none] [--size BYTES]

The parent sends on one queue and receives the echo from another; the child does the opposite.
Both use blocking receive() and send() without a timeout: the calls a Python service makes.
Prints one JSON line: module file, pinning, p50/p90/p99 round trip in microseconds.
Run it with pipc's module and with posix_ipc built from its source in the same session and the
same pinning to compare them; the machine is shared, so alternate the two a few times.
"""
import argparse
import json
import os
import sys
import time

import posix_ipc


def pin(cpu):
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--round-trips", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    ap.add_argument("--pin", choices=["same", "cross", "none"], default="same")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()

    parent_cpu, child_cpu = {"same": (0, 0), "cross": (0, 1), "none": (None, None)}[args.pin]
    tag = f"/pipc-pingpong-{os.getpid()}"
    ping = posix_ipc.MessageQueue(tag + "-ping", posix_ipc.O_CREX, max_messages=1,
                                  max_message_size=args.size)
    pong = posix_ipc.MessageQueue(tag + "-pong", posix_ipc.O_CREX, max_messages=1,
                                  max_message_size=args.size)
    total = args.warmup + args.round_trips
    msg = b"x" * args.size
    child = os.fork()
    if child == 0:
        try:
            pin(child_cpu)
            receive, send = ping.receive, pong.send
            for _ in range(total):
                send(receive()[0])
        finally:
            os._exit(0)
    try:
        pin(parent_cpu)
        send, receive, clock = ping.send, pong.receive, time.perf_counter_ns
        samples = []
        for i in range(total):
            t0 = clock()
            send(msg)
            receive()
            if i >= args.warmup:
                samples.append(clock() - t0)
        os.waitpid(child, 0)
    finally:
        for q in (ping, pong):
            q.close()
            q.unlink()
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))] / 1000
    print(json.dumps({"module": posix_ipc.__file__, "pin": args.pin,
                      "size": args.size, "round_trips": len(samples),
                      "p50_us": round(pct(0.50), 2), "p90_us": round(pct(0.90), 2),
                      "p99_us": round(pct(0.99), 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
