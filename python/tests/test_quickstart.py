# SPDX-License-Identifier: BSL-1.0
"""The seed's quickstart (python/examples/quickstart.py, unchanged) runs to its end."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(os.environ.get("PIPC_PY_EXAMPLES", os.path.join(HERE, "..", "examples")),
                       "quickstart.py")

EXPECTED = """\
Semaphore '/my_semaphore' created/opened. Value: 1
Semaphore acquired. Value: 0
Semaphore released. Value: 1
Semaphore '/my_semaphore' closed and unlinked.
Shared Memory '/my_shared_memory' created/opened with size 128.
Shared Memory '/my_shared_memory' unlinked.
Message Queue '/my_message_queue' created/opened.
Sent: Hello from message queue!
Received: Hello from message queue!
Message Queue '/my_message_queue' closed and unlinked.
"""


def test_quickstart_runs_to_the_end():
    import posix_ipc
    # it uses fixed names; a previous crashed run must not make it fail
    for unlink, name in ((posix_ipc.unlink_semaphore, "/my_semaphore"),
                         (posix_ipc.unlink_shared_memory, "/my_shared_memory"),
                         (posix_ipc.unlink_message_queue, "/my_message_queue")):
        try:
            unlink(name)
        except posix_ipc.ExistentialError:
            pass
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=30,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == EXPECTED
    assert done.stderr == ""
    assert not os.path.exists("/dev/shm/sem.my_semaphore")
    assert not os.path.exists("/dev/shm/my_shared_memory")
    with pytest.raises(posix_ipc.ExistentialError):
        posix_ipc.unlink_message_queue("/my_message_queue")
