"""A faust-streaming consumer whose fetch loop costs no tasks per record.

faust-streaming 0.15's fetch loop (``Consumer._drain_messages``) hands every
record to the streams through ``Service.wait_first(callback(message),
suspend_flow.wait())``: four new tasks and an ``asyncio.wait`` per record, so
that a record blocked on a full stream buffer gives way when a rebalance stops
the flow. In the decisioning worker that was about a third of Faust's share of
the time per event.

:class:`WorkerConsumer` awaits the callback directly and gets the same give-way
another way: :meth:`WorkerConsumer.stop_flow` (what faust calls when a rebalance
starts) cancels the fetch loop while it waits inside a callback, and the loop
drops that record and carries on, exactly as faust's loop drops the record whose
callback lost the race. Everything else (offsets, gaps, commits, stop and crash
handling) follows faust's loop line for line.

After every rebalance faust seeks each partition back to its committed offset;
:meth:`WorkerConsumer.seek_to_committed` also moves partitions with nothing
committed back to their start (aiokafka leaves those where the fetcher was).

Before each commit of input offsets the consumer awaits the app's
``before_commit`` hook, so an app that does not wait for its outputs' acknowledgements
per batch can still refuse to commit past an output the brokers rejected.

The override replaces a private method and reads private attributes, so it is
tied to the faust-streaming versions ``pyproject.toml`` allows (``<0.16``);
:mod:`~warmline.decisioning.faust_runtime.faust_private` lists each of them and
checks them at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

#: Records handed over between explicit yields to the event loop, as in faust.
YIELD_EVERY = 100


class WorkerConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer with a fetch loop that awaits each callback directly,
    a commit gate, and a post-rebalance seek that leaves no partition behind."""

    _drain_task: asyncio.Task[Any] | None = None
    _in_callback = False
    _flow_cancelled = False

    def stop_flow(self) -> None:
        """Stop the flow, and free the fetch loop if a record is blocked in a stream buffer."""
        super().stop_flow()
        task = self._drain_task
        # While stop_flow runs the fetch loop is suspended; inside a callback means
        # blocked on a stream buffer (full, or flow-controlled for the rebalance).
        if self._in_callback and task is not None and task is not asyncio.current_task():
            self._flow_cancelled = True
            task.cancel()

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to its committed offset, and those with
        nothing committed (or 0) to their start.

        aiokafka's ``seek_to_committed`` moves only partitions whose committed
        offset is above 0; the rest keep whatever position the fetcher reached.
        faust calls it after every rebalance to re-read what the stopped flow
        dropped, so a record dropped on a partition this group never committed
        (a quiet partition, or the first minutes of a deployment) was never read
        again: an event left undecided. Reading such a partition from its start
        re-reads only what this group never committed; what it already decided
        is recognised by event id and not decided twice.
        """
        committed = await super().seek_to_committed()
        uncommitted = [
            tp for tp, offset in committed.items() if not offset and not self._is_changelog_tp(tp)
        ]
        if uncommitted:
            await self._thread.seek_to_beginning(*uncommitted)
        return committed

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        # faust flushed the producer just before; the app checks that what it sent
        # for the records being committed was accepted (and raises if not).
        before_commit = getattr(self.app, "before_commit", None)
        if before_commit is not None:
            await before_commit()
        committed: bool = await super()._commit(offsets)
        return committed

    async def _deliver(self, message: Any) -> bool:
        """Hand one record to its streams; False when a rebalance cut it off."""
        self._in_callback = True
        try:
            await self.callback(message)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._flow_cancelled or task is None or task.cancelling() != 1:
                raise  # the fetcher itself is stopping
            task.uncancel()
            return False
        finally:
            self._in_callback = False
            self._flow_cancelled = False
        return True

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - see tests
        self._drain_task = asyncio.current_task()
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        read_offsets = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                records = cast(AsyncIterator[Any], self.getmany(timeout=1.0))
                # As in faust: getmany may not yield to the loop when records are ready.
                await self.sleep(0)
                if self.should_stop:
                    continue
                async for tp, message in records:
                    since_yield += 1
                    if since_yield > YIELD_EVERY:
                        await asyncio.sleep(0)
                        since_yield = 0
                    offset = message.offset
                    read = read_offsets[tp]
                    if read is not None and offset < read:
                        continue  # already handed over (faust logs these at dev level)
                    if offset - (read or 0) > 1 and read and acks_enabled_for(message.topic):
                        await self._add_gap(tp, read + 1, offset)
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
                    if not self.suspend_flow.is_set():
                        await self._deliver(message)
                    read_offsets[tp] = offset
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)
            self._drain_task = None


class WorkerTransport(faust_aiokafka.Transport):
    """faust's aiokafka transport, with :class:`WorkerConsumer` as its consumer."""

    Consumer = WorkerConsumer


class WorkerApp(faust.App):
    """The decisioning worker's Faust app: its consumer is a :class:`WorkerConsumer`
    (Kafka brokers only)."""

    #: Awaited before every commit of input offsets; raising stops that commit.
    before_commit: Callable[[], Awaitable[None]] | None = None

    def _new_transport(self) -> Any:
        return WorkerTransport(self.conf.broker_consumer, self)
