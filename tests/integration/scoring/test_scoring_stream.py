"""The scoring service on a real broker: order, pass-through, scores, dead letters, replicas."""

from __future__ import annotations

import grpc
import pytest

from tests.integration.scoring.conftest import (
    ACME_KEY,
    Hosted,
    event,
    publish,
    scoring_settings,
)
from tests.support import read_topic, wait_until
from warmline.localkafka import LocalKafka
from warmline.v1 import deadletter_pb2, events_pb2, scoring_pb2, scoring_pb2_grpc

pytestmark = pytest.mark.integration


def scored(records: list) -> list[scoring_pb2.ScoredEvent]:  # type: ignore[type-arg]
    return [scoring_pb2.ScoredEvent.FromString(r.value or b"") for r in records]


async def test_every_event_passes_in_order_and_only_customer_messages_are_scored(
    scoring: Hosted,
) -> None:
    conversation = [
        event(
            "c1-start",
            "c1",
            kind=events_pb2.EVENT_KIND_CONVERSATION_STARTED,
            role=events_pb2.ROLE_SYSTEM,
        ),
        event("c1-0", "c1", "Thank you so much, that was really helpful!"),
        event("c1-1", "c1", "Glad I could help.", role=events_pb2.ROLE_AGENT),
        event("c1-2", "c1", "This is ridiculous, I am furious, you charged me twice again!"),
        event("c1-3", "c1", "¿Dónde está mi pedido? Llevo tres semanas esperando.", language="es"),
    ]
    others = [
        event(f"c{n}-{i}", f"c{n}", f"message {i} of conversation {n}")
        for n in range(2, 6)
        for i in range(20)
    ]
    await publish(scoring.settings, conversation + others)
    out = scored(
        await read_topic(
            scoring.settings.kafka.bootstrap_servers, scoring.settings.topics.name("scored"), 85
        )
    )

    for n in range(2, 6):
        ids = [s.event.event_id for s in out if s.event.conversation_id == f"c{n}"]
        assert ids == [f"c{n}-{i}" for i in range(20)]
    by_id = {s.event.event_id: s for s in out}
    assert [s.event.event_id for s in out if s.event.conversation_id == "c1"] == [
        e.event_id for e in conversation
    ]
    assert not by_id["c1-start"].HasField("scores")
    assert not by_id["c1-1"].HasField("scores")  # agents' emotions are never scored
    happy, angry = by_id["c1-0"].scores, by_id["c1-2"].scores
    assert happy.status == angry.status == scoring_pb2.SCORE_STATUS_SCORED
    # Calibrated probabilities are modest in absolute terms; the contrast is what matters.
    assert angry.signals.negativity > 5 * happy.signals.negativity
    assert happy.signals.gratitude > 5 * angry.signals.gratitude
    assert "gratitude" in happy.predicted_labels
    assert {"anger", "annoyance"} & set(angry.predicted_labels)
    assert len(happy.labels) == 28 and happy.model_version and happy.taxonomy_version
    assert by_id["c1-3"].scores.status == scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE


async def test_a_poison_record_is_dead_lettered_and_the_next_is_still_scored(
    scoring: Hosted,
) -> None:
    await publish(
        scoring.settings,
        [],
        raw=[(b"acme/p1", b"\xff\xfe not a protobuf"), (b"acme/p1", b"x" * 300_000)],
    )
    await publish(scoring.settings, [event("p1-after", "p1", "Where is my parcel?")])
    bootstrap = scoring.settings.kafka.bootstrap_servers
    letters = [
        deadletter_pb2.DeadLetter.FromString(r.value or b"")
        for r in await read_topic(bootstrap, scoring.settings.topics.name("deadletter"), 2)
    ]
    assert sorted(d.reason for d in letters) == ["oversized", "undecodable"]
    undecodable = next(d for d in letters if d.reason == "undecodable")
    assert undecodable.source_topic == scoring.settings.topics.name("interactions")
    assert undecodable.original_value == b"\xff\xfe not a protobuf"
    assert undecodable.consumer == "scoring" and undecodable.detail
    [after] = scored(await read_topic(bootstrap, scoring.settings.topics.name("scored"), 1))
    assert after.event.event_id == "p1-after"
    assert after.scores.status == scoring_pb2.SCORE_STATUS_SCORED


async def test_grpc_score_answers_in_order_and_refuses_empty_requests(scoring: Hosted) -> None:
    key = (("authorization", f"Bearer {ACME_KEY}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{scoring.service.grpc.port}") as channel:
        stub = scoring_pb2_grpc.ScoringServiceStub(channel)
        reply = await stub.Score(
            scoring_pb2.ScoreRequest(
                texts=["I love this, thank you!", "", "I am so angry right now"]
            ),
            metadata=key,
        )
        spanish = await stub.Score(
            scoring_pb2.ScoreRequest(texts=["estoy harto"], language="es"), metadata=key
        )
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await stub.Score(scoring_pb2.ScoreRequest(), metadata=key)
        with pytest.raises(grpc.aio.AioRpcError) as keyless:
            await stub.Score(scoring_pb2.ScoreRequest(texts=["hello"]))
    assert keyless.value.code() == grpc.StatusCode.UNAUTHENTICATED
    statuses = [r.status for r in reply.results]
    assert statuses == [
        scoring_pb2.SCORE_STATUS_SCORED,
        scoring_pb2.SCORE_STATUS_EMPTY,
        scoring_pb2.SCORE_STATUS_SCORED,
    ]
    assert reply.results[2].signals.anger > reply.results[0].signals.anger
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [r.status for r in spanish.results] == [scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE]


async def test_two_replicas_split_the_partitions_and_score_each_event_once(
    kafka_broker: LocalKafka,
) -> None:
    settings = scoring_settings(kafka_broker.bootstrap_servers, group="scoring-pair")
    first = Hosted(settings)
    # Ready means assigned: a replica alone in its group owns every partition.
    assert first.assignment() == set(range(settings.topics.partitions))
    seen: list[bool] = []
    first.service.readiness.subscribe(seen.append)
    second = Hosted(settings)
    try:
        # The second replica's arrival rebalanced the group: the first said so.
        assert False in seen
        wait_until(
            lambda: (
                first.assignment()
                and second.assignment()
                and first.assignment() | second.assignment()
                == set(range(settings.topics.partitions))
            ),
            timeout=90,
            what="both replicas assigned",
        )
        assert not first.assignment() & second.assignment()
        events = [event(f"r{i}", f"conv-{i % 12}", f"turn {i}") for i in range(120)]
        await publish(settings, events)
        out = scored(
            await read_topic(
                settings.kafka.bootstrap_servers, settings.topics.name("scored"), 120, settle=2.0
            )
        )
        assert sorted(s.event.event_id for s in out) == sorted(e.event_id for e in events)
    finally:
        first.stop()
        second.stop()


async def test_turns_are_read_with_their_conversation_until_it_ends(scoring: Hosted) -> None:
    bot = "Please restart your router from the app."
    events = [
        event("w-0", "w", "How do I reset my router?"),
        event("w-1", "w", bot, role=events_pb2.ROLE_BOT),
        event("w-2", "w", "How do I reset the router? I don't have the app."),
        event("w-3", "w", bot, role=events_pb2.ROLE_BOT),
        event("w-end", "w", kind=events_pb2.EVENT_KIND_CONVERSATION_ENDED,
              role=events_pb2.ROLE_SYSTEM),
        event("w-4", "w", "How do I reset my router?"),
    ]  # fmt: skip
    await publish(scoring.settings, events)
    out = scored(
        await read_topic(
            scoring.settings.kafka.bootstrap_servers, scoring.settings.topics.name("scored"), 6
        )
    )
    by_id = {s.event.event_id: s for s in out}
    assert by_id["w-0"].context.context_turns == 0
    assert by_id["w-2"].context.context_turns == 2
    assert by_id["w-2"].context.repeat_similarity > 0.7  # asked again in other words
    assert by_id["w-3"].context.repeat_similarity > 0.99  # the bot said the same again
    assert not by_id["w-3"].HasField("scores")  # bot turns are read, never scored
    assert by_id["w-4"].context.context_turns == 0  # the ended conversation was forgotten
