"""``warmline serve <service>`` loads no torch, for any service.

torch costs about 480 MiB of resident memory and two seconds of start-up in every
process that imports it. Ingestion, decisioning, notification and record never run
the model; scoring runs it from a serving directory with ONNX Runtime and numpy
(``WARMLINE_SCORING__SERVING_DIR``, the scoring image), and imports the torch engine
only when it builds one. Each check runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from warmline.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]

# What `warmline serve NAME` imports before the service starts: the CLI, then the
# service's entry point.
_PROBE = """
import json, sys
import warmline.cli
from warmline.services import load_service
load_service(sys.argv[1])
print(json.dumps(sorted(m for m in ("torch", "faust", "onnxruntime") if m in sys.modules)))
"""


def heavy_modules_loaded_to_serve(name: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, name], env=env, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_serving_any_service_imports_no_torch(name: str) -> None:
    loaded = heavy_modules_loaded_to_serve(name)
    assert "torch" not in loaded
    # ONNX Runtime is loaded when the scoring engine starts, never at import.
    assert "onnxruntime" not in loaded
    # Only the decisioning worker is a faust app.
    assert ("faust" in loaded) == (name == "decisioning")


@pytest.mark.parametrize(("given", "used"), [(None, "1"), ("2", "2")])
def test_numpys_blas_runs_one_thread_unless_the_environment_says(
    given: str | None, used: str
) -> None:
    # BLAS threads spinning after the heads' products took the cores from ONNX
    # Runtime's workers (the model benchmark: 890 against 1,480 messages/s).
    pytest.importorskip("threadpoolctl")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = str(ROOT / "services")
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    # The threads numpy's OpenBLAS will really use, as threadpoolctl reads them.
    probe = (
        "import warmline, numpy, threadpoolctl\n"
        "pools = [p for p in threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas']\n"
        "print(pools[0]['num_threads'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == used
