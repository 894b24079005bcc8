#!/usr/bin/env python3
# SPDX-License-Identifier: BSL-1.0
"""Per-call overhead of the posix_ipc module found on sys.path (single process, no waiting).

    PYTHONPATH=<build dir> /usr/bin/python3 python/bench/percall.py [--pairs N] [--repeat R]

Reports the best of R runs (ns per pair) for:
  * MessageQueue.send + receive of a 64-byte message (posix_ipc 1.3.2 best here: ~890 ns)
  * Semaphore.release + acquire()                     (posix_ipc 1.3.2 best here: ~121 ns)
  * Semaphore.release + acquire(0)
The machine is shared and noisy: compare best-of figures, run it a few times.
"""
import argparse
import gc
import os
import time

import posix_ipc


def best_ns_per_pair(fn, pairs, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn(pairs)
        best = min(best, (time.perf_counter_ns() - t0) / pairs)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    tag = f"/bench-{os.getpid()}"
    mq = posix_ipc.MessageQueue(tag + "-q", posix_ipc.O_CREX, max_messages=10, max_message_size=64)
    sem = posix_ipc.Semaphore(tag + "-s", posix_ipc.O_CREX, initial_value=0)
    msg = b"x" * 64
    try:
        def mq_pairs(n, send=mq.send, receive=mq.receive, msg=msg):
            for _ in range(n):
                send(msg)
                receive()

        def sem_pairs(n, release=sem.release, acquire=sem.acquire):
            for _ in range(n):
                release()
                acquire()

        def sem_pairs0(n, release=sem.release, acquire=sem.acquire):
            for _ in range(n):
                release()
                acquire(0)

        def empty(n):
            for _ in range(n):
                pass

        gc.disable()
        loop = best_ns_per_pair(empty, args.pairs, args.repeat)
        print(f"module: {posix_ipc.__file__}")
        print(f"empty loop:                  {loop:8.1f} ns/iteration (included below)")
        print(f"MQ send+receive (64 B):      {best_ns_per_pair(mq_pairs, args.pairs, args.repeat):8.1f} ns/pair")
        print(f"SEM release+acquire():       {best_ns_per_pair(sem_pairs, args.pairs, args.repeat):8.1f} ns/pair")
        print(f"SEM release+acquire(0):      {best_ns_per_pair(sem_pairs0, args.pairs, args.repeat):8.1f} ns/pair")
    finally:
        gc.enable()
        mq.close()
        mq.unlink()
        sem.unlink()
        sem.close()


if __name__ == "__main__":
    main()
