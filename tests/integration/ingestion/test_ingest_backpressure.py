"""Back-pressure, never silent loss: rate limits, a stopped broker, a full buffer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from tests.integration.ingestion.conftest import (
    ACME_KEY,
    RunningIngestion,
    message,
    start_ingestion,
)
from tests.integration.ingestion.test_ingest_grpc import auth, rich_status
from tests.support import read_topic
from warmline.localkafka import LocalKafka
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
def slow_lane(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[RunningIngestion]:
    """A service whose tenants may send one event every two seconds, bursts of 3."""
    yield from start_ingestion(
        kafka_broker.bootstrap_servers, tmp_path, rate_limit_per_s=0.5, rate_limit_burst=3
    )


async def test_a_tenant_over_its_rate_is_told_when_to_retry(slow_lane: RunningIngestion) -> None:
    async with grpc.aio.insecure_channel(slow_lane.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        for i in range(3):
            await stub.Publish(
                ingest_pb2.PublishRequest(event=message(f"r{i}")), metadata=auth(ACME_KEY)
            )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Publish(
                ingest_pb2.PublishRequest(event=message("r3")), metadata=auth(ACME_KEY)
            )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = error_details_pb2.RetryInfo()
    assert rich_status(caught.value).details[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() > 0


@pytest.fixture
def own_broker(kafka_broker: LocalKafka) -> Iterator[LocalKafka]:
    """A broker this test may stop and restart without disturbing the others."""
    broker = LocalKafka(version=kafka_broker.version).start()
    try:
        yield broker
    finally:
        broker.cleanup()


@pytest.fixture
def fragile(own_broker: LocalKafka, tmp_path: Path) -> Iterator[RunningIngestion]:
    """A service on its own broker, with a small buffer and a short delivery timeout."""
    yield from start_ingestion(own_broker.bootstrap_servers, tmp_path, buffer_max_events=20)


async def test_with_kafka_down_the_answer_is_unavailable_and_nothing_accepted_is_lost(
    own_broker: LocalKafka, fragile: RunningIngestion
) -> None:
    async with grpc.aio.insecure_channel(fragile.grpc_target) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        accepted = []
        for i in range(15):
            reply = await stub.Publish(
                ingest_pb2.PublishRequest(event=message(f"ok-{i}")), metadata=auth(ACME_KEY)
            )
            assert reply.ack.status == ingest_pb2.ACK_STATUS_ACCEPTED
            accepted.append(f"ok-{i}")

        own_broker.stop()

        # Kafka gone: the first events wait out the delivery timeout, then the
        # full buffer refuses new ones at once. Every answer is UNAVAILABLE.
        async def attempt(i: int) -> grpc.StatusCode:
            try:
                await stub.Publish(
                    ingest_pb2.PublishRequest(event=message(f"down-{i}")), metadata=auth(ACME_KEY)
                )
            except grpc.aio.AioRpcError as err:
                return err.code()
            return grpc.StatusCode.OK

        codes = await asyncio.gather(*(attempt(i) for i in range(30)))
        assert set(codes) == {grpc.StatusCode.UNAVAILABLE}

        own_broker.start()

        # Back to normal: a platform's retry of a refused event is accepted.
        async def retried() -> ingest_pb2.PublishResponse:
            for _ in range(60):
                try:
                    return await stub.Publish(
                        ingest_pb2.PublishRequest(event=message("down-0")), metadata=auth(ACME_KEY)
                    )
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.UNAVAILABLE
                    await asyncio.sleep(1)
            raise AssertionError("service never recovered after the broker came back")

        assert (await retried()).ack.status in (
            ingest_pb2.ACK_STATUS_ACCEPTED,
            ingest_pb2.ACK_STATUS_DUPLICATE,
        )
    records = await read_topic(
        own_broker.bootstrap_servers, fragile.topic, len(accepted), within_s=60
    )
    stored = {events_pb2.InteractionEvent.FromString(r.value or b"").event_id for r in records}
    assert set(accepted) <= stored
