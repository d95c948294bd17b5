"""The replica's reader of the escalations and agent-actions topics.

Consoles may connect to any replica, so every replica reads every partition of
both topics (no consumer group, nothing to commit): at start from
``history_s`` back, then live. It applies each record to the :class:`Board` and
hands new decisions to the :class:`Hub`. Readiness waits until the replica has
caught up with what was in the topics when it started, so a console never
resumes against a half-built board.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from google.protobuf.message import DecodeError

from warmline.common.kafka import connection_options
from warmline.common.metrics import (
    KAFKA_RECORDS_CONSUMED,
    NOTIFICATION_OPEN_ESCALATIONS,
)
from warmline.common.pipeline import Output, dead_letter, produce_all
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import partition_counts
from warmline.notification.board import Board
from warmline.notification.cursor import CursorError, decode_cursor
from warmline.notification.hub import Hub
from warmline.v1 import escalation_pb2, notification_pb2

log = logging.getLogger(__name__)

CONSUMER = "notification"


class Feed:
    """Applies both topics, in log order per partition, to the board and the hub."""

    def __init__(
        self,
        settings: WarmlineSettings,
        board: Board,
        hub: Hub,
        producer: AIOKafkaProducer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.board = board
        self.hub = hub
        self._producer = producer
        self._clock = clock
        self.escalations_topic = settings.topics.name("escalations")
        self.actions_topic = settings.topics.name("agent_actions")
        self._consumer = AIOKafkaConsumer(
            **connection_options(settings),
            client_id="warmline-notification",
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            # A new decision should leave the broker at once, not at the next poll.
            fetch_max_wait_ms=50,
        )
        self._behind: dict[TopicPartition, int] = {}
        self._applied: dict[int, int] = {}
        self._waiters: dict[int, list[tuple[int, asyncio.Future[None]]]] = defaultdict(list)
        self.caught_up = asyncio.Event()

    async def start(self) -> None:
        """Connect, assign every partition and seek ``history_s`` back."""
        counts = await partition_counts(self.settings, [self.escalations_topic, self.actions_topic])
        await self._consumer.start()
        partitions = [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]
        self._consumer.assign(partitions)
        since_ms = int((self._clock() - self.settings.notification.history_s) * 1000)
        found = await self._consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
        ends = await self._consumer.end_offsets(partitions)
        for tp in partitions:
            at = found.get(tp)
            start = at.offset if at is not None else ends[tp]
            self._consumer.seek(tp, start)
            if tp.topic == self.escalations_topic:
                self.board.positions[tp.partition] = start
            else:
                self._applied[tp.partition] = start
            if ends[tp] > start:
                self._behind[tp] = ends[tp]
        if not self._behind:
            self.caught_up.set()
        log.info(
            "notification feed assigned",
            extra={"partitions": len(partitions), "to_catch_up": len(self._behind)},
        )

    async def stop(self) -> None:
        """Disconnect; claims still waiting fail."""
        for waiters in self._waiters.values():
            for _, future in waiters:
                if not future.done():
                    future.set_exception(ConnectionError("notification feed stopped"))
        await self._consumer.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Apply records until ``stop`` is set."""
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=1000)
            read_at = time.perf_counter()
            letters: list[Output] = []
            for tp, records in batches.items():
                KAFKA_RECORDS_CONSUMED.labels(tp.topic).inc(len(records))
                for record in records:
                    if tp.topic == self.escalations_topic:
                        letter = self._on_decision(record, read_at)
                    else:
                        letter = self._on_action(record)
                    if letter is not None:
                        letters.append(letter)
            NOTIFICATION_OPEN_ESCALATIONS.set(self.board.open_count)
            if letters:
                await produce_all(self._producer, letters)
            if not self.caught_up.is_set():
                await self._check_caught_up()

    async def applied(self, partition: int, offset: int) -> None:
        """Return once the agent action at ``partition``/``offset`` has been applied."""
        if self._applied.get(partition, 0) > offset:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[partition].append((offset, future))
        await future

    def _on_decision(self, record: ConsumerRecord[bytes, bytes], read_at: float) -> Output | None:
        try:
            decision = escalation_pb2.EscalationDecision.FromString(record.value or b"")
        except DecodeError as exc:
            self.board.positions[record.partition] = record.offset + 1
            return self._dead_letter(record, exc)
        applied = self.board.apply_decision(record.partition, record.offset, decision)
        if applied is not None and self.caught_up.is_set():
            self.hub.publish(applied, read_at)
        return None

    def _on_action(self, record: ConsumerRecord[bytes, bytes]) -> Output | None:
        letter: Output | None = None
        try:
            action = notification_pb2.AgentAction.FromString(record.value or b"")
            kind = action.WhichOneof("action")
            if kind == "claimed":
                claim = self.board.apply_claim(action)
                if claim is not None and self.caught_up.is_set():
                    self.hub.claimed(claim)
            elif kind == "acked":
                positions = decode_cursor(action.acked.cursor)
                self.board.apply_ack(action.tenant_id, action.agent_id, positions)
            elif kind == "paused":
                pause = self.board.apply_pause(action)
                if self.caught_up.is_set():
                    queues = action.paused.queues
                    self.hub.paused(action.tenant_id, action.agent_id, pause, queues)
            elif kind == "revealed":
                self.board.apply_reveal(action)
            else:
                raise ValueError("agent action of no known kind")
        except (DecodeError, CursorError, ValueError) as exc:
            letter = self._dead_letter(record, exc)
        self._applied[record.partition] = record.offset + 1
        waiting = self._waiters.get(record.partition)
        if waiting:
            still = []
            for offset, future in waiting:
                if offset <= record.offset:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((offset, future))
            self._waiters[record.partition] = still
        return letter

    def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> Output:
        reason = "undecodable" if isinstance(exc, DecodeError) else "invalid"
        return dead_letter(
            record,
            topic=self.settings.topics.name("deadletter"),
            consumer=CONSUMER,
            reason=reason,
            detail=repr(exc),
        )

    async def _check_caught_up(self) -> None:
        for tp, end in list(self._behind.items()):
            if await self._consumer.position(tp) >= end:
                del self._behind[tp]
        if not self._behind:
            n = self.board.settle_timeouts(
                self._clock(),
                self.settings.notification.reoffer_after_s,
                self.settings.notification.supervisor_after_s,
            )
            self.caught_up.set()
            log.info("notification feed caught up", extra={"timeouts_settled": n})
