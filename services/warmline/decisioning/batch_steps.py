"""What each agent does with a batch of records: decide, or count false alarms.

Both steps hand every output to the producer without waiting for it, and check
the acknowledgements that came in meanwhile before returning (a refused one
raises :class:`~warmline.decisioning.faust_runtime.deliveries.DeliveryError`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from warmline.common.metrics import KAFKA_RECORDS_CONSUMED
from warmline.decisioning.conversations import ConversationStore
from warmline.decisioning.decide import Decision, apply_event
from warmline.decisioning.faust_runtime.deliveries import Deliveries, all_acknowledged
from warmline.decisioning.history import HistoryEntry, escalation_entry, false_alarm_entry
from warmline.decisioning.history_recorder import HistoryRecorder
from warmline.decisioning.outputs import Outputs
from warmline.decisioning.policy_store import PolicyStore
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, feedback_pb2, scoring_pb2


class DecideStep:
    """Applies a batch of scored records to their conversations' states with the policy."""

    def __init__(
        self,
        policies: PolicyStore,
        conversations: ConversationStore,
        history: HistoryRecorder,
        outputs: Outputs,
        deliveries: Deliveries,
    ) -> None:
        self._policies = policies
        self._conversations = conversations
        self._history = history
        self._outputs = outputs
        self._deliveries = deliveries
        # Acknowledgement of every decision so far (see ``process``).
        self._decisions_written: asyncio.Future[None] | None = None

    async def process(self, events: Sequence[Any]) -> list[Decision]:
        """Decide on a batch of scored records and hand every output to the producer.

        Each conversation's entry is decoded once and written once per batch,
        however many of its events the batch holds.
        """
        decisions: list[Decision] = []
        sent: list[asyncio.Future[Any]] = []
        states: dict[bytes, ConversationState] = {}
        policy = self._policies.current
        for event in events:
            key: bytes = event.key or b""
            scored = await self._outputs.decode(event, scoring_pb2.ScoredEvent)
            if scored is None or not policy.decides_for(scored.event.tenant_id):
                continue
            state = states.get(key)
            if state is None:
                state = states[key] = self._conversations.load(key)
            customer_id = state.customer_id or scored.event.customer_id
            history = self._history.index.history(scored.event.tenant_id, customer_id)
            now = datetime.now(UTC)
            decision = apply_event(state, scored, policy, now, history)
            if decision is not None:
                if decision.action == escalation_pb2.DECISION_ACTION_ESCALATE:
                    # ``now`` exactly: the state's ``escalated_at`` is compared with it.
                    record = escalation_entry(decision, now.timestamp())
                    if record is not None:
                        self._history.record(record)
                decisions.append(decision)
                sent.append(await self._outputs.decision(key, decision))
        for key, state in states.items():
            self._conversations.store(key, state)
        # The states remember this batch's events as handled, so a restored state
        # would skip them: they are written only after the decisions are, and so
        # are the escalations in the customers' history.
        self._decisions_written = all_acknowledged(sent, self._decisions_written)
        await self._conversations.flush(after=self._decisions_written)
        await self._history.write(after=self._decisions_written)
        self._deliveries.check()
        count_consumed(events)
        return decisions


class FeedbackStep:
    """Counts a batch of agents' feedback records' false alarms into customers' history."""

    def __init__(self, history: HistoryRecorder, outputs: Outputs, deliveries: Deliveries) -> None:
        self._history = history
        self._outputs = outputs
        self._deliveries = deliveries

    async def process(self, events: Sequence[Any]) -> list[HistoryEntry]:
        """Record the batch's false alarms; the entries recorded."""
        false_alarms: list[HistoryEntry] = []
        for event in events:
            feedback = await self._outputs.decode(event, feedback_pb2.Feedback)
            if feedback is None:
                continue
            record = false_alarm_entry(feedback)
            if record is not None:
                self._history.record(record)
                false_alarms.append(record[1])
        await self._history.write()
        self._deliveries.check()
        return false_alarms


def count_consumed(events: Sequence[Any]) -> None:
    """Count a decided batch's records by topic."""
    for topic, count in Counter(event.message.topic for event in events).items():
        KAFKA_RECORDS_CONSUMED.labels(topic).inc(count)
