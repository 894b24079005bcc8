# SPDX-License-Identifier: BSL-1.0
"""posix_ipc's errno -> exception table (reference §4a), row by row.

Real calls provoke most rows elsewhere in the suite; this drives the module's mapping directly
through its test hook `posix_ipc._raise_mapped(kind, op, code, category)`, so that rows no test can
provoke (ENFILE, ENOMEM, ENOSPC for root, ...) are checked too.
"""
import errno

import pytest

import posix_ipc as P

SEM, SHM, MQ = "semaphore", "shared_memory", "message_queue"
NO_SUCH = {SEM: "No semaphore exists with the specified name",
           SHM: "No shared memory exists with the specified name",
           MQ: "No queue exists with the specified name"}
EXISTS = {SEM: "A semaphore with the specified name already exists",
          SHM: "Shared memory with the specified name already exists",
          MQ: "A queue with the specified name already exists"}

ROWS = [
    # open (constructors)
    (SEM, "open", errno.EACCES, P.PermissionsError, "Permission denied"),
    (SHM, "open", errno.EACCES, P.PermissionsError, "No permission to access/truncate this segment"),
    (MQ, "open", errno.EACCES, P.PermissionsError, "Permission denied"),
    *[(k, "open", errno.EEXIST, P.ExistentialError, EXISTS[k]) for k in (SEM, SHM, MQ)],
    *[(k, "open", errno.ENOENT, P.ExistentialError, NO_SUCH[k]) for k in (SEM, SHM, MQ)],
    *[(k, "open", errno.EINVAL, ValueError, "Invalid parameter(s)") for k in (SEM, SHM, MQ)],
    *[(k, "open", errno.ENAMETOOLONG, ValueError, "The name is too long") for k in (SEM, SHM, MQ)],
    *[(k, "open", errno.EMFILE, OSError,
       "This process already has the maximum number of files open") for k in (SEM, SHM, MQ)],
    *[(k, "open", errno.ENFILE, OSError,
       "The system limit on the total number of open files has been reached")
      for k in (SEM, SHM, MQ)],
    (MQ, "open", errno.ENOSPC, OSError, "Insufficient space for a new queue"),
    *[(k, "open", errno.ENOMEM, MemoryError, "Not enough memory") for k in (SEM, SHM, MQ)],
    # waits and I/O
    (SEM, "acquire", errno.EINVAL, P.ExistentialError, "The semaphore does not exist"),
    (SEM, "acquire", errno.EBADF, P.ExistentialError, "The semaphore does not exist"),
    (MQ, "send", errno.EINVAL, P.ExistentialError,
     "The message queue does not exist or is not open for writing"),
    (MQ, "send", errno.EBADF, P.ExistentialError,
     "The message queue does not exist or is not open for writing"),
    (MQ, "receive", errno.EBADF, P.ExistentialError,
     "The message queue does not exist or is not open for reading"),
    (SEM, "acquire", errno.EAGAIN, P.BusyError, "Semaphore is busy"),
    (SEM, "acquire", errno.ETIMEDOUT, P.BusyError, "Semaphore is busy"),
    (MQ, "send", errno.EAGAIN, P.BusyError, "The queue is full"),
    (MQ, "send", errno.ETIMEDOUT, P.BusyError, "The queue is full"),
    (MQ, "receive", errno.EAGAIN, P.BusyError, "The queue is empty"),
    (MQ, "receive", errno.ETIMEDOUT, P.BusyError, "The queue is empty"),
    (SEM, "acquire", errno.EINTR, P.SignalError, "The wait was interrupted by a signal"),
    (MQ, "receive", errno.EINTR, P.SignalError, "The wait was interrupted by a signal"),
    (MQ, "send", errno.EMSGSIZE, ValueError, "The message is too long"),
    # unlink
    (SEM, "unlink", errno.EACCES, P.PermissionsError, "Denied permission to unlink this semaphore"),
    (SHM, "unlink", errno.EACCES, P.PermissionsError, "Permission denied"),
    (MQ, "unlink", errno.EACCES, P.PermissionsError, "Permission denied"),
    *[(k, "unlink", errno.ENOENT, P.ExistentialError, NO_SUCH[k]) for k in (SEM, SHM, MQ)],
    (SEM, "unlink", errno.EINVAL, P.ExistentialError, NO_SUCH[SEM]),
    (MQ, "unlink", errno.EINVAL, P.ExistentialError, NO_SUCH[MQ]),
    *[(k, "unlink", errno.ENAMETOOLONG, ValueError, "The name is too long")
      for k in (SEM, SHM, MQ)],
    # other sites
    (SEM, "attribute", errno.EINVAL, P.ExistentialError, "The semaphore does not exist"),
    (SEM, "close", errno.EINVAL, P.ExistentialError, "The semaphore does not exist"),
    (SEM, "release", errno.EBADF, P.ExistentialError, "The semaphore does not exist"),
    (SHM, "attribute", errno.EBADF, P.ExistentialError, "The segment does not exist"),
    (SHM, "attribute", errno.EINVAL, P.ExistentialError, "The segment does not exist"),
    (MQ, "attribute", errno.EBADF, P.ExistentialError, "The queue does not exist"),
    (MQ, "close", errno.EBADF, P.ExistentialError, "The queue does not exist"),
    (MQ, "notify", errno.EBUSY, P.BusyError,
     "The queue is already delivering notifications elsewhere"),
    (SHM, "resize", errno.EINVAL, ValueError, "The size is invalid or the memory is read-only"),
    (SHM, "resize", errno.EFBIG, ValueError, "The size is too large"),
    (SHM, "resize", errno.EROFS, P.PermissionsError, "The memory is read-only"),
    (SHM, "resize", errno.EACCES, P.PermissionsError, "The memory is read-only"),
    # EPERM: a PermissionsError here (posix_ipc: OSError)
    (SHM, "unlink", errno.EPERM, P.PermissionsError, "Permission denied"),
]


@pytest.mark.parametrize("kind,op,code,exc,message", ROWS)
def test_errno_row(kind, op, code, exc, message):
    with pytest.raises(exc) as info:
        P._raise_mapped(kind, op, code, "errno")
    assert type(info.value) is exc
    assert str(info.value) == message
    if exc is OSError:
        assert info.value.errno is None  # posix_ipc's OSError(msg) rows


@pytest.mark.parametrize("kind,op,code", [
    (SEM, "open", errno.EIO), (MQ, "receive", errno.EIO), (SHM, "unlink", errno.EINVAL),
    (SEM, "release", errno.EOVERFLOW), (MQ, "notify", errno.EINVAL), (MQ, "notify", errno.EBADF),
    (SHM, "open", errno.ENOSPC),
])
def test_other_errnos_are_oserror_with_errno(kind, op, code):
    with pytest.raises(OSError) as info:
        P._raise_mapped(kind, op, code, "errno")
    assert info.value.errno == code


def test_hook_rejects_nonsense():
    with pytest.raises(ValueError):
        P._raise_mapped("pipe", "open", 1, "errno")
