"""Signals during blocking waits.

posix_ipc 1.3.2 replaces whatever a Python signal handler raised with SignalError. Here the
handler's exception propagates; a handler that returns normally still ends the wait with
SignalError, as in posix_ipc (so `except SignalError` loops keep working).

The signal comes from a one-shot interval timer (SIGALRM, the watchdog's handler is swapped out for
the test): the wait starts microseconds after arming it and the timer fires 50 ms later. If the
machine were so slow that it fired first, the handler's exception would still propagate, so the
assertions hold either way.
"""
import signal
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


def interrupt_after(handler, seconds=0.05):
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


@pytest.fixture
def sem(names):
    s = Semaphore(names("sem"), O_CREX)
    try:
        yield s
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        s.unlink()
        s.close()


@pytest.fixture
def queue(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=1, max_message_size=16)
    try:
        yield q
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
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
