# SPDX-License-Identifier: BSL-1.0
"""posix_ipc.MessageQueue: constructor, send/receive, attributes, errors."""
import os
import pickle
import stat
import threading
import time

import pytest

import posix_ipc
from posix_ipc import O_CREAT, O_CREX, O_EXCL, O_NONBLOCK, MessageQueue

from conftest import mq_exists


def mqpath(name):
    return "/dev/mqueue/" + name[1:]


@pytest.fixture
def queue(names):
    q = MessageQueue(names("mq"), O_CREX, max_messages=4, max_message_size=64)
    try:
        yield q
    finally:
        try:
            q.close()
        except posix_ipc.ExistentialError:
            pass
        q.unlink()


def test_defaults_and_attributes(names):
    name = names("mq")
    q = MessageQueue(name, O_CREX)
    try:
        assert q.name == name and str(q) == name and q.mode == 0o600
        assert q.max_messages == posix_ipc.QUEUE_MESSAGES_MAX_DEFAULT
        assert q.max_message_size == posix_ipc.QUEUE_MESSAGE_SIZE_MAX_DEFAULT
        assert q.current_messages == 0 and q.block is True
        assert q.mqd >= 0 and q.fileno() == q.mqd
        assert repr(q) == (f'posix_ipc.MessageQueue("{name}", mode=0600, max_message_size='
                           f'{q.max_message_size}, max_messages={q.max_messages}, read=True, '
                           f'write=True)')
        if os.path.ismount("/dev/mqueue"):
            assert stat.S_IMODE(os.stat(mqpath(name)).st_mode) == 0o600
    finally:
        q.close()
        q.unlink()


def test_keywords_and_reopen(names):
    name = names("mq")
    q = MessageQueue(name=name, flags=O_CREX, mode=0o640, max_messages=3, max_message_size=100,
                     read=True, write=True)
    try:
        assert (q.max_messages, q.max_message_size, q.mode) == (3, 100, 0o640)
        # reopening reports the queue's real geometry; the sizes are ignored without O_CREAT
        r = MessageQueue(name, max_messages=-5, max_message_size=0)
        assert (r.max_messages, r.max_message_size) == (3, 100)
        r.close()
        r = MessageQueue(name, O_CREAT, max_messages=1, max_message_size=1)
        assert (r.max_messages, r.max_message_size) == (3, 100)
        r.close()
        # as with mq_open, O_CREAT with sizes that could not create a queue opens an existing one
        r = MessageQueue(name, O_CREAT, max_messages=0, max_message_size=-1)
        assert (r.max_messages, r.max_message_size) == (3, 100)
        r.close()
        with pytest.raises(TypeError):
            MessageQueue(name, bogus=1)
    finally:
        q.close()
        q.unlink()


def test_flags_and_names(names):
    name = names("mq")
    with pytest.raises(posix_ipc.ExistentialError, match="No queue exists"):
        MessageQueue(name)
    with pytest.raises(ValueError, match="O_EXCL must be combined with O_CREAT"):
        MessageQueue(name, O_EXCL)
    with pytest.raises(ValueError, match="Name can only be None if O_EXCL is set"):
        MessageQueue(None, O_CREAT)
    q = MessageQueue(name, O_CREAT, max_messages=1, max_message_size=8)
    try:
        with pytest.raises(posix_ipc.ExistentialError, match="A queue with the specified name"):
            MessageQueue(name, O_CREX)
    finally:
        q.close()
        q.unlink()
    g = MessageQueue(None, O_CREX, max_messages=1, max_message_size=8)
    names.adopt(g.name)
    assert mq_exists(g.name)
    g.close()
    g.unlink()
    b = MessageQueue(name.encode(), O_CREX, max_messages=1, max_message_size=8)
    assert b.name == name
    b.close()
    b.unlink()
    for bad in (bytearray(b"/x"), 3):
        with pytest.raises(TypeError, match="Name must be None or a string"):
            MessageQueue(bad, O_CREX)
    for bad in ("", "/", "noslash", "/a/b"):
        with pytest.raises(ValueError):
            MessageQueue(bad, O_CREX)
    with pytest.raises(ValueError, match="The name is too long"):
        MessageQueue("/" + "q" * 300, O_CREX)


@pytest.mark.parametrize("kw", [
    dict(max_messages=0), dict(max_messages=-1), dict(max_message_size=0),
    dict(max_message_size=-3), dict(max_messages=100000), dict(max_message_size=10**8),
    dict(read=False, write=False), dict(mode=0o20000),
])
def test_invalid_parameters(names, kw):
    name = names("mq")
    with pytest.raises(ValueError):
        MessageQueue(name, O_CREX, **kw)
    with pytest.raises(ValueError):
        MessageQueue(name, O_CREAT, **kw)
    assert not mq_exists(name)


def test_send_receive_priorities(queue):
    queue.send(b"low", priority=1)
    queue.send("high \u00e9", priority=9)  # str is sent as UTF-8
    queue.send(bytearray(b"mid"), None, 5)
    queue.send(memoryview(b"low2"), priority=1)
    assert queue.current_messages == 4
    assert queue.receive() == ("high \u00e9".encode(), 9)
    assert queue.receive(timeout=1) == (b"mid", 5)
    assert queue.receive(0) == (b"low", 1)
    assert queue.receive(0.5) == (b"low2", 1)
    queue.send(b"")  # empty and NUL-containing messages are fine
    queue.send(b"a\0b", priority=posix_ipc.QUEUE_PRIORITY_MAX)
    assert queue.receive() == (b"a\0b", posix_ipc.QUEUE_PRIORITY_MAX)
    msg, prio = queue.receive()
    assert msg == b"" and prio == 0 and type(msg) is bytes and type(prio) is int
    queue.send(b"x" * 64)


def test_send_errors(queue):
    with pytest.raises(TypeError):
        queue.send()  # posix_ipc 1.3.2 segfaults here
    for bad in (None, 42, 1.5, object()):
        with pytest.raises(TypeError):
            queue.send(bad)
    with pytest.raises(UnicodeEncodeError):
        queue.send("\udc80")  # lone surrogate: posix_ipc segfaults
    with pytest.raises(ValueError, match="The message is too long"):
        queue.send(b"x" * 65)
    for bad in (-1, posix_ipc.QUEUE_PRIORITY_MAX + 1, 2**80):
        with pytest.raises(ValueError, match="QUEUE_PRIORITY_MAX"):
            queue.send(b"x", priority=bad)
    # the priority error wins over the length error, as in posix_ipc
    with pytest.raises(ValueError, match="priority"):
        queue.send(b"x" * 65, priority=-1)
    with pytest.raises(TypeError):
        queue.send(b"x", priority="1")
    for bad in (-1, "1", float("nan")):
        with pytest.raises(TypeError, match="The timeout must be None or a non-negative number"):
            queue.send(b"x", timeout=bad)
    with pytest.raises(TypeError):
        queue.send(b"x", 1, 2, 3)
    with pytest.raises(TypeError):
        queue.send(b"x", message=b"y")
    with pytest.raises(TypeError):
        queue.send(b"x", prio=1)
    assert queue.current_messages == 0  # nothing was sent by any of these


def test_full_and_empty(queue):
    for i in range(4):
        queue.send(b"%d" % i)
    with pytest.raises(posix_ipc.BusyError, match="The queue is full"):
        queue.send(b"x", 0)
    t0 = time.monotonic()
    with pytest.raises(posix_ipc.BusyError, match="The queue is full"):
        queue.send(b"x", timeout=0.2)
    assert 0.19 <= time.monotonic() - t0 < 10
    for i in range(4):
        queue.receive()
    with pytest.raises(posix_ipc.BusyError, match="The queue is empty"):
        queue.receive(0)
    t0 = time.monotonic()
    with pytest.raises(posix_ipc.BusyError, match="The queue is empty"):
        queue.receive(timeout=0.2)
    assert 0.19 <= time.monotonic() - t0 < 10
    with pytest.raises(TypeError):
        queue.receive(1, 2)
    with pytest.raises(TypeError):
        queue.receive(tmo=1)


def test_block_attribute(names, queue):
    assert queue.block is True
    queue.block = 0
    assert queue.block is False
    with pytest.raises(posix_ipc.BusyError, match="The queue is empty"):
        queue.receive()  # non-blocking: no wait even without a timeout
    with pytest.raises(posix_ipc.BusyError):
        queue.receive(5)
    for i in range(4):
        queue.send(b"m")
    with pytest.raises(posix_ipc.BusyError, match="The queue is full"):
        queue.send(b"m")
    queue.block = True
    assert queue.block is True
    nb = MessageQueue(queue.name, O_NONBLOCK)
    try:
        assert nb.block is False and queue.block is True  # per open file description
        with pytest.raises(posix_ipc.BusyError):
            nb.send(b"m")
    finally:
        nb.close()


def test_read_write_flags(names, queue):
    w = MessageQueue(queue.name, read=False)
    r = MessageQueue(queue.name, write=0)
    try:
        assert "read=False, write=True" in repr(w)
        assert "read=True, write=False" in repr(r)
        with pytest.raises(posix_ipc.PermissionsError, match="The queue is not open for reading"):
            w.receive()
        with pytest.raises(posix_ipc.PermissionsError, match="The queue is not open for writing"):
            r.send(b"x")
        w.send(b"through", priority=3)
        assert r.receive() == (b"through", 3)
    finally:
        w.close()
        r.close()


def test_close_and_unlink(names):
    name = names("mq")
    q = MessageQueue(name, O_CREX, max_messages=2, max_message_size=16)
    q.close()
    assert q.mqd == -1 and q.fileno() == -1
    with pytest.raises(posix_ipc.ExistentialError, match="The queue does not exist"):
        q.close()
    with pytest.raises(posix_ipc.ExistentialError, match="not open for writing"):
        q.send(b"x")
    with pytest.raises(posix_ipc.ExistentialError, match="not open for reading"):
        q.receive()
    for attr in ("block", "current_messages"):
        with pytest.raises(posix_ipc.ExistentialError, match="The queue does not exist"):
            getattr(q, attr)
    with pytest.raises(posix_ipc.ExistentialError):
        q.block = False
    assert (q.name, q.mode, q.max_messages, q.max_message_size) == (name, 0o600, 2, 16)
    q.unlink()  # fine after close
    with pytest.raises(posix_ipc.ExistentialError, match="No queue exists"):
        q.unlink()
    assert not mq_exists(name)


def test_object_protocol(queue):
    for attr in ("name", "mode", "max_messages", "max_message_size", "mqd", "current_messages"):
        with pytest.raises(AttributeError):
            setattr(queue, attr, 1)
    with pytest.raises(AttributeError):
        queue.anything = 1
    with pytest.raises(TypeError):
        pickle.dumps(queue)
    for absent in ("__enter__", "__iter__", "receive_into"):
        assert not hasattr(queue, absent)
    other = MessageQueue(queue.name)
    assert queue == queue and queue != other
    other.close()

    class Sub(MessageQueue):
        pass

    s = Sub(queue.name)
    s.send(b"sub")
    assert queue.receive() == (b"sub", 0)
    s.close()


def test_gil_released_and_threads(queue):
    got = []

    def consumer():
        for _ in range(20):
            got.append(queue.receive(20))

    t = threading.Thread(target=consumer)
    t.start()
    try:
        for i in range(20):  # the queue holds 4: the sender blocks while the consumer waits
            queue.send(b"%d" % i, timeout=20)
    finally:
        t.join(20)
    assert [m for m, _ in got] == [b"%d" % i for i in range(20)]


def test_close_while_receiving(queue):
    other = MessageQueue(queue.name)
    result = []
    started = threading.Event()

    def receiver():
        started.set()
        result.append(queue.receive(20))

    t = threading.Thread(target=receiver)
    t.start()
    try:
        assert started.wait(20)
        queue.close()  # drops the wrapper's reference; the waiter keeps the descriptor alive
        assert queue.mqd == -1
        other.send(b"late")
        t.join(20)
        assert result == [(b"late", 0)]
    finally:
        other.close()


def test_uninitialised_object():
    q = MessageQueue.__new__(MessageQueue)
    with pytest.raises(posix_ipc.ExistentialError):
        q.send(b"x")
    with pytest.raises(posix_ipc.ExistentialError):
        q.receive()
