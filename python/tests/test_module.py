# SPDX-License-Identifier: BSL-1.0
"""Module-level API: constants, exceptions, unlink functions, import path."""
import fcntl
import mmap
import os
import signal

import pytest

import posix_ipc


def read_proc(name, default):
    try:
        with open(f"/proc/sys/fs/mqueue/{name}") as f:
            return int(f.read())
    except OSError:
        return default


def test_flag_constants_match_fcntl():
    assert posix_ipc.O_CREAT == os.O_CREAT == 64
    assert posix_ipc.O_EXCL == os.O_EXCL == 128
    assert posix_ipc.O_CREX == os.O_CREAT | os.O_EXCL == 192
    assert posix_ipc.O_TRUNC == os.O_TRUNC == 512
    assert (posix_ipc.O_RDONLY, posix_ipc.O_WRONLY, posix_ipc.O_RDWR) == (0, 1, 2)
    assert posix_ipc.O_NONBLOCK == os.O_NONBLOCK == 2048


def test_run_time_constants():
    assert posix_ipc.PAGE_SIZE == mmap.PAGESIZE == os.sysconf("SC_PAGESIZE")
    assert posix_ipc.SEMAPHORE_VALUE_MAX == os.sysconf("SC_SEM_VALUE_MAX") == 2147483647
    assert posix_ipc.SEMAPHORE_TIMEOUT_SUPPORTED is True
    assert posix_ipc.SEMAPHORE_VALUE_SUPPORTED is True
    assert posix_ipc.MESSAGE_QUEUES_SUPPORTED is True
    assert posix_ipc.QUEUE_MESSAGES_MAX_DEFAULT == read_proc("msg_max", 10)
    assert posix_ipc.QUEUE_MESSAGE_SIZE_MAX_DEFAULT == read_proc("msgsize_max", 8192)
    assert posix_ipc.QUEUE_PRIORITY_MAX == os.sysconf("SC_MQ_PRIO_MAX") - 1 == 32767
    assert posix_ipc.USER_SIGNAL_MIN == signal.SIGRTMIN
    assert posix_ipc.USER_SIGNAL_MAX == signal.SIGRTMAX


def test_metadata():
    assert posix_ipc.VERSION == posix_ipc.__version__ == "1.3.2"
    assert posix_ipc.__author__ == "Philip Semanchuk"
    assert posix_ipc.__license__ == "BSD"
    assert posix_ipc.__copyright__.startswith("Copyright 2008")
    assert isinstance(posix_ipc.PIPC_VERSION, str)


def test_exception_hierarchy():
    assert issubclass(posix_ipc.Error, Exception)
    assert not issubclass(posix_ipc.Error, OSError)
    for cls in (posix_ipc.SignalError, posix_ipc.PermissionsError, posix_ipc.ExistentialError,
                posix_ipc.BusyError):
        assert issubclass(cls, posix_ipc.Error)
        assert cls.__module__ == "posix_ipc"
    assert posix_ipc.Error.__module__ == "posix_ipc"
    assert posix_ipc.PermissionsError is not PermissionError


def test_classes_live_in_posix_ipc():
    for cls in (posix_ipc.Semaphore, posix_ipc.SharedMemory, posix_ipc.MessageQueue):
        assert cls.__module__ == "posix_ipc"


@pytest.mark.parametrize("unlink,kind", [
    (posix_ipc.unlink_semaphore, "sem"),
    (posix_ipc.unlink_shared_memory, "shm"),
    (posix_ipc.unlink_message_queue, "mq"),
])
def test_unlink_functions(names, unlink, kind):
    name = names(kind)
    if kind == "sem":
        posix_ipc.Semaphore(name, posix_ipc.O_CREX).close()
    elif kind == "shm":
        posix_ipc.SharedMemory(name, posix_ipc.O_CREX).close_fd()
    else:
        posix_ipc.MessageQueue(name, posix_ipc.O_CREX, max_messages=1, max_message_size=8).close()
    assert unlink(name) is None
    with pytest.raises(posix_ipc.ExistentialError, match="No .* exists with the specified name"):
        unlink(name)
    # positional only, str only
    with pytest.raises(TypeError):
        unlink(name=name)
    with pytest.raises(TypeError):
        unlink(name.encode())
    with pytest.raises(TypeError):
        unlink()
    with pytest.raises(ValueError, match="The name is too long"):
        unlink("/" + "n" * 300)
    # a malformed name cannot exist
    with pytest.raises(posix_ipc.ExistentialError):
        unlink("noslash")


@pytest.mark.parametrize("cls", [posix_ipc.Semaphore, posix_ipc.SharedMemory,
                                 posix_ipc.MessageQueue])
def test_object_made_without_init_behaves_closed(cls):
    obj = cls.__new__(cls)
    assert obj.name is None and str(obj) == "(no name)" and obj.mode == 0o600
    with pytest.raises(posix_ipc.ExistentialError):
        obj.unlink()
    if cls is posix_ipc.SharedMemory:
        assert obj.fd == -1 and obj.fileno() == -1
        obj.close_fd()
        with pytest.raises(posix_ipc.ExistentialError):
            obj.size
    else:
        with pytest.raises(posix_ipc.ExistentialError):
            obj.close()
    # an unbound method given the wrong kind of object is refused, not reinterpreted
    wrong = posix_ipc.SharedMemory if cls is not posix_ipc.SharedMemory else posix_ipc.Semaphore
    with pytest.raises(TypeError):
        cls.unlink(wrong.__new__(wrong))
