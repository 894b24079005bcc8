# SPDX-License-Identifier: BSL-1.0
"""MessageQueue.request_notification: callbacks on their own thread, signals, errors."""
import os
import signal
import sys
import threading

import pytest

import posix_ipc
from posix_ipc import O_CREX, MessageQueue

from conftest import run_in_child

WAIT = 20


@pytest.fixture
def queue(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=4, max_message_size=32)
    try:
        yield q
    finally:
        try:
            q.request_notification()
            q.close()
        except posix_ipc.ExistentialError:
            pass
        q.unlink()


def test_callback_runs_on_its_own_thread(queue):
    fired = threading.Event()
    seen = []

    def callback(param):
        seen.append((param, threading.current_thread() is threading.main_thread(),
                     threading.get_ident()))
        fired.set()

    assert queue.request_notification((callback, {"p": 1})) is None
    queue.send(b"wake")
    assert fired.wait(WAIT)
    assert seen[0][0] == {"p": 1}
    assert seen[0][1] is False and seen[0][2] != threading.get_ident()
    assert queue.receive() == (b"wake", 0)


def test_callback_is_one_shot_and_can_rearm(queue):
    count = []
    took = threading.Semaphore(0)

    def callback(q):
        count.append(q.receive(0))
        if len(count) < 3:
            q.request_notification((callback, q))  # re-arm from the notification thread
        took.release()  # only after re-arming: the next send must find the registration

    queue.request_notification((callback, queue))
    for i in range(3):
        queue.send(b"%d" % i)
        assert took.acquire(timeout=WAIT)
    assert [m for m, _ in count] == [b"0", b"1", b"2"]
    queue.send(b"no more")  # not re-armed the third time: nothing fires
    assert not took.acquire(timeout=0.2)
    assert queue.current_messages == 1


def test_callback_exception_reaches_unraisablehook(queue):
    reported = threading.Event()
    seen = []
    old = sys.unraisablehook

    def hook(info):
        seen.append(info)
        reported.set()

    def callback(param):
        raise RuntimeError("boom " + param)

    sys.unraisablehook = hook
    try:
        queue.request_notification((callback, "x"))
        queue.send(b"m")
        assert reported.wait(WAIT)
    finally:
        sys.unraisablehook = old
    assert isinstance(seen[0].exc_value, RuntimeError) and str(seen[0].exc_value) == "boom x"


def test_replacing_and_cancelling(queue):
    fired = []
    event = threading.Event()

    def first(_):
        fired.append("first")
        event.set()

    def second(_):
        fired.append("second")
        event.set()

    queue.request_notification((first, None))
    queue.request_notification((second, None))  # replaces this process's registration
    queue.send(b"m")
    assert event.wait(WAIT)
    assert fired == ["second"]
    queue.receive()


def test_signal_notification(queue):
    # In a forked child: it has a single thread, so the process-directed notification signal can
    # only go to the thread that blocks it and waits for it (glibc's notification threads from
    # other tests run with all signals unblocked and would die of SIGUSR1).
    def probe():
        sig = signal.SIGUSR1
        signal.pthread_sigmask(signal.SIG_BLOCK, [sig])
        out = []
        queue.request_notification(sig)
        queue.send(b"m")
        info = signal.sigtimedwait([sig], WAIT)
        out.append(info is not None and info.si_signo == sig)
        queue.receive()
        queue.send(b"m")  # one-shot: a second transition sends nothing
        out.append(signal.sigtimedwait([sig], 0) is None)
        queue.receive()
        # cancel: request, cancel, send -> nothing pending (the kernel would queue it synchronously)
        queue.request_notification(sig)
        queue.request_notification(None)
        queue.send(b"m")
        out.append(signal.sigtimedwait([sig], 0) is None)
        queue.receive()
        queue.request_notification(sig)
        queue.request_notification()  # omitted = None = cancel
        queue.send(b"m")
        out.append(signal.sigtimedwait([sig], 0) is None)
        queue.receive()
        return repr(out)

    code, out = run_in_child(probe)
    assert code == 0, out
    assert out == "[True, True, True, True]"


def test_invalid_notifications(queue):
    f = lambda p: None  # noqa: E731
    for bad in ([f, 1], (f,), (f, 1, 2), (1, 2), "x", 1.5):
        with pytest.raises(ValueError, match="The notification must be None, an integer, or a tuple"):
            queue.request_notification(bad)
    for bad in (-1, 1000, 2**70):
        with pytest.raises(OSError) as info:
            queue.request_notification(bad)
        assert info.value.errno == 22
    queue.request_notification(0)  # accepted, as in posix_ipc
    queue.request_notification(None)
    with pytest.raises(TypeError):
        queue.request_notification(None, None)


def test_notification_on_closed_queue(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=1, max_message_size=8)
    q.close()
    try:
        q.request_notification(None)  # cancelling is silently fine
        with pytest.raises(OSError) as info:
            q.request_notification(signal.SIGUSR1)
        assert info.value.errno == 9
        with pytest.raises(OSError):
            q.request_notification((print, None))
    finally:
        q.unlink()


def test_busy_when_another_process_is_registered(queue):
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(WAIT)
            q = MessageQueue(queue.name)
            q.request_notification(signal.SIGUSR2)
            os.write(to_parent_w, b"r")
            os.read(to_child_r, 1)
            code = 0
        finally:
            os._exit(code)
    try:
        assert os.read(to_parent_r, 1) == b"r"
        with pytest.raises(posix_ipc.BusyError, match="already delivering notifications elsewhere"):
            queue.request_notification(signal.SIGUSR1)
        with pytest.raises(posix_ipc.BusyError):
            queue.request_notification((print, None))
    finally:
        os.write(to_child_w, b"x")
        _, status = os.waitpid(pid, 0)
        for fd in (to_child_r, to_child_w, to_parent_r, to_parent_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    queue.request_notification(signal.SIGUSR1)  # free again once the child is gone
    queue.request_notification(None)


def test_close_ends_the_registration(queue):
    fired = threading.Event()
    other = MessageQueue(queue.name)
    try:
        queue.request_notification((lambda _: fired.set(), None))
        queue.close()
        other.send(b"m")  # would have fired synchronously-queued if still registered
        assert not fired.wait(0.3)
        other.request_notification(signal.SIGUSR2)  # nobody else holds it
        other.request_notification(None)
    finally:
        other.close()
