"""A thread a failed test leaves running must not keep the test run alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import threading, time

def test_leaves_a_thread_running_and_fails():
    threading.Thread(target=lambda: time.sleep(3600), name="left-behind").start()
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
    assert "threads left running after the tests, not waited for: left-behind" in done.stderr
