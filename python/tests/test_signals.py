# SPDX-License-Identifier: BSL-1.0
"""Signals during blocking waits.

posix_ipc 1.3.2 replaces whatever a Python signal handler raised with SignalError. Here the
handler's exception propagates; a handler that returns normally still ends the wait with
SignalError, as in posix_ipc (so `except SignalError` loops keep working).

The signal (SIGUSR2) is sent to the main thread only (pthread_kill from a timer thread 50 ms after
the wait starts): a process-directed signal could land on a notification thread glibc started for
another test and leave the main thread waiting. If the machine were so slow that the signal came
before the wait started, the handler's exception would still propagate, so the assertions about
propagation hold either way.
"""
import signal
import threading
import time

import pytest

import posix_ipc
from posix_ipc import O_CREX, MessageQueue, Semaphore


class FromHandler(Exception):
    pass


def raising(signum, frame):
    raise FromHandler()


def returning(signum, frame):
    pass


SIG = signal.SIGUSR2
_timers = []


def interrupt_after(handler, seconds=0.05):
    signal.signal(SIG, handler)
    t = threading.Timer(seconds, signal.pthread_kill, (threading.main_thread().ident, SIG))
    _timers.append(t)
    t.start()


@pytest.fixture(autouse=True)
def restore_handler():
    previous = signal.getsignal(SIG)
    try:
        yield
    finally:
        for t in _timers:
            t.join(20)
        _timers.clear()
        signal.signal(SIG, previous)


@pytest.fixture
def sem(names):
    s = Semaphore(names("sem"), O_CREX)
    try:
        yield s
    finally:
        s.unlink()
        s.close()


@pytest.fixture
def queue(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=1, max_message_size=16)
    try:
        yield q
    finally:
        q.close()
        q.unlink()


@pytest.mark.parametrize("timeout", [None, 30])
def test_handler_exception_propagates_from_acquire(sem, timeout):
    interrupt_after(raising)
    t0 = time.monotonic()
    with pytest.raises(FromHandler):
        sem.acquire(timeout)
    assert time.monotonic() - t0 < 20
    assert sem.value == 0
    sem.release()
    sem.acquire(0)  # still usable


@pytest.mark.parametrize("timeout", [None, 30])
def test_returning_handler_gives_signal_error(sem, timeout):
    interrupt_after(returning)
    with pytest.raises(posix_ipc.SignalError, match="The wait was interrupted by a signal"):
        sem.acquire(timeout)


def test_handler_exception_propagates_from_receive(queue):
    interrupt_after(raising)
    with pytest.raises(FromHandler):
        queue.receive()
    interrupt_after(raising)
    with pytest.raises(FromHandler):
        queue.receive(30)
    interrupt_after(returning)
    with pytest.raises(posix_ipc.SignalError):
        queue.receive()


def test_handler_exception_propagates_from_send(queue):
    queue.send(b"fills it")
    interrupt_after(raising)
    with pytest.raises(FromHandler):
        queue.send(b"waits")
    interrupt_after(raising)
    with pytest.raises(FromHandler):
        queue.send(b"waits", 30)
    interrupt_after(returning)
    with pytest.raises(posix_ipc.SignalError):
        queue.send(b"waits")
    assert queue.current_messages == 1
    assert queue.receive() == (b"fills it", 0)


def test_keyboard_interrupt_propagates(sem):
    def ctrl_c(signum, frame):
        raise KeyboardInterrupt

    interrupt_after(ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        sem.acquire()
