# SPDX-License-Identifier: BSL-1.0
"""A Python process and a C++ pipc process share a queue pair, a semaphore and a segment.

The C++ side is pipc_py_peer (python/tests/peer.cpp), found through $PIPC_PY_PEER (set by ctest).
"""
import mmap
import os
import subprocess

import pytest

import posix_ipc
from posix_ipc import O_CREX, MessageQueue, Semaphore, SharedMemory

PEER = os.environ.get("PIPC_PY_PEER")


@pytest.mark.skipif(not PEER or not os.access(PEER, os.X_OK),
                    reason="PIPC_PY_PEER (the C++ peer) not set; run through ctest")
def test_python_and_cpp_exchange(names):
    to_cpp = MessageQueue(names("mq"), O_CREX, max_messages=8, max_message_size=128)
    from_cpp = MessageQueue(names("mq"), O_CREX, max_messages=8, max_message_size=128)
    sem = Semaphore(names("sem"), O_CREX, initial_value=0)
    shm = SharedMemory(names("shm"), O_CREX, size=4096)
    mapping = mmap.mmap(shm.fd, shm.size)
    shm.close_fd()
    try:
        # Sent before the peer starts, so it sees them in priority order, not arrival order.
        to_cpp.send(b"low", priority=1)
        to_cpp.send(b"high", priority=30000)
        to_cpp.send("mid", priority=5)
        peer = subprocess.Popen([PEER, to_cpp.name, from_cpp.name, sem.name, shm.name],
                                stderr=subprocess.PIPE)
        try:
            got = [from_cpp.receive(20) for _ in range(4)]
            assert got == [(b"cpp:high", 30000), (b"cpp:mid", 5), (b"cpp:low", 1),
                           (b"order:high,mid,low", 0)]
            mapping[:16] = b"from python\0\0\0\0\0"
            sem.release()  # the peer waits for this before reading the segment
            assert from_cpp.receive(20) == (b"shm-done", 0)
            reply = mapping[1024:1024 + 64].split(b"\0", 1)[0]
            assert reply == b"cpp saw from python"
            sem.acquire(20)  # the peer released twice
            sem.acquire(20)
            with pytest.raises(posix_ipc.BusyError):
                sem.acquire(0)
            _, err = peer.communicate(timeout=20)
            assert peer.returncode == 0, err.decode()
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait(20)
    finally:
        mapping.close()
        for q in (to_cpp, from_cpp):
            q.close()
            q.unlink()
        sem.unlink()
        sem.close()
        shm.unlink()
