# SPDX-License-Identifier: BSL-1.0
"""posix_ipc's classic demo pattern between two Python processes: a segment read and written in
turns, handed over with two semaphores, plus a queue with priorities in both directions."""
import mmap
import os

import posix_ipc
from posix_ipc import O_CREX, MessageQueue, Semaphore, SharedMemory

from conftest import finish_child, start_child

ROUNDS = 200


def test_ping_pong_over_shared_memory(names):
    shm = SharedMemory(names("shm"), O_CREX, size=mmap.PAGESIZE)
    ping = Semaphore(names("sem"), O_CREX, initial_value=0)
    pong = Semaphore(names("sem"), O_CREX, initial_value=0)
    mapping = mmap.mmap(shm.fd, shm.size)
    shm.close_fd()
    try:
        def child():
            s = SharedMemory(shm.name)
            m = mmap.mmap(s.fd, s.size)
            s.close_fd()
            a, b = Semaphore(ping.name), Semaphore(pong.name)
            for _ in range(ROUNDS):
                a.acquire(10)
                n = int(m[:16].rstrip(b"\0"))
                m[:16] = str(n + 1).encode().ljust(16, b"\0")
                b.release()
            a.close()
            b.close()
            m.close()
            return "done"

        handle = start_child(child)
        mapping[:16] = b"0".ljust(16, b"\0")
        for i in range(ROUNDS):
            ping.release()
            pong.acquire(10)
            n = int(mapping[:16].rstrip(b"\0"))
            assert n == 2 * i + 1
            mapping[:16] = str(n + 1).encode().ljust(16, b"\0")
        assert finish_child(handle) == (0, "done")
        assert int(mapping[:16].rstrip(b"\0")) == 2 * ROUNDS
    finally:
        mapping.close()
        shm.unlink()
        for s in (ping, pong):
            s.unlink()
            s.close()


def test_queue_both_ways_between_processes(names):
    up = MessageQueue(names("mq"), O_CREX, max_messages=5, max_message_size=32)
    down = MessageQueue(names("mq"), O_CREX, max_messages=5, max_message_size=32)
    try:
        def child():
            u, d = MessageQueue(up.name, read=False), MessageQueue(down.name, write=False)
            total = 0
            for _ in range(50):
                msg, prio = d.receive(10)
                total += prio
                u.send(msg[::-1], priority=prio)
            u.close()
            d.close()
            return str(total)

        handle = start_child(child)
        back = []
        for i in range(50):
            down.send(b"msg-%d" % i, timeout=10, priority=i % 7)
            back.append(up.receive(10))
        assert finish_child(handle) == (0, str(sum(i % 7 for i in range(50))))
        assert back == [((b"msg-%d" % i)[::-1], i % 7) for i in range(50)]
    finally:
        for q in (up, down):
            q.close()
            q.unlink()
