"""A gRPC client for agent consoles (the terminal console, the demo, benchmarks, integrations).

:meth:`ConsoleClient.follow` keeps a console subscribed: it remembers the cursor
of the last delivery, and when the stream breaks or goes silent for three
heartbeats it reconnects from that cursor, so nothing is missed or repeated.
Reconnections wait a jittered, capped backoff (:class:`~warmline.client.backoff.Backoff`),
so the consoles of a restarted replica do not all come back in the same instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import grpc

from warmline.client.backoff import Backoff
from warmline.v1 import feedback_pb2, notification_pb2, notification_pb2_grpc

log = logging.getLogger(__name__)

Response = notification_pb2.SubscribeResponse

# Codes after which reconnecting cannot help: the caller must fix something.
_FATAL = {
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.INVALID_ARGUMENT,
}


def open_channel(
    target: str, credentials: grpc.ChannelCredentials | None, backoff: Backoff
) -> grpc.aio.Channel:
    """A channel whose own reconnection attempts stay within the client's backoff cap."""
    options = [
        ("grpc.initial_reconnect_backoff_ms", int(backoff.base_s * 1000)),
        ("grpc.max_reconnect_backoff_ms", int(backoff.cap_s * 1000)),
    ]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)


class ConsoleClient:
    """One agent's connection to the notification service.

    ``cursor`` is the resume cursor of the last delivery received; a console that
    keeps it across restarts sets it before :meth:`follow` to resume exactly.
    ``credentials`` (``grpc.ssl_channel_credentials(...)``) for a TLS endpoint.
    """

    def __init__(
        self,
        target: str,
        token: str,
        agent_id: str = "",
        *,
        credentials: grpc.ChannelCredentials | None = None,
        backoff: Backoff | None = None,
        channel: grpc.aio.Channel | None = None,
    ) -> None:
        self.backoff = backoff or Backoff()
        self._owns_channel = channel is None
        self._channel = channel or open_channel(target, credentials, self.backoff)
        self._stub = notification_pb2_grpc.NotificationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),)
        self.agent_id = agent_id
        self.cursor = ""
        self.reconnects = 0

    def as_agent(self, token: str, agent_id: str) -> ConsoleClient:
        """Another agent on this client's connection (a bridge serving many consoles)."""
        return ConsoleClient("", token, agent_id, channel=self._channel)

    async def close(self) -> None:
        """Close the channel, unless it is shared with the client that made this one."""
        if self._owns_channel:
            await self._channel.close()

    def subscribe(
        self,
        queues: Sequence[str],
        *,
        tenant_id: str = "",
        resume_cursor: str | None = None,
        resend_open: bool = False,
    ) -> grpc.aio.UnaryStreamCall[notification_pb2.SubscribeRequest, Response]:
        """One Subscribe call (no reconnection); from ``resume_cursor`` or the client's cursor."""
        request = notification_pb2.SubscribeRequest(
            queues=list(queues),
            agent_id=self.agent_id,
            tenant_id=tenant_id,
            resume_cursor=self.cursor if resume_cursor is None else resume_cursor,
            resend_open=resend_open,
        )
        return self._stub.Subscribe(request, metadata=self._metadata)

    async def follow(
        self,
        queues: Sequence[str],
        *,
        tenant_id: str = "",
        heartbeat_s: float = 10.0,
        stop: asyncio.Event | None = None,
    ) -> AsyncIterator[Response]:
        """Every delivery and notice, across reconnections, until ``stop`` is set.

        Heartbeats are consumed here; a refusal (bad token, scope) is raised.
        Between attempts it waits ``self.backoff``; any response resets it.
        """
        stop = stop or asyncio.Event()
        while not stop.is_set():
            # Nothing shown yet (no cursor): the console wants what is open.
            call = self.subscribe(queues, tenant_id=tenant_id, resend_open=not self.cursor)
            try:
                async for response in _until_silent(call, 3 * heartbeat_s, stop):
                    self.backoff.reset()
                    if response.WhichOneof("payload") == "heartbeat":
                        continue
                    if response.WhichOneof("payload") == "delivery" and response.delivery.cursor:
                        self.cursor = response.delivery.cursor
                    yield response
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _FATAL:
                    raise
                log.warning("console stream broke; reconnecting", extra={"code": str(exc.code())})
            finally:
                call.cancel()
            await self.backoff.wait(stop)
            self.reconnects += 0 if stop.is_set() else 1

    async def claim(self, decision_id: str) -> notification_pb2.ClaimResponse:
        """Take an escalation."""
        request = notification_pb2.ClaimRequest(decision_id=decision_id, agent_id=self.agent_id)
        response: notification_pb2.ClaimResponse = await self._stub.Claim(
            request, metadata=self._metadata
        )
        return response

    async def ack(self, cursor: str | None = None) -> None:
        """Confirm deliveries up to ``cursor`` (default: the last one received)."""
        request = notification_pb2.AckRequest(agent_id=self.agent_id, cursor=cursor or self.cursor)
        await self._stub.Ack(request, metadata=self._metadata)

    async def feedback(
        self, decision_id: str, verdict: feedback_pb2.Verdict.ValueType, comment: str = ""
    ) -> str:
        """Send a verdict on an escalation; returns the feedback id."""
        request = notification_pb2.SubmitFeedbackRequest(
            decision_id=decision_id, agent_id=self.agent_id, verdict=verdict, comment=comment
        )
        response: notification_pb2.SubmitFeedbackResponse = await self._stub.SubmitFeedback(
            request, metadata=self._metadata
        )
        return response.feedback_id

    async def reveal(self, decision_id: str) -> str:
        """The unmasked text of an abusive escalation."""
        request = notification_pb2.RevealRequest(decision_id=decision_id, agent_id=self.agent_id)
        response: notification_pb2.RevealResponse = await self._stub.Reveal(
            request, metadata=self._metadata
        )
        return response.text

    async def pause(
        self, duration_s: int = 0, *, all_offers: bool = False
    ) -> notification_pb2.PauseState:
        """Hold high-intensity offers (or every offer) back for a while; 0: the service's default."""
        request = notification_pb2.PauseRequest(
            agent_id=self.agent_id, duration_s=duration_s, all_offers=all_offers
        )
        response: notification_pb2.PauseResponse = await self._stub.Pause(
            request, metadata=self._metadata
        )
        return response.state

    async def resume(self) -> None:
        """End this agent's pause now."""
        request = notification_pb2.ResumeRequest(agent_id=self.agent_id)
        await self._stub.Resume(request, metadata=self._metadata)


async def _until_silent(
    call: grpc.aio.UnaryStreamCall[notification_pb2.SubscribeRequest, Response],
    silence_s: float,
    stop: asyncio.Event,
) -> AsyncIterator[Response]:
    """The call's responses; ends when nothing, not even a heartbeat, came for ``silence_s``."""
    stream = call.__aiter__()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            nxt = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait(
                {nxt, stopping}, timeout=silence_s, return_when=asyncio.FIRST_COMPLETED
            )
            if nxt not in done:
                nxt.cancel()
                with contextlib.suppress(
                    asyncio.CancelledError, StopAsyncIteration, grpc.aio.AioRpcError
                ):
                    await nxt
                if not done:
                    log.warning("console stream silent; reconnecting")
                return
            try:
                response = nxt.result()
            except StopAsyncIteration:
                return
            yield response
    finally:
        stopping.cancel()
