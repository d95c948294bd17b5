"""Stops a local broker when the process that started it dies, however it dies.

:class:`~warmline.localkafka.broker.LocalKafka` starts this guard beside the
broker's JVM, each in its own session (so a Ctrl-C aimed at the parent's
process group reaches neither), with the guard's stdin a pipe whose only write
end the parent holds. The guard blocks reading it. A parent that stops the broker
waits for the JVM, then closes the pipe; a parent killed by any signal, SIGKILL
included, has the pipe closed by the kernel. Either way the guard reads EOF, and
terminates the JVM's process group if it is still there (SIGTERM, then SIGKILL
after the grace period): no broker outlives the test run, demo or benchmark that
started it.

Usage: ``python -m warmline.localkafka.guard <jvm process group id> [grace seconds]``
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def guard(pgid: int, grace_s: float) -> None:
    """Wait for EOF on stdin, then make sure the process group ``pgid`` is gone."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only EOF ends the watch
    while sys.stdin.buffer.read(4096):
        pass
    if not _alive(pgid):
        return
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _alive(pgid):
            return
        time.sleep(0.1)
    if _alive(pgid):
        os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    guard(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
