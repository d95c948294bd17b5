"""The start-up check of the faust parts the worker relies on that faust does not promise."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from faust.transport.consumer import Consumer

from warmline import decisioning
from warmline.common.settings import DecisioningSettings, WarmlineSettings
from warmline.decisioning.app import DecisioningApp
from warmline.decisioning.faust_runtime import faust_private
from warmline.decisioning.faust_runtime.consumer import WorkerApp
from warmline.decisioning.faust_runtime.faust_private import (
    RELIED_ON,
    USED_BY_TESTS,
    WRITTEN_FOR,
    check_faust_private,
    installed_version,
)
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.policy_store import PolicyStore


def decisioning_app(tmp_path: Path) -> DecisioningApp:
    settings = WarmlineSettings(decisioning=DecisioningSettings(data_dir=tmp_path))
    return DecisioningApp(settings, PolicyStore.from_path(DEFAULT_POLICY_PATH))


async def test_the_installed_faust_has_every_part_the_worker_and_its_tests_rely_on(
    tmp_path: Path,
) -> None:
    app = decisioning_app(tmp_path).app  # the worker checked RELIED_ON as it was built
    check_faust_private(app, RELIED_ON + USED_BY_TESTS)


async def test_a_missing_private_method_stops_start_up_naming_it_and_both_faust_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faust_private, "installed_version", lambda: "0.99.0")
    monkeypatch.delattr(Consumer, "_add_gap")
    with pytest.raises(RuntimeError) as raised:
        decisioning_app(tmp_path)
    message = str(raised.value)
    assert "faust.transport.consumer.Consumer._add_gap is missing" in message
    assert "WorkerConsumer._drain_messages" in message  # what relies on it
    assert "faust-streaming 0.99.0 is installed" in message
    assert f"written for faust-streaming {WRITTEN_FOR}" in message


async def test_a_changed_signature_and_a_missing_instance_attribute_are_named_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def drain_messages(self: Consumer, fetcher: object, budget: int) -> None: ...

    monkeypatch.setattr(Consumer, "_drain_messages", drain_messages)
    app = WorkerApp("faust-private-test", broker="kafka://127.0.0.1:9", store="memory://")
    del app.consumer._read_offset
    with pytest.raises(RuntimeError) as raised:
        check_faust_private(app)
    message = str(raised.value)
    assert "Consumer._drain_messages takes ('self', 'fetcher', 'budget')" in message
    assert "Consumer._read_offset is not set on WorkerConsumer" in message
    assert installed_version() in message


def test_every_private_name_the_decisioning_code_reaches_for_is_listed() -> None:
    # A private attribute read or called on anything, that no class of the
    # package defines (as a method, a class attribute or in ``__init__``), is faust's.
    package = Path(decisioning.__file__).parent
    used: set[str] = set()
    own: set[str] = set()
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                used.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                own |= _defined_by(node)
    listed = {part.name for part in RELIED_ON + USED_BY_TESTS}
    assert used - own <= listed, f"not in faust_private: {sorted(used - own - listed)}"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_by(cls: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
            if node.name == "__init__":
                names |= {
                    target.attr
                    for statement in ast.walk(node)
                    if isinstance(statement, ast.Assign | ast.AnnAssign)
                    for target in (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                    )
                    if isinstance(target, ast.Attribute)
                }
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return {name for name in names if _private(name)}


def test_an_attribute_aiokafka_sets_only_once_running_is_checked_in_its_init() -> None:
    from aiokafka import AIOKafkaConsumer

    from warmline.decisioning.faust_runtime.faust_private import Reliance, _problems

    present = Reliance(AIOKafkaConsumer, "_coordinator", "stall watch", on_instances="init")
    gone = Reliance(AIOKafkaConsumer, "_no_such_part", "stall watch", on_instances="init")
    assert _problems(present, {}) == []
    assert _problems(gone, {}) == [
        "aiokafka.consumer.consumer.AIOKafkaConsumer._no_such_part is not set in __init__ "
        "(used by stall watch)"
    ]
