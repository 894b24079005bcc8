# SPDX-License-Identifier: BSL-1.0
"""Shared fixtures for the posix_ipc tests.

Every test gets a watchdog (SIGALRM, so pytest-timeout is not needed): a stuck wait is interrupted
and the handler's exception propagates out of it, failing the test. Names are unique per process
and per test, and whatever a test leaves behind is unlinked afterwards.
"""
import itertools
import os
import signal
import sys
import threading

import pytest

import posix_ipc

WATCHDOG_SECONDS = 60
_counter = itertools.count()


class WatchdogExpired(Exception):
    pass


def _expired(signum, frame):
    raise WatchdogExpired(f"test still running after {WATCHDOG_SECONDS} s")


@pytest.fixture(autouse=True)
def watchdog():
    # Sent to the main thread itself: a process-directed alarm could be delivered to a notification
    # thread glibc started, which would not interrupt the main thread's wait.
    previous = signal.signal(signal.SIGALRM, _expired)
    timer = threading.Timer(WATCHDOG_SECONDS, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGALRM))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGALRM, previous)


class Names:
    """Hands out unique names and unlinks them (all three kinds) when the test ends."""

    def __init__(self):
        self.issued = []

    def __call__(self, tag="x"):
        name = f"/pyt-{os.getpid()}-{next(_counter)}-{tag}"
        self.issued.append(name)
        return name

    def adopt(self, name):
        self.issued.append(name)
        return name

    def cleanup(self):
        for name in self.issued:
            for unlink in (posix_ipc.unlink_semaphore, posix_ipc.unlink_shared_memory,
                           posix_ipc.unlink_message_queue):
                try:
                    unlink(name)
                except (posix_ipc.ExistentialError, ValueError):
                    pass


@pytest.fixture
def names():
    n = Names()
    try:
        yield n
    finally:
        n.cleanup()


def start_child(fn, *, as_nobody=False):
    """Forks a child that runs fn() and reports through a pipe; returns a handle for finish_child.

    fn returns a string (the child's report). Exceptions become "EXC <type>: <message>".
    as_nobody drops to uid/gid 65534 first: root ignores mode bits.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            os.close(r)
            signal.alarm(WATCHDOG_SECONDS)  # single-threaded here: the alarm reaches this thread
            if as_nobody:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            try:
                out = fn()
            except BaseException as e:  # noqa: B902 - report everything to the parent
                out = f"EXC {type(e).__name__}: {e}"
            os.write(w, str(out).encode())
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def finish_child(handle):
    """Waits for a child from start_child; returns (exit status, text the child wrote)."""
    pid, r = handle
    chunks = []
    try:
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode()


def run_in_child(fn, *, as_nobody=False):
    """Runs fn() in a forked child and waits for it: (exit status, text the child wrote)."""
    return finish_child(start_child(fn, as_nobody=as_nobody))


def mq_exists(name):
    """Whether a queue exists, asked through the API (the mqueue fs may not be mounted)."""
    try:
        posix_ipc.MessageQueue(name).close()
    except posix_ipc.ExistentialError:
        return False
    return True


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """The suite's own prefix must be gone from /dev/shm and the mqueue fs at the end."""
    yield
    prefix = f"pyt-{os.getpid()}-"
    left = [f for f in os.listdir("/dev/shm") if prefix in f]
    if os.path.isdir("/dev/mqueue"):
        left += [f for f in os.listdir("/dev/mqueue") if f.startswith(prefix)]
    if left:
        print(f"\nLEFT BEHIND: {left}", file=sys.stderr)
        pytest.fail(f"IPC objects left behind: {left}")
