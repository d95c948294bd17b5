"""The worker's two agents: each takes batches off its stream and hands them to a step.

A batch that fails is abandoned unacked and the failure recorded in
:class:`FirstFailure`, which the service stops on: faust alone would restart the
agent past the records it had taken, whereas the service's restart replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from warmline.decisioning.faust_runtime.batch_stream import abandon, take_batches

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")

#: Records taken per batch (how long a batch waits to fill is a setting).
BATCH_MAX = 100


class FirstFailure:
    """The first failure of an agent's batch or of an output, for the service to stop on.

    Build it inside the running event loop.
    """

    def __init__(self) -> None:
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def record(self, exc: BaseException) -> None:
        """Keep ``exc`` unless a failure was recorded already."""
        if not self.failed.done():
            self.failed.set_exception(exc)

    @contextlib.contextmanager
    def stop_on_failure(self, agent: str, events: Sequence[Any]) -> Iterator[None]:
        """Record a failure of ``agent``'s batch ``events``, and abandon the batch unacked.

        Nothing past the batch is committed, and the service's stop does not wait for it.
        """
        try:
            yield
        except Exception as exc:
            abandon(events)
            log.error("decisioning agent failed", extra={"agent": agent, "error": repr(exc)})
            self.record(exc)
            raise


def batch_agent(
    name: str,
    step: Callable[[Sequence[Any]], Awaitable[list[_Result]]],
    linger_s: float,
    failures: FirstFailure,
) -> Callable[[Any], AsyncIterator[list[_Result]]]:
    """An agent body that feeds ``step`` batches of up to :data:`BATCH_MAX` records.

    It yields each batch's results (to no sink in production): that is what lets
    ``agent.test_context()`` see when a batch is done, and what it produced.
    """

    async def agent(stream: Any) -> AsyncIterator[list[_Result]]:
        async for events in take_batches(stream, BATCH_MAX, linger_s):
            with failures.stop_on_failure(name, events):
                results = await step(events)
            yield results

    return agent
