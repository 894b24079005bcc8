# SPDX-License-Identifier: BSL-1.0
"""One object shared by several threads: nothing lost, nothing duplicated, no deadlock."""
import threading

import posix_ipc
from posix_ipc import O_CREX, MessageQueue, Semaphore

WAIT = 20


def run_all(threads):
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
        assert not t.is_alive()


def test_many_threads_on_one_queue_object(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=4, max_message_size=16)
    senders, per_sender = 4, 200
    received = []
    lock = threading.Lock()
    errors = []

    def send(k):
        try:
            for i in range(per_sender):
                q.send(b"%d:%d" % (k, i), timeout=WAIT, priority=i % 3)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def receive(count):
        try:
            for _ in range(count):
                msg, _ = q.receive(WAIT)
                with lock:
                    received.append(msg)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    total = senders * per_sender
    try:
        run_all([threading.Thread(target=send, args=(k,)) for k in range(senders)] +
                [threading.Thread(target=receive, args=(total // 2,)) for _ in range(2)])
        assert errors == []
        assert sorted(received) == sorted(b"%d:%d" % (k, i) for k in range(senders)
                                          for i in range(per_sender))
        assert q.current_messages == 0
    finally:
        q.close()
        q.unlink()


def test_semaphore_as_a_lock_between_threads(names):
    s = Semaphore(names("sem"), O_CREX, initial_value=1)
    counter = [0]
    errors = []

    def work():
        try:
            for _ in range(500):
                with s:
                    v = counter[0]
                    counter[0] = v + 1
        except Exception as e:  # pragma: no cover
            errors.append(e)

    try:
        run_all([threading.Thread(target=work) for _ in range(4)])
        assert errors == [] and counter[0] == 2000 and s.value == 1
    finally:
        s.unlink()
        s.close()


def test_busy_error_from_several_threads(names):
    s = Semaphore(names("sem"), O_CREX, initial_value=0)
    outcomes = []

    def try_it():
        try:
            s.acquire(0)
            outcomes.append("got")
        except posix_ipc.BusyError:
            outcomes.append("busy")

    try:
        run_all([threading.Thread(target=try_it) for _ in range(8)])
        assert outcomes == ["busy"] * 8
    finally:
        s.unlink()
        s.close()
