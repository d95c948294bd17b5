"""A thread a failed test leaves running must not keep the test run alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import io, logging, threading, time

def chatter():
    # Logs to a closed stream after the session, as a faust consumer's
    # heartbeat did once pytest had closed the stream its handler held.
    log = logging.getLogger("chatter")
    log.propagate = False
    stream = io.StringIO()
    log.addHandler(logging.StreamHandler(stream))
    stream.close()
    while True:
        time.sleep(0.05)
        log.error("heartbeat session expired")

def test_passes_and_leaves_an_idle_executor():
    from concurrent.futures import ThreadPoolExecutor
    ThreadPoolExecutor(1, thread_name_prefix="idle-pool").submit(lambda: None).result()

def test_leaves_a_thread_running_and_fails():
    threading.Thread(target=chatter, name="left-behind").start()
    assert False
"""


def test_a_run_whose_test_leaves_a_thread_ends_with_the_failure_and_names_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'services'}",
        "WARMLINE_TEST_THREAD_GRACE_S": "0.5",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_leaky.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1  # the failure, not a hang and not a pass
    tail = done.stderr.strip().splitlines()
    assert tail[-2] == "threads left running after the tests, not waited for: left-behind"
    assert tail[-1] == "failed: test_leaky.py::test_leaves_a_thread_running_and_fails (call)"
    assert "Logging error" not in done.stderr
    assert "idle-pool" not in done.stderr  # ended by its executor's exit hook, not named
