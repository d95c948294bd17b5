"""The decisioning worker, wired: its Faust app, topics, tables, agents and timer.

:class:`DecisioningApp` builds the pieces from settings and connects them; it
holds no logic of its own beyond the commit gate. The pieces:

- :mod:`~warmline.decisioning.batch_steps`: what an agent does with a batch
  (decide with :func:`~warmline.decisioning.decide.apply_event`; count false alarms);
- :mod:`~warmline.decisioning.conversations`: the conversations' states in their table;
- :mod:`~warmline.decisioning.history_recorder`: the customer history in its table;
- :mod:`~warmline.decisioning.outputs`: decisions and dead letters to Kafka;
- :mod:`~warmline.decisioning.maintenance`: the timer (policy reload, expiry, pruning);
- :mod:`~warmline.decisioning.agents`: batches off the streams, and stopping on a failure;
- :mod:`~warmline.decisioning.faust_runtime`: what the worker changes in faust,
  and the at-least-once promise, written down once.

State store: ``memory://`` (see :data:`STORE_URL`) by default. Both tables are
backed by compacted changelog topics, so a restarted worker restores its
partitions' states, and the whole customer history, from Kafka before it
processes new records. With ``DECISIONING__STORE=sqlite`` both tables live in
one local database in the data directory
(:mod:`~warmline.decisioning.state_database`), and a restart reads only the
changelogs' records written since.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from warmline.common.kafka import compression
from warmline.common.metrics import POLICY_INFO
from warmline.common.settings import WarmlineSettings
from warmline.decisioning.agents import FirstFailure, batch_agent
from warmline.decisioning.batch_steps import DecideStep, FeedbackStep
from warmline.decisioning.conversations import ConversationStore, activity_of_entry
from warmline.decisioning.faust_runtime.batched_table import (
    BatchedChangelogTable,
    OnePartitionGlobalTable,
)
from warmline.decisioning.faust_runtime.consumer import WorkerApp
from warmline.decisioning.faust_runtime.credentials import faust_credentials
from warmline.decisioning.faust_runtime.deliveries import Deliveries, DeliveryError
from warmline.decisioning.faust_runtime.faust_private import check_faust_private
from warmline.decisioning.faust_runtime.raw_schema import RawBytesSchema
from warmline.decisioning.history import (
    CustomerHistories,
    HistoryIndex,
    StoredHistory,
    stamp_of_entry,
)
from warmline.decisioning.history_recorder import HistoryRecorder, changelog_reader
from warmline.decisioning.maintenance import Maintenance
from warmline.decisioning.outputs import CONSUMER, SHADOW_CONSUMER, Outputs
from warmline.decisioning.policy_store import PolicyStore
from warmline.decisioning.state_database import StateDatabase

#: The tables' local store. Not ``rocksdb://``, even where rocksdict is installed:
#: faust's RocksDB store picks each write's partition database from the stream's
#: current event, which the worker's batched writes (and the timer's) do not have.
STORE_URL = "memory://"
#: The tables; faust names each one's changelog topic ``<app id>-<table>-changelog``.
CONVERSATIONS_TABLE = "conversations"
HISTORY_TABLE = "customer_history"


def faust_topics(settings: WarmlineSettings) -> list[str]:
    """The topics faust declares for the worker: the tables' changelogs and its
    leader-election topic. They must exist beforehand when topic creation is off."""
    app_id = settings.decisioning.worker_app_id
    return [
        f"{app_id}-{CONVERSATIONS_TABLE}-changelog",
        f"{app_id}-{HISTORY_TABLE}-changelog",
        f"{app_id}-__assignor-__leader",
    ]


class DecisioningApp:
    """The Faust app, its topics, tables, agents and timer, built from settings.

    Build it inside the running event loop that will drive it. Start-up fails
    with a :class:`RuntimeError` if the installed faust lacks a private part the
    worker relies on (:mod:`~warmline.decisioning.faust_runtime.faust_private`).
    """

    def __init__(self, settings: WarmlineSettings, policies: PolicyStore) -> None:
        self.settings = settings
        self.policies = policies
        d = settings.decisioning
        topics = settings.topics
        self.app = faust_app(settings)

        def raw_topic(name: str) -> Any:
            return self.app.topic(topics.name(name), schema=RawBytesSchema())

        self.scored = raw_topic("scored")
        self.feedback = raw_topic("feedback")
        # A shadow worker's decisions go where no console reads them.
        self.escalations = raw_topic("shadow_escalations" if d.shadow else "escalations")
        self.deadletter = raw_topic("deadletter")
        # Outputs not yet known to be acknowledged; the commit gate waits for them.
        self.deliveries = Deliveries()
        self.failures = FirstFailure()
        self.app.before_commit = self.confirm_deliveries
        self.database = local_database(settings)
        self.table = conversations_table(self.app, settings, self.deliveries, self.database)
        self.history_table, self.history = history_table(
            self.app, settings, self.deliveries, self.database
        )
        check_faust_private(self.app)

        self.conversations = ConversationStore(self.table, timedelta(seconds=d.conversation_ttl_s))
        self.history_recorder = HistoryRecorder(self.history_table, self.history, policies)
        outputs = Outputs(
            self.app,
            self.deliveries,
            self.escalations.get_topic_name(),
            self.deadletter.get_topic_name(),
            consumer=SHADOW_CONSUMER if d.shadow else CONSUMER,
        )
        self.decide = DecideStep(
            policies, self.conversations, self.history_recorder, outputs, self.deliveries
        )
        self.record_feedback = FeedbackStep(self.history_recorder, outputs, self.deliveries)
        self.maintenance = Maintenance(policies, self.conversations, self.history_recorder)

        linger_s = d.batch_linger_ms / 1000
        decide = batch_agent("decide", self.decide.process, linger_s, self.failures)
        feedback = batch_agent("feedback", self.record_feedback.process, linger_s, self.failures)
        self.app.agent(self.scored, name="decide")(decide)
        self.app.agent(self.feedback, name="feedback")(feedback)
        self.app.timer(d.policy_reload_s, name="maintenance")(self.maintenance.tick)
        POLICY_INFO.info({"version": policies.current.version})

    @property
    def failed(self) -> asyncio.Future[None]:
        """Fails with the first agent failure or refused output: the service stops on it."""
        return self.failures.failed

    async def confirm_deliveries(self) -> None:
        """The commit gate: wait for every output sent so far; raise
        :class:`DeliveryError` if one was refused.

        The consumer awaits this before it commits input offsets, so no offset is
        committed past an output Kafka did not accept; the worker stops instead
        and its restart replays from the last commit.
        """
        try:
            await self.table.wait_written()
            await self.history_table.wait_written()
            await self.deliveries.confirm()
        except DeliveryError as exc:
            self.failures.record(DeliveryError(str(exc)))
            raise


def faust_app(settings: WarmlineSettings) -> WorkerApp:
    """The worker's Faust app, configured from settings (faust's own web server off)."""
    d = settings.decisioning
    brokers = [
        f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
    ]
    return WorkerApp(
        d.worker_app_id,
        broker=brokers,
        store=STORE_URL,
        datadir=str(d.data_dir),
        web_enabled=False,
        web_port=d.http_port,
        processing_guarantee="at_least_once",
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        # Off: clusters that forbid creating topics (every topic checked beforehand).
        topic_allow_declare=settings.topics.create,
        value_serializer="raw",
        key_serializer="raw",
        # Expiry writes tombstones from a timer; a standby copy must not do that.
        table_standby_replicas=0,
        producer_acks=-1,
        # Like every Warmline producer: a few ms of linger buys large batches. The
        # changelog write of each event otherwise goes out in a request of its own.
        producer_linger=settings.kafka.linger_ms / 1000,
        producer_max_batch_size=settings.kafka.max_batch_bytes,
        producer_compression_type=compression(settings),
        # faust's default is 1200 s, for produce and metadata requests alike: a
        # request the broker never answers looked like a hang for 20 minutes. Now
        # the send fails, the worker stops and its restart replays.
        producer_request_timeout=settings.kafka.delivery_timeout_ms / 1000,
        # The same TLS and SASL settings as every other Warmline client; faust's
        # consumer and producer (which the worker's own sends reuse) take them here.
        broker_credentials=faust_credentials(settings),
        broker_session_timeout=d.session_timeout_s,
        consumer_group_instance_id=d.group_instance_id,
        broker_heartbeat_interval=d.session_timeout_s / 3,
    )


def _changelog_config(settings: WarmlineSettings) -> dict[str, str]:
    return {"min.insync.replicas": str(settings.topics.min_insync_replicas)}


def database_path(settings: WarmlineSettings) -> Path:
    """Where the worker's local database is (``DECISIONING__STORE=sqlite``)."""
    d = settings.decisioning
    return d.data_dir / f"{d.worker_app_id}.sqlite3"


def local_database(settings: WarmlineSettings) -> StateDatabase | None:
    """The tables' local database (``DECISIONING__STORE=sqlite``), or None: in memory."""
    d = settings.decisioning
    if d.store != "sqlite":
        return None
    return StateDatabase(database_path(settings), d.store_cache_mib)


def conversations_table(
    app: WorkerApp,
    settings: WarmlineSettings,
    deliveries: Deliveries,
    database: StateDatabase | None = None,
) -> BatchedChangelogTable:
    """The conversations table, keyed by the records' own keys (in ``database`` if given).

    The partitioner puts each key in the partition its source records use, so
    writes from the timer are allowed too. Changelog records leave once per batch.
    """
    table = BatchedChangelogTable(
        app,
        name=CONVERSATIONS_TABLE,
        beacon=app.tables.beacon,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topics.partitions,
        use_partitioner=True,
        extra_topic_configs=_changelog_config(settings),
        deliveries=deliveries,
        rows=database.rows(CONVERSATIONS_TABLE, activity_of_entry) if database else None,
    )
    app.tables.add(table)
    return table


def history_table(
    app: WorkerApp,
    settings: WarmlineSettings,
    deliveries: Deliveries,
    database: StateDatabase | None = None,
) -> tuple[OnePartitionGlobalTable, CustomerHistories]:
    """Customers' escalations and false alarms, one entry per key, and where they are
    looked up: an index in memory fed by every changelog record, or the rows of
    ``database``.

    One partition: the writes are few, and every worker reads all of them anyway.
    Applied one record at a time, also after recovery, so other workers' entries
    show up at once (a larger recovery buffer would hold them back).
    """
    rows = database.rows(HISTORY_TABLE, stamp_of_entry) if database else None
    histories: CustomerHistories = HistoryIndex() if rows is None else StoredHistory(rows)
    table = OnePartitionGlobalTable(
        app,
        name=HISTORY_TABLE,
        beacon=app.tables.beacon,
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        is_global=True,
        standby_buffer_size=1,
        recovery_buffer_size=1,
        on_changelog_event=(
            changelog_reader(histories) if isinstance(histories, HistoryIndex) else None
        ),
        extra_topic_configs=_changelog_config(settings),
        deliveries=deliveries,
        rows=rows,
        # Every worker writes the history: only what is read from it moves its offset.
        offsets_when_acknowledged=False,
    )
    app.tables.add(table)
    return table, histories
