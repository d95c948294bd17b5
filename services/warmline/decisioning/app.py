"""The decisioning stream application (faust-streaming).

One agent reads ``ScoredEvent`` records from the scored topic in small batches,
keeps each conversation's :class:`ConversationState` in a Faust table keyed by
the record key (``tenant/conversation``), and produces every decision to the
escalations topic under the same key. Escalations, and the false alarms a second
agent reads from agents' feedback, are recorded in the customer history, a
GlobalTable shared by all of a customer's conversations on every worker (see
:mod:`warmline.decisioning.history`).

State store: ``memory://`` (see :data:`STORE_URL`). Both tables are backed by
compacted changelog topics, so a restarted worker restores its partitions'
states, and the whole customer history, from Kafka before it processes new
records.

Delivery: at-least-once. Input offsets are committed only after the outputs of
the records they cover (decisions, dead letters, changelog batches) were
acknowledged by the brokers: the worker does not wait for them batch by batch
(that round trip left it idle) but tracks them (:mod:`~warmline.decisioning.faust_runtime.deliveries`);
a refused one stops the next batch, and the consumer's ``before_commit`` hook
(:meth:`DecisioningApp.confirm_deliveries`) waits for all of them and refuses
the commit. A replayed event is recognised by the state's recent event ids, and
decision ids are derived from ``tenant, conversation, event id, policy
version``, so consumers de-duplicate. Because a restored state skips the events
it remembers, a batch's states (and history escalations) reach the changelog
only once its decisions, and every earlier batch's, are acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
from google.protobuf.message import DecodeError, Message

from warmline.common.kafka import compression
from warmline.common.metrics import (
    DECISION_REASONS,
    DECISIONING_CONVERSATIONS,
    DECISIONS,
    KAFKA_RECORDS_CONSUMED,
    KAFKA_RECORDS_PRODUCED,
    POLICY_INFO,
    POLICY_RELOAD_ERRORS,
)
from warmline.common.pipeline import dead_letter
from warmline.common.settings import WarmlineSettings
from warmline.decisioning.decide import Decision, apply_event, idle_keys
from warmline.decisioning.faust_runtime.batch_stream import abandon, take_batches
from warmline.decisioning.faust_runtime.batched_table import BatchedChangelogTable
from warmline.decisioning.faust_runtime.consumer import LeanApp, kafka_producer
from warmline.decisioning.faust_runtime.credentials import faust_credentials
from warmline.decisioning.faust_runtime.deliveries import (
    Deliveries,
    DeliveryError,
    all_acknowledged,
)
from warmline.decisioning.faust_runtime.raw_schema import RawBytesSchema
from warmline.decisioning.history import (
    HistoryEntry,
    HistoryIndex,
    OnePartitionGlobalTable,
    escalation_entry,
    false_alarm_entry,
)
from warmline.decisioning.policy_store import PolicyStore, ReloadStatus
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, feedback_pb2, scoring_pb2

log = logging.getLogger(__name__)
_Message = TypeVar("_Message", bound=Message)


CONSUMER = "decisioning"
#: Records taken per batch (how long a batch waits to fill is a setting).
BATCH_MAX = 100
#: Conversations whose decoded state is kept between batches (JSON decoding is
#: a large share of the time per event; the table stays the source of truth).
DECODED_CACHE_MAX = 10_000
#: Seconds between scans for history entries past their window. Windows are days
#: long, and a scan visits every entry, so it need not run on every timer tick.
HISTORY_PRUNE_EVERY_S = 600.0


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
    app_id = settings.decisioning.app_id
    return [
        f"{app_id}-{CONVERSATIONS_TABLE}-changelog",
        f"{app_id}-{HISTORY_TABLE}-changelog",
        f"{app_id}-__assignor-__leader",
    ]


def encode_entry(state: ConversationState) -> bytes:
    """The conversations table value: the conversation's state, as JSON.

    Every event rewrites its conversation's entry, so this is on the hot path:
    orjson serializes the dataclasses itself (fields in order, as
    ``ConversationState.to_dict`` lists them), ~5 µs for a typical state where
    building the dict first took ~12 µs and the standard library's encoder ~70.
    """
    return orjson.dumps({"state": state}, default=_sorted_set)


def _sorted_set(value: object) -> list[Any]:
    # orjson's hook for types it does not know; sets are the only ones in a state.
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a conversation state")


def decode_entry(raw: bytes | None) -> ConversationState:
    """Inverse of :func:`encode_entry`; a fresh state for a missing key.

    Values written before the history moved to its own table also carry a
    per-conversation ``history``, which is ignored.
    """
    if not raw:
        return ConversationState()
    return ConversationState.from_dict(orjson.loads(raw)["state"])


class DecisioningApp:
    """The Faust app, its topics, tables, agents and timer, built from settings.

    Build it inside the running event loop that will drive it.
    """

    def __init__(self, settings: WarmlineSettings, policies: PolicyStore) -> None:
        self.settings = settings
        self._batch_linger_s = settings.decisioning.batch_linger_ms / 1000
        self.policies = policies
        d = settings.decisioning
        brokers = [
            f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
        ]
        self.app = LeanApp(
            d.app_id,
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
            broker_heartbeat_interval=d.session_timeout_s / 3,
        )
        topics = settings.topics
        changelog_config = {"min.insync.replicas": str(topics.min_insync_replicas)}

        def raw_topic(name: str) -> Any:
            return self.app.topic(topics.name(name), schema=RawBytesSchema())

        self.scored = raw_topic("scored")
        self.feedback = raw_topic("feedback")
        self.escalations = raw_topic("escalations")
        self.deadletter = raw_topic("deadletter")
        # Keys are the records' own keys; the partitioner puts each in the partition
        # its source records use, so writes from the timer are allowed too.
        # Outputs not yet known to be acknowledged (see ``deliveries``).
        self.deliveries = Deliveries()
        self.app.before_commit = self.confirm_deliveries
        # Changelog records leave once per batch (see ``batched_table``).
        self.table = BatchedChangelogTable(
            self.app,
            name=CONVERSATIONS_TABLE,
            beacon=self.app.tables.beacon,
            key_type=bytes,
            value_type=bytes,
            partitions=topics.partitions,
            use_partitioner=True,
            extra_topic_configs=changelog_config,
            deliveries=self.deliveries,
        )
        self.app.tables.add(self.table)
        # Customers' escalations and false alarms, one entry per key (see ``history``).
        # One partition: the writes are few, and every worker reads all of them anyway.
        # Applied one record at a time, also after recovery, so other workers' entries
        # show up at once (a larger recovery buffer would hold them back).
        self.history_table = OnePartitionGlobalTable(
            self.app,
            name=HISTORY_TABLE,
            beacon=self.app.tables.beacon,
            key_type=bytes,
            value_type=bytes,
            partitions=1,
            is_global=True,
            standby_buffer_size=1,
            recovery_buffer_size=1,
            on_changelog_event=self._on_history_record,
            extra_topic_configs=changelog_config,
            deliveries=self.deliveries,
        )
        self.app.tables.add(self.history_table)
        self.history_table.on_recover(self._rebuild_history)
        self.history = HistoryIndex()
        # Entries indexed by this batch, written at its end (see ``_record``).
        self._unwritten_history: list[tuple[bytes, HistoryEntry]] = []
        # Acknowledgement of every decision so far (see ``process``).
        self._decisions_written: asyncio.Future[None] | None = None
        # Decoded table entries of recently written conversations (see ``_load``).
        self._decoded: dict[bytes, tuple[bytes, ConversationState]] = {}
        # Each conversation's last activity and the table value it was read from
        # (see ``expire_idle``).
        self._activity: dict[bytes, tuple[bytes, float]] = {}
        self._history_pruned_at = 0.0
        # Set when an agent's batch fails: faust would restart the agent past the
        # records it had taken, so the service stops instead and its restart replays them.
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.app.agent(self.scored, name="decide")(self._decide_agent)
        self.app.agent(self.feedback, name="feedback")(self._feedback_agent)
        self.app.timer(d.policy_reload_s, name="maintenance")(self._maintenance)
        POLICY_INFO.info({"version": policies.current.version})

    @contextlib.contextmanager
    def _stop_on_failure(self, agent: str, events: Sequence[Any]) -> Iterator[None]:
        """Record the first failure of an agent's batch for the service to stop on.

        The batch is abandoned unacked: nothing past it is committed, and the
        service's stop does not wait for it.
        """
        try:
            yield
        except Exception as exc:
            abandon(events)
            log.error("decisioning agent failed", extra={"agent": agent, "error": repr(exc)})
            if not self.failed.done():
                self.failed.set_exception(exc)
            raise

    # --- agents -----------------------------------------------------------
    async def _decide_agent(self, stream: Any) -> AsyncIterator[list[Decision]]:
        # Yielding each batch's decisions (to no sink in production) is what lets
        # ``agent.test_context()`` see when a batch is done, and what it decided.
        async for events in take_batches(stream, BATCH_MAX, self._batch_linger_s):
            with self._stop_on_failure("decide", events):
                decisions = await self.process(events)
            yield decisions

    async def process(self, events: Sequence[Any]) -> list[Decision]:
        """Decide on a batch of scored records and hand every output to the producer.

        Each conversation's entry is decoded once and written once per batch,
        however many of its events the batch holds. The decisions' acknowledgements
        are checked before the next batch and before input offsets are committed
        (:meth:`confirm_deliveries`).
        """
        decisions: list[Decision] = []
        sent: list[asyncio.Future[Any]] = []
        states: dict[bytes, ConversationState] = {}
        policy = self.policies.current
        for event in events:
            key: bytes = event.key or b""
            scored = await self._decode(event, scoring_pb2.ScoredEvent)
            if scored is None:
                continue
            state = states.get(key)
            if state is None:
                state = states[key] = self._load(key)
            customer_id = state.customer_id or scored.event.customer_id
            history = self.history.history(scored.event.tenant_id, customer_id)
            now = datetime.now(UTC)
            decision = apply_event(state, scored, policy, now, history)
            if decision is not None:
                if decision.action == escalation_pb2.DECISION_ACTION_ESCALATE:
                    # ``now`` exactly: the state's ``escalated_at`` is compared with it.
                    record = escalation_entry(decision, now.timestamp())
                    if record is not None:
                        self._record(record)
                decisions.append(decision)
                sent.append(await self._publish(key, decision))
        for key, state in states.items():
            self._store(key, state)
        # The states remember this batch's events as handled, so a restored state
        # would skip them: they are written only after the decisions are, and so
        # are the escalations in the customers' history.
        self._decisions_written = all_acknowledged(sent, self._decisions_written)
        await self.table.flush_changelog(after=self._decisions_written)
        await self._write_history(after=self._decisions_written)
        DECISIONING_CONVERSATIONS.set(len(self.table))
        self.deliveries.check()
        for topic, count in Counter(event.message.topic for event in events).items():
            KAFKA_RECORDS_CONSUMED.labels(topic).inc(count)
        return decisions

    def _load(self, key: bytes) -> ConversationState:
        """The entry of ``key``, decoded from the table unless the same bytes were decoded before.

        The cached objects are taken out while they are worked on and put back by
        :meth:`_store`, so a batch that fails halfway never leaves half-applied
        objects behind; and a table value that changed under the cache (restored
        from the changelog) does not match, so it is decoded afresh.
        """
        raw = self.table.get(key)
        cached = self._decoded.pop(key, None)
        if cached is not None and raw is not None and cached[0] == raw:
            return cached[1]
        return decode_entry(raw)

    def _peek(self, key: bytes, raw: bytes) -> ConversationState:
        """The state of ``key`` for reading only: the cached one when it matches ``raw``."""
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == raw:
            return cached[1]
        return decode_entry(raw)

    def _store(self, key: bytes, state: ConversationState) -> None:
        raw = encode_entry(state)
        self.table[key] = raw
        self._decoded[key] = (raw, state)
        if len(self._decoded) > DECODED_CACHE_MAX:
            # Dicts keep insertion order and entries are re-inserted on use: this is the LRU.
            del self._decoded[next(iter(self._decoded))]

    async def _publish(
        self, key: bytes, decision: escalation_pb2.EscalationDecision
    ) -> asyncio.Future[Any]:
        action = escalation_pb2.DecisionAction.Name(decision.action).removeprefix(
            "DECISION_ACTION_"
        )
        DECISIONS.labels(action.lower(), decision.queue, str(decision.shadow).lower()).inc()
        for reason in decision.reasons:
            DECISION_REASONS.labels(reason.code).inc()
        return await self._send(
            self.escalations.get_topic_name(), key, decision.SerializeToString(), "a decision"
        )

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, what: str
    ) -> asyncio.Future[Any]:
        """Hand one output to the producer and track its acknowledgement.

        Straight to aiokafka: faust's ``Topic.send`` adds a future and callbacks of
        its own per record, whose failure nobody reads.
        """
        KAFKA_RECORDS_PRODUCED.labels(topic).inc()
        sent: asyncio.Future[Any] = await kafka_producer(self.app).send(topic, key=key, value=value)
        self.deliveries.track(sent, what)
        return sent

    async def confirm_deliveries(self) -> None:
        """Wait for every output sent so far; raise :class:`DeliveryError` if one was refused.

        The consumer awaits this before it commits input offsets, so no offset is
        committed past an output Kafka did not accept; the worker stops instead
        and its restart replays from the last commit.
        """
        try:
            await self.table.wait_written()
            await self.history_table.wait_written()
            await self.deliveries.confirm()
        except DeliveryError as exc:
            if not self.failed.done():
                self.failed.set_exception(DeliveryError(str(exc)))
            raise

    async def _decode(self, event: Any, message_type: type[_Message]) -> _Message | None:
        """The record's protobuf; None when it is undecodable, after dead-lettering it."""
        try:
            return message_type.FromString(event.value or b"")
        except DecodeError as exc:
            message = event.message
            letter = dead_letter(
                message,
                topic=self.deadletter.get_topic_name(),
                consumer=CONSUMER,
                reason="undecodable",
                detail=repr(exc),
            )
            await self._send(letter.topic, letter.key, letter.value, "a dead letter")
            return None

    async def _feedback_agent(self, stream: Any) -> AsyncIterator[list[HistoryEntry]]:
        # Yields each batch's false alarms, like the decide agent yields its decisions.
        async for events in take_batches(stream, BATCH_MAX, self._batch_linger_s):
            with self._stop_on_failure("feedback", events):
                false_alarms = await self.process_feedback(events)
            yield false_alarms

    async def process_feedback(self, events: Sequence[Any]) -> list[HistoryEntry]:
        """Count a batch of feedback records' false alarms into customers' history."""
        false_alarms: list[HistoryEntry] = []
        for event in events:
            feedback = await self._decode(event, feedback_pb2.Feedback)
            if feedback is None:
                continue
            record = false_alarm_entry(feedback)
            if record is not None:
                self._record(record)
                false_alarms.append(record[1])
        await self._write_history()
        self.deliveries.check()
        return false_alarms

    # --- customer history -------------------------------------------------
    def _record(self, record: tuple[bytes, HistoryEntry]) -> None:
        """Index a history entry at once, for :meth:`_write_history` to write (once:
        a replay finds it indexed already).

        The batch's later events see it; the table write waits for the end of the
        batch, so no other writer's flush (the timer's) can send it early.
        """
        key, entry = record
        if key in self.history:
            return
        self.history.add(key, entry)
        self._unwritten_history.append(record)

    async def _write_history(self, after: asyncio.Future[None] | None = None) -> None:
        """Write the entries recorded so far and flush them (after ``after``)."""
        for key, entry in self._unwritten_history:
            self.history_table[key] = entry.encode()
        self._unwritten_history = []
        await self.history_table.flush_changelog(after=after)

    async def _on_history_record(self, event: Any) -> None:
        # Every record of the history changelog, other workers' and our own, live
        # and during recovery; applying one twice changes nothing. The message's
        # raw value, because that is where a tombstone shows as None.
        self.history.apply(event.message.key, event.message.value)

    async def _rebuild_history(self) -> None:
        # After a recovery the table holds everything, also what a persistent
        # store kept from before the restart and so was never read as a record.
        self.history.rebuild(self.history_table.items())

    async def prune_history(self, now: datetime) -> list[bytes]:
        """Delete history entries older than their tenant's history window."""
        policy = self.policies.current
        stale = self.history.expired(
            now.timestamp(), lambda tenant: policy.for_tenant(tenant).history_window_days
        )
        for key in stale:
            self.history.discard(key)
            # Every worker prunes; one that saw another's tombstone has nothing to delete.
            if key in self.history_table:
                del self.history_table[key]
        await self.history_table.flush_changelog()
        return stale

    # --- timer ------------------------------------------------------------
    async def _maintenance(self) -> None:
        now = datetime.now(UTC)
        self.reload_policy()
        await self.expire_idle(now)
        if now.timestamp() - self._history_pruned_at >= HISTORY_PRUNE_EVERY_S:
            self._history_pruned_at = now.timestamp()
            await self.prune_history(now)

    def reload_policy(self) -> None:
        """Swap in a changed policy file; a bad one is counted and the old policy kept."""
        result = self.policies.reload_if_changed()
        if result.status == ReloadStatus.RELOADED:
            POLICY_INFO.info({"version": result.version})
            log.info("policy reloaded", extra={"version": result.version})
        elif result.status == ReloadStatus.REJECTED:
            POLICY_RELOAD_ERRORS.inc()
            log.error("policy reload rejected", extra={"error": result.error})

    async def expire_idle(self, now: datetime) -> list[bytes]:
        """Forget conversations idle for longer than the configured TTL.

        Each state's last activity is remembered with the table value it was read
        from, so a tick decodes only the states written since the previous one
        (decoding every state, ~24 µs each, on every tick would block the loop
        for about a second at 50,000 conversations).
        """
        activity: dict[bytes, tuple[bytes, float]] = {}
        for key, raw in list(self.table.items()):
            known = self._activity.get(key)
            if known is None or known[0] is not raw:
                known = (raw, self._peek(key, raw).last_activity)
            activity[key] = known
        # Rebuilt each tick: keys of revoked partitions and expired ones drop out.
        self._activity = activity
        ttl = timedelta(seconds=self.settings.decisioning.conversation_ttl_s)
        stale = idle_keys({key: last for key, (_, last) in activity.items()}, now, ttl)
        for key in stale:
            del self.table[key]
            del self._activity[key]
            self._decoded.pop(key, None)
        await self.table.flush_changelog()
        DECISIONING_CONVERSATIONS.set(len(self.table))
        return stale
