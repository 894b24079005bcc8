# SPDX-License-Identifier: BSL-1.0
"""posix_ipc.Semaphore: constructor, methods, attributes, errors."""
import os
import pickle
import stat
import threading
import time

import pytest

import posix_ipc
from posix_ipc import O_CREAT, O_CREX, O_EXCL, Semaphore


def make(names, **kw):
    kw.setdefault("flags", O_CREX)
    return Semaphore(names("sem"), **kw)


def test_defaults_and_attributes(names):
    s = make(names)
    try:
        assert s.value == 0
        assert s.mode == 0o600
        assert isinstance(s.name, str) and s.name.startswith("/pyt-")
        assert str(s) == s.name
        assert repr(s) == f'posix_ipc.Semaphore("{s.name}", mode=0600)'
        # the requested mode is what the object gets, whatever the umask
        assert stat.S_IMODE(os.stat("/dev/shm/sem." + s.name[1:]).st_mode) == 0o600
    finally:
        s.unlink()
        s.close()


def test_keyword_arguments(names):
    name = names("sem")
    s = Semaphore(name=name, flags=O_CREX, mode=0o640, initial_value=3)
    try:
        assert s.value == 3 and s.mode == 0o640
        assert repr(s).endswith("mode=0640)")
        assert stat.S_IMODE(os.stat("/dev/shm/sem." + name[1:]).st_mode) == 0o640
        with pytest.raises(TypeError):
            Semaphore(name, bogus=1)
    finally:
        s.unlink()
        s.close()


def test_flags(names):
    name = names("sem")
    with pytest.raises(posix_ipc.ExistentialError, match="No semaphore exists"):
        Semaphore(name)
    a = Semaphore(name, O_CREAT, initial_value=2)
    b = Semaphore(name, O_CREAT, initial_value=7)  # exists: initial_value ignored
    try:
        assert b.value == 2
        with pytest.raises(posix_ipc.ExistentialError, match="already exists"):
            Semaphore(name, O_CREX)
        with pytest.raises(ValueError, match="O_EXCL must be combined with O_CREAT"):
            Semaphore(name, O_EXCL)
        d = Semaphore(name, O_CREAT, initial_value=-1)  # as sem_open: the value is not needed
        assert d.value == 2
        d.close()
        c = Semaphore(name)  # flags=0 opens the existing one
        c.acquire(0)
        assert a.value == 1
        c.close()
    finally:
        a.unlink()
        a.close()
        b.close()


def test_generated_name(names):
    with pytest.raises(ValueError, match="Name can only be None if O_EXCL is set"):
        Semaphore(None, O_CREAT)
    s = Semaphore(None, O_CREX, initial_value=1)
    names.adopt(s.name)
    try:
        assert s.name.startswith("/") and len(s.name) > 1
        assert Semaphore(s.name).value == 1
    finally:
        s.unlink()
        s.close()


def test_name_types(names):
    name = names("sem")
    s = Semaphore(name.encode(), O_CREX)
    try:
        assert s.name == name and isinstance(s.name, str)
    finally:
        s.unlink()
        s.close()
    for bad in (bytearray(name.encode()), 42, 1.5, [name]):
        with pytest.raises(TypeError, match="Name must be None or a string"):
            Semaphore(bad, O_CREX)


@pytest.mark.parametrize("bad", ["", "/", "/a/b", "noslash", "/x\0y"])
def test_invalid_names(bad):
    with pytest.raises(ValueError):
        Semaphore(bad, O_CREX)


def test_name_too_long():
    with pytest.raises(ValueError, match="The name is too long"):
        Semaphore("/" + "n" * 300, O_CREX)


def test_invalid_arguments(names):
    name = names("sem")
    for v in (-1, posix_ipc.SEMAPHORE_VALUE_MAX + 1):
        with pytest.raises(ValueError, match=r"Invalid parameter\(s\)"):
            Semaphore(name, O_CREX, initial_value=v)
        with pytest.raises(ValueError, match=r"Invalid parameter\(s\)"):
            Semaphore(name, O_CREAT, initial_value=v)
    for mode in (-1, 0o10000):
        with pytest.raises(ValueError):
            Semaphore(name, O_CREX, mode=mode)
    with pytest.raises(TypeError):
        Semaphore(name, "O_CREAT")
    assert not os.path.exists("/dev/shm/sem." + name[1:])  # nothing was created


def test_acquire_release_value(names):
    s = make(names, initial_value=2)
    try:
        assert s.acquire() is None and s.value == 1
        assert s.acquire(0) is None and s.value == 0
        with pytest.raises(posix_ipc.BusyError, match="Semaphore is busy"):
            s.acquire(0)
        with pytest.raises(posix_ipc.BusyError):
            s.acquire(0.0)
        assert s.release() is None and s.value == 1
        s.acquire(timeout=1)
        s.release()
        s.acquire(True)  # bool is an int: 1 s
        s.release()
        s.acquire(timeout=2.5)
        assert s.value == 0
    finally:
        s.unlink()
        s.close()


def test_acquire_timeout_expires(names):
    s = make(names)
    try:
        t0 = time.monotonic()
        with pytest.raises(posix_ipc.BusyError, match="Semaphore is busy"):
            s.acquire(0.2)
        elapsed = time.monotonic() - t0
        assert 0.19 <= elapsed < 10
        assert s.value == 0
    finally:
        s.unlink()
        s.close()


@pytest.mark.parametrize("bad", [-1, -0.5, "1", float("nan"), 2**70, [1], object()])
def test_acquire_bad_timeout(names, bad):
    s = make(names, initial_value=1)
    try:
        with pytest.raises(TypeError, match="The timeout must be None or a non-negative number"):
            s.acquire(bad)
        assert s.value == 1  # nothing was taken
    finally:
        s.unlink()
        s.close()


def test_acquire_argument_checking(names):
    s = make(names, initial_value=1)
    try:
        with pytest.raises(TypeError):
            s.acquire(1, 2)
        with pytest.raises(TypeError):
            s.acquire(timeout=1, other=2)
        with pytest.raises(TypeError):
            s.acquire(1, timeout=1)
        with pytest.raises(TypeError):
            s.release(1)
        assert s.value == 1
    finally:
        s.unlink()
        s.close()


def test_release_overflow(names):
    s = make(names, initial_value=posix_ipc.SEMAPHORE_VALUE_MAX)
    try:
        with pytest.raises(OSError) as info:
            s.release()
        assert info.value.errno == 75  # EOVERFLOW, passed through as in posix_ipc
        assert s.value == posix_ipc.SEMAPHORE_VALUE_MAX
    finally:
        s.unlink()
        s.close()


def test_context_manager(names):
    s = make(names, initial_value=1)
    try:
        with s as entered:
            assert entered is s
            assert s.value == 0
        assert s.value == 1
        with pytest.raises(RuntimeError):
            with s:
                raise RuntimeError("propagates")
        assert s.value == 1
    finally:
        s.unlink()
        s.close()


def test_closed_semaphore(names):
    s = make(names, initial_value=1)
    name = s.name
    s.close()
    for call in (s.acquire, s.release, s.close, s.__enter__, lambda: s.value,
                 lambda: s.acquire(0)):
        with pytest.raises(posix_ipc.ExistentialError, match="The semaphore has been closed"):
            call()
    assert s.name == name and s.mode == 0o600 and str(s) == name and name in repr(s)
    # posix_ipc 1.3.2 refuses this (its docs say it works): here unlink() after close() works
    s.unlink()
    with pytest.raises(posix_ipc.ExistentialError):
        s.unlink()
    assert not os.path.exists("/dev/shm/sem." + name[1:])


def test_unlink_keeps_handle_usable(names):
    s = make(names, initial_value=1)
    s.unlink()
    try:
        s.acquire(0)
        s.release()
        assert s.value == 1
    finally:
        s.close()


def test_object_protocol(names):
    s = make(names)
    try:
        with pytest.raises(AttributeError):
            s.name = "/other"
        with pytest.raises(AttributeError):
            s.mode = 0
        with pytest.raises(AttributeError):
            s.value = 3
        with pytest.raises(AttributeError):
            s.anything = 1  # no instance __dict__
        assert not hasattr(s, "__dict__")
        with pytest.raises(TypeError):
            pickle.dumps(s)
        t = Semaphore(s.name)
        assert s == s and s != t and hash(s) == hash(s)  # identity
        t.close()

        class Sub(Semaphore):
            pass

        u = Sub(s.name)
        assert isinstance(u, Semaphore) and u.value == 0
        u.close()
    finally:
        s.unlink()
        s.close()


def test_gil_released_while_waiting(names):
    s = make(names)
    acquired = threading.Event()

    def waiter():
        s.acquire(20)
        acquired.set()

    t = threading.Thread(target=waiter)
    t.start()
    try:
        # This thread keeps running Python while the other one waits in acquire().
        deadline = time.monotonic() + 20
        while s.value != 0 or not t.is_alive():
            assert time.monotonic() < deadline
        s.release()
        assert acquired.wait(20)
    finally:
        t.join(20)
        s.unlink()
        s.close()


def test_close_while_another_thread_waits(names):
    s = make(names)
    other = Semaphore(s.name)
    result = []
    started = threading.Event()

    def waiter():
        started.set()
        try:
            s.acquire(20)
            result.append("acquired")
        except Exception as e:  # pragma: no cover - reported through result
            result.append(repr(e))

    t = threading.Thread(target=waiter)
    t.start()
    try:
        assert started.wait(20)
        s.close()  # must not pull the semaphore from under the waiter
        with pytest.raises(posix_ipc.ExistentialError):
            s.release()
        other.release()
        t.join(20)
        assert result == ["acquired"]
    finally:
        other.unlink()
        other.close()


def test_uninitialised_object():
    s = Semaphore.__new__(Semaphore)
    with pytest.raises(posix_ipc.ExistentialError):
        s.acquire()
    with pytest.raises(posix_ipc.ExistentialError):
        s.release()
