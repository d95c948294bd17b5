"""Every part of faust-streaming (and mode) the worker relies on that faust does not promise.

The adaptations in this package override or call faust's private methods and
read its private attributes; the version range in ``pyproject.toml``
(``faust-streaming<0.16``) is what they were read against. A faust release can
rename or drop any of them without notice, and the damage would be quiet: an
override nobody calls any more, or an ``AttributeError`` in the fetch loop
under load. :func:`check_faust_private` looks each one up at start-up (the
wiring calls it before the worker starts) and raises a :class:`RuntimeError`
naming every one that is gone or changed, the installed faust-streaming version
and the version this list was written for.

:data:`RELIED_ON` is the complete list, in three kinds:

- methods that faust calls and an adaptation overrides, or that an adaptation
  calls: looked up on faust's class, with their parameter names;
- attributes faust sets in ``__init__``: looked up on the running app's
  consumer and tables;
- public hooks that an adaptation overrides (faust calls them by name, so a
  rename would leave the override unused without any error).

:data:`USED_BY_TESTS` lists the private parts only the tests use; the tests
check those, start-up does not.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import faust
import mode
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.group_coordinator import GroupCoordinator
from faust.assignor.leader_assignor import LeaderAssignor
from faust.tables.base import Collection
from faust.tables.table import Table
from faust.transport.conductor import Conductor
from faust.transport.consumer import Consumer, ThreadDelegateConsumer
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.stores import StoreT

#: The faust-streaming release the adaptations and this list were last read against.
WRITTEN_FOR = "0.15.3"

_CONSUMER = "consumer.WorkerConsumer"


@dataclass(frozen=True, slots=True)
class Reliance:
    """One part of faust the worker relies on, and which adaptation relies on it."""

    owner: type
    name: str
    used_by: str
    #: A method's parameter names, as faust declares them (None: not a method).
    parameters: tuple[str, ...] | None = None
    #: Set per instance in ``__init__``: looked up on the app's ``"consumer"`` or ``"tables"``,
    #: or, for a class the app builds only once it runs, ``"init"``: found assigned
    #: in ``owner.__init__``'s source.
    on_instances: str | None = None

    @property
    def qualified_name(self) -> str:
        """``module.Class.attribute``."""
        return f"{self.owner.__module__}.{self.owner.__qualname__}.{self.name}"


RELIED_ON: tuple[Reliance, ...] = (
    # The fetch loop (consumer.WorkerConsumer._drain_messages replaces faust's).
    Reliance(Consumer, "_drain_messages", f"{_CONSUMER} replaces it", ("self", "fetcher")),
    Reliance(
        Consumer,
        "_add_gap",
        f"{_CONSUMER}._drain_messages",
        ("self", "tp", "offset_from", "offset_to"),
    ),
    Reliance(Consumer, "_read_offset", f"{_CONSUMER}._drain_messages", on_instances="consumer"),
    Reliance(Consumer, "_commit_every", f"{_CONSUMER}._drain_messages", on_instances="consumer"),
    Reliance(Consumer, "_n_acked", f"{_CONSUMER}._drain_messages", on_instances="consumer"),
    Reliance(
        mode.Service,
        "_stopped",
        f"{_CONSUMER}._drain_messages (the consumer's and the fetcher's)",
        on_instances="consumer",
    ),
    # The commit gate.
    Reliance(
        faust_aiokafka.Consumer,
        "_commit",
        f"{_CONSUMER}._commit awaits the app's before_commit, then calls it",
        ("self", "offsets"),
    ),
    # The seek after a rebalance.
    Reliance(Consumer, "_is_changelog_tp", f"{_CONSUMER}.seek_to_committed", ("self", "tp")),
    Reliance(
        ThreadDelegateConsumer,
        "_thread",
        f"{_CONSUMER}.seek_to_committed",
        on_instances="consumer",
    ),
    Reliance(
        faust_aiokafka.AIOKafkaConsumerThread,
        "seek_to_beginning",
        f"{_CONSUMER}.seek_to_committed, through Consumer._thread",
        ("self", "partitions"),
    ),
    # The stall watch: what it logs at a stall, and how it rejoins the group.
    Reliance(
        Consumer, "_paused_partitions", "stall_watch.StallWatch logs them", on_instances="consumer"
    ),
    Reliance(
        faust_aiokafka.AIOKafkaConsumerThread,
        "_ensure_consumer",
        "stall_watch.StallWatch, through Consumer._thread",
        ("self",),
    ),
    Reliance(
        AIOKafkaConsumer,
        "_coordinator",
        "stall_watch.StallWatch rejoins through it",
        on_instances="init",
    ),
    Reliance(
        GroupCoordinator,
        "request_rejoin",
        "stall_watch.StallWatch (aiokafka's, on the consumer's _coordinator)",
        ("self",),
    ),
    # The app that installs the consumer.
    Reliance(faust.App, "_new_transport", "consumer.WorkerApp overrides it", ("self",)),
    # Sends straight to aiokafka (decisions, dead letters, changelog batches).
    Reliance(faust_aiokafka.Producer, "_ensure_producer", "deliveries.kafka_producer", ("self",)),
    # The changelog tables.
    Reliance(
        Collection,
        "_sensor_on_set",
        "batched_table.BatchedChangelogTable.on_key_set",
        on_instances="tables",
    ),
    Reliance(
        Collection,
        "_sensor_on_del",
        "batched_table.BatchedChangelogTable.on_key_del",
        on_instances="tables",
    ),
    # The local database as the tables' store (DECISIONING__STORE=sqlite).
    Reliance(
        Collection,
        "_new_store",
        "batched_table.BatchedChangelogTable._new_store overrides it",
        ("self",),
    ),
    # Public hooks the adaptations override.
    Reliance(Table, "on_key_set", "batched_table.BatchedChangelogTable", ("self", "key", "value")),
    Reliance(Table, "on_key_del", "batched_table.BatchedChangelogTable", ("self", "key")),
    Reliance(
        Collection,
        "partition_for_key",
        "batched_table.OnePartitionGlobalTable",
        ("self", "key"),
    ),
    Reliance(Consumer, "stop_flow", f"{_CONSUMER}.stop_flow", ("self",)),
    *(
        Reliance(StoreT, name, "sqlite_store.SqliteStore", parameters)
        for name, parameters in (
            ("persisted_offset", ("self", "tp")),
            ("set_persisted_offset", ("self", "tp", "offset")),
            ("apply_changelog_batch", ("self", "batch", "to_key", "to_value")),
            ("on_rebalance", ("self", "assigned", "revoked", "newly_assigned", "generation_id")),
            ("on_recovery_completed", ("self", "active_tps", "standby_tps")),
            ("reset_state", ("self",)),
        )
    ),
    Reliance(
        faust_aiokafka.Consumer, "seek_to_committed", f"{_CONSUMER}.seek_to_committed", ("self",)
    ),
    Reliance(
        faust.Schema,
        "compile",
        "raw_schema.RawBytesSchema",
        ("self", "app", "on_key_decode_error", "on_value_decode_error", "default_propagate"),
    ),
)

USED_BY_TESTS: tuple[Reliance, ...] = (
    Reliance(Conductor, "_update_indices", "tests: a stream's topics ack without a broker"),
    Reliance(faust.App, "_leader_assignor", "tests: faust_topics names faust's leader topic"),
    Reliance(LeaderAssignor, "_leader_topic_name", "tests: faust_topics names the leader topic"),
)


def installed_version() -> str:
    """The installed faust-streaming's version."""
    try:
        return metadata.version("faust-streaming")
    except metadata.PackageNotFoundError:
        return str(faust.__version__)


def check_faust_private(app: Any, relied_on: Iterable[Reliance] = RELIED_ON) -> None:
    """Raise :class:`RuntimeError` if any part in ``relied_on`` is gone or changed in ``app``'s faust.

    Builds ``app.consumer`` (faust would at start) to look at its attributes.
    """
    instances = {"consumer": [app.consumer], "tables": list(app.tables.values())}
    problems = [problem for part in relied_on for problem in _problems(part, instances)]
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise RuntimeError(
            f"faust-streaming {installed_version()} is installed, but the decisioning worker "
            f"was written for faust-streaming {WRITTEN_FOR} and relies on parts of it that "
            f"faust does not promise:\n{listed}\n"
            "Review warmline.decisioning.faust_runtime against the installed faust, or "
            f"install faust-streaming {WRITTEN_FOR}."
        )


def _problems(part: Reliance, instances: dict[str, list[Any]]) -> list[str]:
    if part.on_instances == "init":
        init = vars(part.owner).get("__init__")
        if init is not None and f"self.{part.name} =" in inspect.getsource(init):
            return []
        return [f"{part.qualified_name} is not set in __init__ (used by {part.used_by})"]
    if part.on_instances is not None:
        return [
            f"{part.qualified_name} is not set on {type(instance).__name__} "
            f"(used by {part.used_by})"
            for instance in instances[part.on_instances]
            if not hasattr(instance, part.name)
        ]
    found = inspect.getattr_static(part.owner, part.name, None)
    if found is None:
        return [f"{part.qualified_name} is missing (used by {part.used_by})"]
    if part.parameters is None:
        return []
    method = getattr(part.owner, part.name)
    parameters = tuple(inspect.signature(method).parameters) if callable(method) else None
    if parameters != part.parameters:
        return [
            f"{part.qualified_name} takes {parameters}, not {part.parameters} "
            f"(used by {part.used_by})"
        ]
    return []
