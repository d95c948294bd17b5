"""The client package stands alone: no model, no faust, only what the ``client`` extra lists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Imports warmline.client in a fresh interpreter and reports every module loaded.
_PROBE = """
import json, sys
import warmline.client
from warmline.client import Backoff, ConsoleClient, IngestClient
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by_the_client() -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services")}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def with_dependencies(names: set[str]) -> set[str]:
    """``names`` and everything the installed distributions of them require (no extras)."""
    closed: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in closed:
            continue
        closed.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(requirement_name(requirement))
    return closed


def test_importing_the_client_loads_neither_torch_nor_faust() -> None:
    loaded = loaded_by_the_client()
    heavy = {"torch", "faust", "aiokafka", "onnxruntime", "tokenizers", "mode", "aiohttp"}
    assert not {m.split(".")[0] for m in loaded} & heavy


def test_the_client_needs_only_the_distributions_of_its_extra() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = {requirement_name(r) for r in pyproject["project"]["optional-dependencies"]["client"]}
    allowed = with_dependencies(extra) | {"warmline"}
    by_package = metadata.packages_distributions()
    third_party = {m.split(".")[0] for m in loaded_by_the_client()} - set(sys.stdlib_module_names)
    needed = {
        dist.lower().replace("_", "-")
        for top in third_party
        # grpc looks for grpc_tools, grpc_health, grpc_reflection and uses them only when present.
        if not top.startswith(("grpc_", "_"))
        for dist in by_package.get(top, [])
    }
    # "google" is shared by protobuf and googleapis-common-protos: both are in the extra.
    assert needed <= allowed, needed - allowed
    assert "torch" not in allowed
