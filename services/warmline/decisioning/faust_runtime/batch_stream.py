"""Batches of a Faust stream's events, taken straight off its channel's queue.

faust's ``Stream.take_events`` runs every event through the stream iterator: a
background task iterates the stream one event at a time (a sleep, the stream's
processors, its sensors and its current-event context per event) and feeds a
buffer that wakes the agent when it is full; the agent then acks the batch one
awaited event at a time. In the decisioning worker that cost about a tenth of
the CPU per event.

:func:`take_batches` reads the queue the conductor fills (the stream's channel,
in production and under ``agent.test_context()`` alike): it waits for the first
event, takes what else is queued at once, waits up to ``within`` for the rest of
a batch, and acks the batch's events in one pass once the caller asks for the
next one. Of faust's per-event work it keeps what correctness needs:

- an event queued before a rebalance (an older consumer generation), or taken
  while flow is stopped for one, is dropped unacked, as faust drops it;
- a record of an acking topic is tracked as unacked when taken
  (``Consumer.track_message``), so a rebalance waits for it and only acked
  offsets are committed;
- an error thrown into the channel (``stream.throw``) is raised to the caller.

It leaves out the per-event stream sensors (they feed faust's own monitor;
Warmline exports its own metrics), stream processors (the decide stream has
none) and the current-event context (the worker's tables place changelog
records with the partitioner, not by the current event).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any


async def take_batches(stream: Any, max_: int, within: float) -> AsyncIterator[list[Any]]:
    """Yield lists of up to ``max_`` events of ``stream``, each acked before the next list.

    A list is yielded as soon as it is full, or ``within`` seconds after its first
    event arrived. If the caller fails on a list, it should :func:`abandon` it.
    The iteration ends with the stream, or with the end of a finite channel.
    """
    queue = stream.channel.queue
    while not stream.should_stop:
        events, thrown = await _next_batch(stream.app, queue, max_, within)
        if events:
            yield events
            for event in events:
                event.ack()
        if isinstance(thrown, StopAsyncIteration):
            return  # a finite channel's end, as faust's own stream iterator treats it
        if thrown is not None:
            raise thrown


async def _next_batch(
    app: Any, queue: asyncio.Queue[Any], max_: int, within: float
) -> tuple[list[Any], Exception | None]:
    """The usable events among the next ``max_`` queued, waiting ``within`` for the last.

    An error thrown into the channel (faust's queue hands errors out ahead of
    queued events) comes back beside the events taken before it, which are
    handed over first: taken events are tracked, so none may be dropped.
    """
    loop = asyncio.get_running_loop()
    events: list[Any] = []
    try:
        events += _usable(app, [await queue.get()])
        deadline = loop.time() + within
        while len(events) < max_:
            taken = _take_queued(queue, max_ - len(events))
            if taken:
                events += _usable(app, taken)
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            events += _usable(app, [await asyncio.wait_for(queue.get(), remaining)])
    except TimeoutError:
        pass
    except Exception as exc:  # thrown into the channel (``stream.throw``)
        return events, exc
    return events, None


def abandon(events: Sequence[Any]) -> None:
    """Give up on a batch whose handling failed, without acking it.

    Its records stay unacked, so their offsets are never committed and a
    restart replays them; but the consumer no longer counts them as in flight,
    so stopping the worker does not wait for acks that will never come (faust
    waits for every tracked record before its last commit, for as long as the
    records are alive, and a failure's traceback keeps them alive).
    """
    for event in events:
        event.app.consumer.unacked.discard(event.message)


def _take_queued(queue: asyncio.Queue[Any], limit: int) -> list[Any]:
    """Up to ``limit`` events already in ``queue``, without waiting."""
    taken: list[Any] = []
    while len(taken) < limit and not queue.empty():
        taken.append(queue.get_nowait())
    return taken


def _usable(app: Any, events: list[Any]) -> list[Any]:
    """The events still meant for this worker, each tracked until it is acked."""
    consumer = app.consumer
    generation = app.consumer_generation_id
    flowing = app.flow_control.is_active()
    acks_enabled_for = app.topics.acks_enabled_for
    usable = []
    for event in events:
        message = event.message
        if not flowing or message.generation_id != generation:
            continue  # queued before a rebalance: its partition may be another worker's now
        if not message.tracked and acks_enabled_for(message.topic):
            message.tracked = True
            consumer.track_message(message)
        usable.append(event)
    return usable
