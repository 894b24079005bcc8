# SPDX-License-Identifier: BSL-1.0
"""posix_ipc.SharedMemory: constructor, size semantics, fd handling, errors."""
import mmap
import os
import pickle
import stat

import pytest

import posix_ipc
from posix_ipc import O_CREAT, O_CREX, O_EXCL, O_TRUNC, SharedMemory


def path(name):
    return "/dev/shm/" + name[1:]


def test_create_map_and_attributes(names):
    name = names("shm")
    m = SharedMemory(name, O_CREX, size=4096)
    try:
        assert m.size == 4096
        assert m.mode == 0o600 and m.name == name and str(m) == name
        assert repr(m) == f'posix_ipc.SharedMemory("{name}", mode=0600)'
        assert m.fd >= 0 and m.fileno() == m.fd
        assert stat.S_IMODE(os.stat(path(name)).st_mode) == 0o600
        with mmap.mmap(m.fd, m.size) as a:
            a[:5] = b"hello"
        other = SharedMemory(name)  # flags=0: open existing, size untouched
        assert other.size == 4096
        with mmap.mmap(other.fd, other.size) as b:
            assert b[:5] == b"hello"
        other.close_fd()
    finally:
        m.close_fd()
        m.unlink()


def test_defaults_and_keywords(names):
    name = names("shm")
    m = SharedMemory(name=name, flags=O_CREX, mode=0o640, size=0, read_only=False)
    try:
        assert m.size == 0 and m.mode == 0o640
        assert stat.S_IMODE(os.stat(path(name)).st_mode) == 0o640
        with pytest.raises(TypeError):
            SharedMemory(name, bogus=1)
    finally:
        m.close_fd()
        m.unlink()


def test_flags(names):
    name = names("shm")
    with pytest.raises(posix_ipc.ExistentialError, match="No shared memory exists"):
        SharedMemory(name)
    a = SharedMemory(name, O_CREAT, size=100)
    try:
        with pytest.raises(posix_ipc.ExistentialError, match="already exists"):
            SharedMemory(name, O_CREX)
        with pytest.raises(ValueError, match="O_EXCL must be combined with O_CREAT"):
            SharedMemory(name, O_EXCL)
        b = SharedMemory(name, O_CREAT)  # open-or-create an existing one: size 0 = untouched
        assert b.size == 100
        b.close_fd()
        c = SharedMemory(name, O_TRUNC)  # O_TRUNC alone truncates an existing segment
        assert c.size == 0 and a.size == 0
        c.close_fd()
    finally:
        a.close_fd()
        a.unlink()


def test_size_resizes_existing_segment(names):
    name = names("shm")
    a = SharedMemory(name, O_CREX, size=8192)
    try:
        b = SharedMemory(name, size=100)  # posix_ipc: a non-zero size resizes what exists
        assert a.size == b.size == 100
        c = SharedMemory(name, O_CREAT, size=20000)
        assert a.size == 20000
        b.close_fd()
        c.close_fd()
        d = SharedMemory(name, O_TRUNC, size=10)
        assert a.size == 10
        d.close_fd()
    finally:
        a.close_fd()
        a.unlink()


def test_read_only(names):
    name = names("shm")
    a = SharedMemory(name, O_CREX, size=4096)
    try:
        with mmap.mmap(a.fd, 4096) as w:
            w[:3] = b"abc"
        r = SharedMemory(name, read_only=True)
        with mmap.mmap(r.fd, r.size, prot=mmap.PROT_READ) as ro:
            assert ro[:3] == b"abc"
        with pytest.raises(PermissionError):
            mmap.mmap(r.fd, r.size)  # the descriptor really is O_RDONLY
        r.close_fd()
        # posix_ipc 1.3.2 destroys the segment here; the error must leave it intact
        with pytest.raises(ValueError, match="The size is invalid or the memory is read-only"):
            SharedMemory(name, read_only=True, size=8192)
        assert os.path.exists(path(name)) and a.size == 4096
        with pytest.raises(TypeError):
            SharedMemory(name, read_only="yes")
        with pytest.raises(ValueError):  # cannot create a sized segment read-only
            SharedMemory(names("shm"), O_CREX, read_only=True, size=10)
        r2 = SharedMemory(name, read_only=1)
        r2.close_fd()
    finally:
        a.close_fd()
        a.unlink()


def test_bad_sizes(names):
    name = names("shm")
    with pytest.raises(ValueError, match="The size is invalid"):
        SharedMemory(name, O_CREX, size=-1)
    with pytest.raises(ValueError, match="The size is too large"):
        SharedMemory(name, O_CREX, size=2**64)
    with pytest.raises(ValueError):
        SharedMemory(name, O_CREX, size=2**63)
    with pytest.raises(TypeError):
        SharedMemory(name, O_CREX, size="10")
    assert not os.path.exists(path(name))


def test_generated_name_and_name_types(names):
    with pytest.raises(ValueError, match="Name can only be None if O_EXCL is set"):
        SharedMemory(None, O_CREAT)
    m = SharedMemory(None, O_CREX, size=10)
    names.adopt(m.name)
    try:
        assert os.path.exists(path(m.name)) and m.size == 10
    finally:
        m.close_fd()
        m.unlink()
    name = names("shm")
    m = SharedMemory(name.encode(), O_CREX)
    assert m.name == name
    m.close_fd()
    m.unlink()
    for bad in (bytearray(b"/x"), 1):
        with pytest.raises(TypeError, match="Name must be None or a string"):
            SharedMemory(bad, O_CREX)
    for bad in ("", "/", "/a/b"):
        with pytest.raises(ValueError):
            SharedMemory(bad, O_CREX)
    with pytest.raises(ValueError, match="The name is too long"):
        SharedMemory("/" + "n" * 300, O_CREX)


def test_close_fd_and_unlink(names):
    name = names("shm")
    m = SharedMemory(name, O_CREX, size=4096)
    mapping = mmap.mmap(m.fd, m.size)
    m.close_fd()
    assert m.fd == -1 and m.fileno() == -1
    m.close_fd()  # no-op
    with pytest.raises(posix_ipc.ExistentialError, match="The segment does not exist"):
        m.size
    mapping[:2] = b"ok"  # mappings survive close_fd
    mapping.close()
    m.unlink()  # works after close_fd
    assert not os.path.exists(path(name))
    with pytest.raises(posix_ipc.ExistentialError, match="No shared memory exists"):
        m.unlink()


def test_object_protocol(names):
    m = SharedMemory(names("shm"), O_CREX)
    try:
        for attr in ("name", "mode", "fd", "size"):
            with pytest.raises(AttributeError):
                setattr(m, attr, 1)
        with pytest.raises(AttributeError):
            m.anything = 1
        with pytest.raises(TypeError):
            pickle.dumps(m)
        assert not hasattr(m, "close")  # posix_ipc has close_fd only
        assert m == m and m != SharedMemory(m.name)

        class Sub(SharedMemory):
            pass

        s = Sub(m.name)
        assert isinstance(s, SharedMemory)
        s.close_fd()
    finally:
        m.close_fd()
        m.unlink()
