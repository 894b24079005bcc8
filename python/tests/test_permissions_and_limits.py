# SPDX-License-Identifier: BSL-1.0
"""Errors only another user or an exhausted limit can produce, provoked in forked children.

Root ignores mode bits, so the permission checks run as uid/gid 65534 (nobody) in a child.
"""
import os
import resource

import pytest

import posix_ipc
from posix_ipc import O_CREAT, O_CREX, MessageQueue, Semaphore, SharedMemory

from conftest import mq_exists, run_in_child

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")


def exc_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: B902
        return f"{type(e).__module__}.{type(e).__name__}: {e}"
    return "no exception"


@needs_root
def test_permissions_error_for_other_users_objects(names):
    sem = Semaphore(names("sem"), O_CREX, mode=0o600)
    shm = SharedMemory(names("shm"), O_CREX, mode=0o600, size=4096)
    mq = MessageQueue(names("mq"), O_CREX, mode=0o600, max_messages=1, max_message_size=8)
    ro_shm = SharedMemory(names("shm"), O_CREX, mode=0o644, size=4096)
    try:
        def probe():
            return "\n".join([
                exc_of(lambda: Semaphore(sem.name)),
                exc_of(lambda: SharedMemory(shm.name)),
                exc_of(lambda: MessageQueue(mq.name)),
                exc_of(lambda: MessageQueue(mq.name, read=False)),
                exc_of(lambda: Semaphore(sem.name, O_CREAT)),
                exc_of(lambda: SharedMemory(ro_shm.name)),                  # 0644: no write
                exc_of(lambda: SharedMemory(ro_shm.name, read_only=True).close_fd()),  # fine
                exc_of(lambda: posix_ipc.unlink_semaphore(sem.name)),
                exc_of(lambda: posix_ipc.unlink_shared_memory(shm.name)),
                exc_of(lambda: posix_ipc.unlink_message_queue(mq.name)),
            ])

        code, out = run_in_child(probe, as_nobody=True)
        assert code == 0, out
        lines = out.split("\n")
        perm = "posix_ipc.PermissionsError"
        assert lines[0] == f"{perm}: Permission denied"
        assert lines[1] == f"{perm}: No permission to access/truncate this segment"
        assert lines[2] == f"{perm}: Permission denied"
        assert lines[3] == f"{perm}: Permission denied"
        assert lines[4] == f"{perm}: Permission denied"
        assert lines[5] == f"{perm}: No permission to access/truncate this segment"
        assert lines[6] == "no exception"
        assert lines[7] == f"{perm}: Denied permission to unlink this semaphore"
        assert lines[8].startswith(perm)
        assert lines[9].startswith(perm)
        # and nothing was removed
        for n in (sem.name, shm.name, ro_shm.name):
            assert os.path.exists("/dev/shm/" + ("sem." if n == sem.name else "") + n[1:])
        assert mq_exists(mq.name)
    finally:
        sem.unlink()
        sem.close()
        for s in (shm, ro_shm):
            s.close_fd()
            s.unlink()
        mq.close()
        mq.unlink()


def test_too_many_open_files(names):
    name = names("mq")
    q = MessageQueue(name, O_CREX, max_messages=1, max_message_size=8)
    try:
        def probe():
            # leave no free descriptor: every further open fails with EMFILE
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            held = []
            try:
                while True:
                    held.append(os.open("/dev/null", os.O_RDONLY))
            except OSError:
                pass
            return "\n".join([
                exc_of(lambda: MessageQueue(name)),
                exc_of(lambda: SharedMemory(names("shm"), O_CREX)),
            ])

        code, out = run_in_child(probe)
        assert code == 0, out
        lines = out.split("\n")
        assert lines[0] == ("builtins.OSError: This process already has the maximum number of "
                            "files open")
        assert lines[1] == lines[0]
    finally:
        q.close()
        q.unlink()


def test_rlimit_msgqueue_exhausted(names):
    name = names("mq")

    def probe():
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (1024, 1024))
        return exc_of(lambda: MessageQueue(name, O_CREX, max_messages=10, max_message_size=8192))

    code, out = run_in_child(probe)
    assert code == 0, out
    assert out.startswith("builtins.OSError: ") and "RLIMIT_MSGQUEUE" in out, out
    assert not mq_exists(name)


def test_invalid_parameter_errors_change_nothing(names):
    name = names("mq")
    if os.geteuid() == 0:
        # root may exceed msg_max up to the kernel's hard cap; the cap itself is still an error
        bad = dict(max_messages=70000)
    else:
        bad = dict(max_messages=posix_ipc.QUEUE_MESSAGES_MAX_DEFAULT + 1)
    with pytest.raises(ValueError, match=r"Invalid parameter\(s\)"):
        MessageQueue(name, O_CREX, **bad)
    assert not mq_exists(name)
