"""The shared Kafka runtime against a real broker: topics, the pipeline loop, failures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError

from tests.support import read_topic, settings_for, unique
from warmline.common.kafka import admin_client, create_consumer, create_producer, kafka_reachable
from warmline.common.pipeline import (
    DeliveryTimeout,
    Output,
    dead_letter,
    produce_all,
    run_pipeline,
)
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import declared_topics, ensure_topics
from warmline.localkafka import LocalKafka
from warmline.v1 import deadletter_pb2

pytestmark = pytest.mark.integration


async def test_declared_topics_are_created_once_with_their_shape(
    settings: WarmlineSettings,
) -> None:
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(spec.name for spec in declared_topics(settings))
    assert await ensure_topics(settings) == []  # a second start-up creates nothing

    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics([settings.topics.name("scored")])
        assert len(described[0]["partitions"]) == settings.topics.partitions
    finally:
        await admin.close()


async def test_pipeline_commits_only_after_outputs_are_acknowledged(
    settings: WarmlineSettings,
) -> None:
    await ensure_topics(settings)
    source, sink = settings.topics.name("interactions"), settings.topics.name("scored")
    producer = create_producer(settings, "test")
    await producer.start()
    keys = [f"tenant/conv-{i % 4}".encode() for i in range(40)]
    await produce_all(producer, [Output(source, k, f"m{i}".encode()) for i, k in enumerate(keys)])

    group = unique("group")
    consumer = create_consumer(settings, group, source, client_id="test")
    await consumer.start()
    stop = asyncio.Event()
    seen = 0

    async def upper(records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[Output]:
        nonlocal seen
        seen += len(records)
        if seen >= 40:
            stop.set()
        return [Output(sink, r.key, (r.value or b"").upper()) for r in records]

    try:
        await asyncio.wait_for(run_pipeline(consumer, producer, upper, stop), 30)
        committed = {tp: await consumer.committed(tp) for tp in consumer.assignment()}
    finally:
        await consumer.stop()
        await producer.stop()

    out = await read_topic(settings.kafka.bootstrap_servers, sink, 40)
    assert sorted(r.value for r in out) == sorted(f"M{i}".encode() for i in range(40))
    # Per-key order survives the loop: one conversation stays on one partition.
    for key in set(keys):
        values = [int((r.value or b"")[1:]) for r in out if r.key == key]
        assert values == sorted(values)
    assert sum(o or 0 for o in committed.values()) == 40


async def test_dead_letter_keeps_the_original_record_and_reason(settings: WarmlineSettings) -> None:
    await ensure_topics(settings)
    record = ConsumerRecord(
        topic="in", partition=2, offset=41, timestamp=0, timestamp_type=0, key=b"t/c",
        value=b"\xff\x00garbage", checksum=None, serialized_key_size=3, serialized_value_size=9,
        headers=(),
    )  # fmt: skip
    out = dead_letter(record, topic=settings.topics.name("deadletter"), consumer="scoring",
                      reason="undecodable", detail="not a protobuf")  # fmt: skip
    producer = create_producer(settings, "test")
    await producer.start()
    try:
        await produce_all(producer, [out])
    finally:
        await producer.stop()
    [stored] = await read_topic(
        settings.kafka.bootstrap_servers, settings.topics.name("deadletter"), 1
    )
    letter = deadletter_pb2.DeadLetter.FromString(stored.value or b"")
    assert stored.key == b"t/c"
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == ("in", 2, 41)
    assert letter.original_value == b"\xff\x00garbage"
    assert letter.reason == "undecodable"


async def test_a_stopped_broker_surfaces_as_an_error_not_a_hang(kafka_broker: LocalKafka) -> None:
    # A broker of its own, so stopping it does not disturb the other tests.
    broker = LocalKafka(version=kafka_broker.version).start()
    try:
        settings = settings_for(broker.bootstrap_servers)
        await ensure_topics(settings)
        producer = create_producer(settings, "test")
        await producer.start()
        topic = settings.topics.name("interactions")
        await produce_all(producer, [Output(topic, b"t/c", b"before")])
        broker.kill()
        with pytest.raises(DeliveryTimeout):
            await produce_all(producer, [Output(topic, b"t/c", b"after")], timeout_s=3)
        admin = admin_client(settings)
        with contextlib.suppress(KafkaError, OSError):
            await admin.start()
        assert not await kafka_reachable(admin, 2.0)
        # aiokafka's stop() can hang while the brokers are gone (aio-libs/aiokafka#1101).
        with contextlib.suppress(TimeoutError, KafkaError):
            await asyncio.wait_for(producer.stop(), 2)
    finally:
        broker.cleanup()


def test_only_a_kafka_broker_counts_as_ready_on_its_port(kafka_broker: LocalKafka) -> None:
    from warmline.localkafka import broker as local

    assert local._metadata_ok(kafka_broker.port)
    # Something else answering on the port (here an HTTP server) is not a broker.
    with socket.socket() as http:
        http.bind(("127.0.0.1", 0))
        http.listen()
        port = http.getsockname()[1]

        def answer() -> None:
            conn, _ = http.accept()
            with conn:
                conn.recv(64)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        server = threading.Thread(target=answer, daemon=True)
        server.start()
        assert not local._metadata_ok(port)
        server.join(5)
    assert not local._metadata_ok(local.free_port())  # nobody there


def test_a_port_taken_before_the_broker_binds_it_is_chosen_again(
    kafka_broker: LocalKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmline.localkafka import broker as local

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        chosen = iter([taken])
        real_free_port = local.free_port
        monkeypatch.setattr(local, "free_port", lambda: next(chosen, None) or real_free_port())
        broker = LocalKafka(version=kafka_broker.version).start()
        try:
            assert broker.port != taken
            assert local._metadata_ok(broker.port)
        finally:
            broker.cleanup()


_PARENT = """
import sys
from warmline.localkafka import LocalKafka
broker = LocalKafka(version=sys.argv[1]).start()
print(broker._proc.pid, flush=True)
sys.stdin.read()  # until the test kills us
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_broker_dies_with_the_process_that_started_it(
    kafka_broker: LocalKafka, sig: signal.Signals
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, kafka_broker.version],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert parent.stdout is not None
        jvm = int(parent.stdout.readline())
        assert _alive(jvm)
        parent.send_signal(sig)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while _alive(jvm) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(jvm), f"the broker (pid {jvm}) outlived its parent"
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by init) counts as gone.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    return True
