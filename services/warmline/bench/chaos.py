"""``make chaos``: the pipeline under steady load while things fail.

The stack of ``warmline bench e2e`` (a broker, the four services as processes,
an agent console over gRPC) takes a steady offered rate of live conversations
for the whole run, while, one after another:

* each service is killed with SIGKILL and started again;
* the broker is stopped and started again (same data);
* decisioning is scaled from one worker to three and back (rebalances under load);
* the notification replica the console follows is killed; the console resumes
  from its cursor when it is back.

The generator behaves like a platform: what was sent but not acknowledged when
the door broke is sent again, with the same event ids.

Counted at the end: acknowledged events missing from the scored topic (``lost``),
expected escalations never delivered (``missing``), escalations the console saw
twice (``duplicated``), and per fault the time until every service was ready again
and an escalation triggered after the fault had reached the console
(``recovery_s``; ``max_recovery_s`` the longest).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc

from warmline.bench.common import write_result
from warmline.bench.e2e import (
    _API_KEY,
    TENANT,
    Console,
    Stack,
    Template,
    decided_from,
    escalation_tally,
    queues,
    ready,
    running_stack,
    schedule,
    scored_events,
    start_service,
    stop_service,
    templates,
)
from warmline.common.settings import Store
from warmline.localkafka import LocalKafka
from warmline.localkafka.broker import free_port
from warmline.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc

#: Seconds of steady load before the first fault and between faults.
SETTLE_S = 15.0
#: The target of issue #15.
RECOVERY_TARGET_S = 30.0
_SLOT_S = 0.05


@dataclass
class Fault:
    """One fault and how long the pipeline took to recover from it."""

    name: str
    at: float
    ready_at: float | None = None
    recovered_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        recovered = (
            round(max(self.ready_at or 0.0, self.recovered_at) - self.at, 1)
            if self.recovered_at is not None
            else None
        )
        return {"fault": self.name, "recovery_s": recovered}


@dataclass
class Generator:
    """Sends a schedule through ingestion, resending what a broken stream left unacknowledged."""

    stack: Stack
    due: list[tuple[float, events_pb2.InteractionEvent]]
    acked_at: dict[str, float] = field(default_factory=dict)
    stream_breaks: int = 0
    started: float = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        self.started = time.perf_counter()
        position = 0
        while position < len(self.due) and not stop.is_set():
            in_flight: list[list[events_pb2.InteractionEvent]] = []
            try:
                async with grpc.aio.insecure_channel(self.stack.ingest_target) as channel:
                    stub = ingest_pb2_grpc.IngestServiceStub(channel)
                    call = stub.PublishStream(
                        self._requests(position, in_flight, stop),
                        metadata=(("authorization", f"Bearer {_API_KEY}"),),
                    )
                    async for reply in call:
                        now = time.perf_counter()
                        batch = in_flight.pop(0)
                        for event, ack in zip(batch, reply.acks, strict=True):
                            if ack.status in (
                                ingest_pb2.ACK_STATUS_ACCEPTED,
                                ingest_pb2.ACK_STATUS_DUPLICATE,
                            ):
                                self.acked_at.setdefault(event.event_id, now)
                    return
            except grpc.aio.AioRpcError:
                self.stream_breaks += 1
                await asyncio.sleep(0.5)
            # Start again from the first event not acknowledged.
            position = next(
                (i for i, (_, e) in enumerate(self.due) if e.event_id not in self.acked_at),
                len(self.due),
            )

    async def _requests(
        self,
        position: int,
        in_flight: list[list[events_pb2.InteractionEvent]],
        stop: asyncio.Event,
    ) -> Any:
        i = position
        while i < len(self.due) and not stop.is_set():
            slot_start = self.due[i][0]
            batch = []
            while i < len(self.due) and self.due[i][0] < slot_start + _SLOT_S:
                if self.due[i][1].event_id not in self.acked_at:
                    batch.append(self.due[i][1])
                i += 1
            await asyncio.sleep(max(0.0, self.started + slot_start - time.perf_counter()))
            if not batch:
                continue
            now = datetime.now(UTC)
            for event in batch:
                if not event.HasField("occurred_at"):
                    event.occurred_at.FromDatetime(now)
            in_flight.append(batch)
            yield ingest_pb2.PublishStreamRequest(events=batch)


async def _all_ready(stack: Stack, within_s: float = 180.0) -> float:
    """When every service said ready again (raises after ``within_s``)."""
    deadline = time.perf_counter() + within_s
    while time.perf_counter() < deadline:
        if all([await asyncio.to_thread(ready, p) for p in stack.metrics_ports.values()]):
            return time.perf_counter()
        await asyncio.sleep(0.3)
    raise RuntimeError(f"the services were not all ready {within_s:.0f} s after the fault")


async def _kill_and_restart(stack: Stack, name: str) -> None:
    await stop_service(stack, name, signal.SIGKILL)
    await asyncio.sleep(1.0)
    await start_service(stack, name)


async def _restart_broker(stack: Stack) -> None:
    broker = stack.broker
    await asyncio.to_thread(broker.stop)
    await asyncio.sleep(2.0)
    await asyncio.to_thread(broker.start)


async def _scale_decisioning(stack: Stack, workers: int) -> None:
    extra = [key for key in stack.processes if key.startswith("decisioning-")]
    for n in range(len(extra) + 2, workers + 1):
        d = stack.settings.decisioning
        settings = stack.settings.model_copy(
            update={
                "decisioning": d.model_copy(
                    update={
                        "data_dir": Path(f"{d.data_dir}-{n}"),
                        "http_port": free_port(),
                        "metrics_port": free_port(),
                    }
                )
            }
        )
        await start_service(stack, "decisioning", f"decisioning-{n}", settings)
    for key in sorted(extra, reverse=True)[: max(0, len(extra) + 1 - workers)]:
        await stop_service(stack, key)
        stack.metrics_ports.pop(key, None)


async def measure(
    kafka_version: str,
    rate: float,
    pool: Sequence[Template] | None = None,
    store: Store = "memory",
) -> dict[str, Any]:
    """Run the load with every fault in turn and count what went wrong."""
    pool = list(pool or templates())
    faults: list[tuple[str, Callable[[Stack], Awaitable[None]]]] = [
        ("kill scoring", lambda s: _kill_and_restart(s, "scoring")),
        ("kill decisioning", lambda s: _kill_and_restart(s, "decisioning")),
        ("kill notification", lambda s: _kill_and_restart(s, "notification")),
        ("kill ingestion", lambda s: _kill_and_restart(s, "ingestion")),
        ("restart broker", _restart_broker),
        ("scale decisioning 1 -> 3", lambda s: _scale_decisioning(s, 3)),
        ("scale decisioning 3 -> 1", lambda s: _scale_decisioning(s, 1)),
    ]
    # Scheduled longer than the faults take; the load stops one settle after the last.
    due, copies = schedule(pool, rate, 60.0 * (len(faults) + 2), "chaos")
    done: list[Fault] = []
    async with running_stack(kafka_version, store=store) as stack:
        console = Console(
            stack.console_target, queues(stack.settings.notification.supervisor_queue)
        )
        await console.start()
        generator = Generator(stack, due)
        stop = asyncio.Event()
        load = asyncio.create_task(generator.run(stop))
        try:
            for name, inject in faults:
                await asyncio.sleep(SETTLE_S)
                fault = Fault(name, time.perf_counter())
                await inject(stack)
                fault.ready_at = await _all_ready(stack)
                done.append(fault)
            await asyncio.sleep(SETTLE_S)
            stop.set()
            await asyncio.wait_for(load, 60)
            await console.quiet(10.0, within_s=180.0)
        finally:
            stop.set()
            load.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await load
            await console.close()
        scored_stream = await scored_events(stack.settings, "chaos")
    scored = {e.event.event_id for e in scored_stream}
    decided = decided_from(scored_stream)
    delivered_at = {c: at for c, (at, _) in console.first.items()}
    trigger_acked = {
        c: generator.acked_at.get(d.trigger_event_id) for c, (_, d) in console.first.items()
    }
    for fault in done:
        after = [
            at
            for c, at in delivered_at.items()
            if (acked := trigger_acked.get(c)) is not None and acked > fault.at
        ]
        fault.recovered_at = min(after) if after else None
    sent = [e for _, e in due if e.event_id in generator.acked_at]
    delivered = {c for c in delivered_at if c.startswith("chaos-")}
    recoveries = [f.as_json()["recovery_s"] for f in done]
    return {
        "offered_customer_msgs_per_s": rate,
        "seconds": round(time.perf_counter() - generator.started, 1),
        "events": len(sent),
        "acknowledged": len(generator.acked_at),
        "stream_breaks": generator.stream_breaks,
        "lost": len(set(generator.acked_at) - scored),
        **escalation_tally(copies, sent, delivered, decided),
        "duplicated": console.duplicated,
        "kills": sum(f.name.startswith("kill") for f in done),
        "broker_restarts": sum(f.name == "restart broker" for f in done),
        "rebalances": sum(f.name.startswith("scale") for f in done),
        "faults": [f.as_json() for f in done],
        "max_recovery_s": max((r for r in recoveries if r is not None), default=None),
        "unrecovered": [f.name for f in done if f.recovered_at is None],
        "tenant": TENANT,
        "kafka_version": kafka_version,
        "decisioning_store": store,
        "targets": {"lost": 0, "duplicated": 0, "max_recovery_s": RECOVERY_TARGET_S},
    }


def run(
    out: Path, rate: float = 50.0, kafka_version: str | None = None, store: Store = "memory"
) -> dict[str, Any]:
    """Measure and write the JSON result to ``out`` (``store``: decisioning's
    ``DECISIONING__STORE``; with ``sqlite`` every worker keeps its own file and a
    killed one restarts on it)."""
    version = kafka_version or os.environ.get("WARMLINE_KAFKA_VERSION") or LocalKafka.version
    return write_result(out, asyncio.run(measure(version, rate, store=store)))
