"""The decisioning Faust app on the real session broker: decisions, dead letters, restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.scoring.conftest import event
from tests.support import LoopThread, read_topic, settings_for, unique, wait_until
from warmline.common.kafka import create_producer
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output, produce_all
from warmline.common.settings import DecisioningSettings, WarmlineSettings
from warmline.common.topics import TopicSpec, ensure_topics
from warmline.decisioning.app import faust_topics
from warmline.decisioning.service import DecisioningService
from warmline.localkafka import LocalKafka
from warmline.v1 import deadletter_pb2, escalation_pb2, scoring_pb2

pytestmark = pytest.mark.integration


def decisioning_settings(bootstrap: str, data_dir: Path) -> WarmlineSettings:
    return settings_for(
        bootstrap,
        decisioning=DecisioningSettings(
            host="127.0.0.1",
            metrics_port=0,
            app_id=unique("decisioning"),
            data_dir=data_dir,
            shutdown_grace_s=10,
            policy_reload_s=1.0,
        ),
    )


class Hosted:
    """A decisioning service running on its own loop thread."""

    def __init__(self, settings: WarmlineSettings) -> None:
        self.settings = settings
        self.host = LoopThread()
        self.service = self.host.run(self._build())
        self.host.run(self.service.start(), timeout=90)
        wait_until(lambda: self.service.readiness.ready, timeout=30, what="decisioning ready")

    async def _build(self) -> DecisioningService:
        return DecisioningService(self.settings)

    def stop(self) -> None:
        self.host.run(self.service.stop(), timeout=60)
        self.host.close()


def scored(
    event_id: str, conversation: str, text: str, negativity: float, anger: float | None = None
) -> scoring_pb2.ScoredEvent:
    """A scored customer message; its anger is its negativity unless given."""
    anger = negativity if anger is None else anger
    s = scoring_pb2.ScoredEvent(
        event=event(event_id, conversation, text),
        scores=scoring_pb2.EmotionScores(
            status=scoring_pb2.SCORE_STATUS_SCORED,
            signals=scoring_pb2.Signals(
                negativity=negativity,
                anger=anger,
                frustration=negativity,
                neutral=1 - negativity,
            ),
            labels={"anger": anger, "neutral": 1 - negativity},
            model_version="test-model",
        ),
    )
    s.scored_at.FromDatetime(datetime.now(UTC))
    return s


async def publish(
    settings: WarmlineSettings,
    events: list[scoring_pb2.ScoredEvent],
    raw: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await ensure_topics(settings)
    producer = create_producer(settings, "test-scoring")
    await producer.start()
    topic = settings.topics.name("scored")
    try:
        outputs = [
            Output(
                topic,
                conversation_key(s.event.tenant_id, s.event.conversation_id),
                s.SerializeToString(),
            )
            for s in events
        ]
        outputs += [Output(topic, k, v) for k, v in raw or []]
        await produce_all(producer, outputs)
    finally:
        await producer.stop()


def conversations() -> list[scoring_pb2.ScoredEvent]:
    calm = [
        scored(f"calm-{i}", "calm", text, 0.05)
        for i, text in enumerate(
            ["Hi, where is my parcel?", "Thanks, that helps.", "Great, have a nice day!"]
        )
    ]
    angry = [
        scored(f"angry-{i}", "angry", text, 0.9)
        for i, text in enumerate(
            [
                "You charged me twice.",
                "This is ridiculous, nobody answers.",
                "I have asked three times already!",
                "Absolutely unacceptable service.",
            ]
        )
    ]
    human = [
        scored("human-0", "human", "I need to change my address", 0.1),
        scored("human-1", "human", "I want to talk to a real person please", 0.2),
    ]
    return calm + angry + human


def decisions(records: list) -> list[escalation_pb2.EscalationDecision]:  # type: ignore[type-arg]
    return [escalation_pb2.EscalationDecision.FromString(r.value or b"") for r in records]


async def test_angry_and_explicit_request_escalate_calm_does_not_and_restart_replays_nothing(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    settings = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path / "first")
    bootstrap = settings.kafka.bootstrap_servers
    escalations = settings.topics.name("escalations")
    hosted = Hosted(settings)
    try:
        await publish(settings, conversations(), raw=[(b"acme/bad", b"\xff\xfe not a protobuf")])
        out = decisions(await read_topic(bootstrap, escalations, 2, within_s=60, settle=3.0))
        letters = await read_topic(bootstrap, settings.topics.name("deadletter"), 1, within_s=30)
    finally:
        hosted.stop()

    assert {d.conversation_id for d in out} == {"angry", "human"}
    for conversation in ("angry", "human"):
        mine = [d for d in out if d.conversation_id == conversation]
        # The first decision hands over; a later one may only raise the priority.
        assert mine[0].action == escalation_pb2.DECISION_ACTION_ESCALATE
        assert all(d.action == escalation_pb2.DECISION_ACTION_UPDATE for d in mine[1:])
    for d in out:
        assert d.reasons and d.queue and d.policy_version and d.decision_id
        assert d.tenant_id == "acme" and d.trigger_event_id
    assert len({d.decision_id for d in out}) == len(out)
    first = {d.conversation_id: d for d in reversed(out)}
    assert "explicit_request" in {r.code for r in first["human"].reasons}
    assert first["human"].trigger_event_id == "human-1"
    letter = deadletter_pb2.DeadLetter.FromString(letters[0].value or b"")
    assert letter.reason == "undecodable" and letter.consumer == "decisioning"
    assert letter.original_value == b"\xff\xfe not a protobuf"

    # Same app id, fresh local state: the changelog restores the states, so
    # re-sent events are recognised as replays and produce no new decisions.
    restarted = Hosted(
        settings.model_copy(
            update={
                "decisioning": settings.decisioning.model_copy(
                    update={"data_dir": tmp_path / "second"}
                )
            }
        )
    )
    try:
        await publish(settings, conversations())
        again = decisions(
            await read_topic(bootstrap, escalations, len(out), within_s=30, settle=5.0)
        )
    finally:
        restarted.stop()
    assert sorted(d.decision_id for d in again) == sorted(d.decision_id for d in out)


async def test_with_topic_creation_off_the_worker_decides_on_topics_made_beforehand(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    # A cluster that forbids creating topics: every topic, faust's own included, is
    # made beforehand (as Terraform or Strimzi would); the worker's producer compresses.
    creating = decisioning_settings(kafka_broker.bootstrap_servers, tmp_path)
    partitions = creating.topics.partitions
    changelog, history, leader = faust_topics(creating)
    compacted = {"cleanup.policy": "compact"}
    await ensure_topics(creating)
    await ensure_topics(
        creating,
        [
            TopicSpec(changelog, partitions, 1, compacted),
            TopicSpec(history, 1, 1, compacted),
            TopicSpec(leader, 1, 1, {}),
        ],
    )
    settings = creating.model_copy(
        update={
            "topics": creating.topics.model_copy(update={"create": False}),
            "kafka": creating.kafka.model_copy(update={"compression_type": "gzip"}),
        }
    )
    hosted = Hosted(settings)
    try:
        await publish(settings, conversations())
        out = decisions(
            await read_topic(
                settings.kafka.bootstrap_servers,
                settings.topics.name("escalations"),
                2,
                within_s=60,
                settle=3.0,
            )
        )
    finally:
        hosted.stop()
    assert {d.conversation_id for d in out} == {"angry", "human"}
