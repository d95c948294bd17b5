"""gRPC ``NotificationService``: the agent console's stream and its actions.

The agent token travels as ``authorization: Bearer <token>`` metadata. A
refusal becomes the matching status code; INVALID_ARGUMENT carries a
``google.rpc.BadRequest`` naming the field.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from warmline.common.credentials import bearer_token
from warmline.common.metrics import NOTIFICATION_DELIVERY_SECONDS, NOTIFICATION_END_TO_END_SECONDS
from warmline.notification.core import NotificationCore, Refusal, Refused
from warmline.notification.hub import CLOSE, Outgoing, Subscription, pause_state
from warmline.notification.tokens import AgentScope
from warmline.v1 import notification_pb2, notification_pb2_grpc

T = TypeVar("T")

_CODES = {
    Refusal.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    Refusal.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    Refusal.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    Refusal.NOT_FOUND: code_pb2.NOT_FOUND,
    Refusal.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    Refusal.UNAVAILABLE: code_pb2.UNAVAILABLE,
}


def refusal_status(refused: Refused) -> grpc.Status:
    """The gRPC status of a refusal, with field details for a bad argument."""
    status = status_pb2.Status(code=_CODES[refused.reason], message=refused.message)
    if refused.field:
        packed = any_pb2.Any()
        packed.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=refused.field, description=refused.message
                    )
                ]
            )
        )
        status.details.append(packed)
    return rpc_status.to_status(status)


def observe_delivery(item: Outgoing) -> None:
    """Delivery and end-to-end latency of a decision about to be written to a stream."""
    if item.read_at is not None:
        NOTIFICATION_DELIVERY_SECONDS.observe(time.perf_counter() - item.read_at)
        ingested = item.response.delivery.decision.timings.ingested_at
        if ingested.seconds:
            age = datetime.now(UTC) - ingested.ToDatetime(tzinfo=UTC)
            NOTIFICATION_END_TO_END_SECONDS.observe(max(0.0, age.total_seconds()))


async def next_item(sub: Subscription, heartbeat_s: float) -> Outgoing | None:
    """The next response for a console, or None when it is time for a heartbeat."""
    if not sub.pending.empty():
        return sub.pending.get_nowait()  # no timer task when work is waiting
    try:
        return await asyncio.wait_for(sub.pending.get(), heartbeat_s)
    except TimeoutError:
        return None


def heartbeat() -> notification_pb2.SubscribeResponse:
    """A heartbeat response stamped now."""
    response = notification_pb2.SubscribeResponse(heartbeat=notification_pb2.Heartbeat())
    response.heartbeat.sent_at.FromDatetime(datetime.now(UTC))
    return response


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    """Translates gRPC calls to :class:`NotificationCore` and back."""

    def __init__(self, core: NotificationCore, heartbeat_s: float) -> None:
        self.core = core
        self.heartbeat_s = heartbeat_s

    def _scope(self, context: grpc.aio.ServicerContext) -> AgentScope:
        metadata = dict(context.invocation_metadata() or ())
        token = bearer_token(metadata.get("authorization"))
        return self.core.authenticate(token)

    async def Subscribe(
        self,
        request: notification_pb2.SubscribeRequest,
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[notification_pb2.SubscribeResponse]:
        try:
            scope = self._scope(context)
            sub = self.core.subscribe(
                scope,
                queues=list(request.queues),
                agent_id=request.agent_id,
                tenant_id=request.tenant_id,
                resume_cursor=request.resume_cursor,
                api="grpc",
                resend_open=request.resend_open,
            )
        except Refused as refused:
            await context.abort_with_status(refusal_status(refused))
            return
        try:
            # Headers now, so the console knows it is subscribed before anything arrives.
            await context.send_initial_metadata(())
            while True:
                item = await next_item(sub, self.heartbeat_s)
                if item is CLOSE:
                    await context.abort(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        "console too far behind; resume from the last cursor",
                    )
                    return
                if item is None:
                    yield heartbeat()
                    continue
                observe_delivery(item)
                yield item.response
        finally:
            self.core.hub.unsubscribe(sub)

    async def _answer(
        self, context: grpc.aio.ServicerContext, act: Callable[[AgentScope], Awaitable[T]]
    ) -> T:
        """Run ``act`` as the token's agent; a refusal ends the call with its status."""
        try:
            return await act(self._scope(context))
        except Refused as refused:
            await context.abort_with_status(refusal_status(refused))
            raise AssertionError("abort_with_status raises") from refused

    async def Claim(
        self,
        request: notification_pb2.ClaimRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.ClaimResponse:
        outcome = await self._answer(
            context, lambda scope: self.core.claim(scope, request.agent_id, request.decision_id)
        )
        return notification_pb2.ClaimResponse(
            granted=outcome.granted, holder_agent_id=outcome.holder_agent_id
        )

    async def Ack(
        self,
        request: notification_pb2.AckRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.AckResponse:
        await self._answer(
            context, lambda scope: self.core.ack(scope, request.agent_id, request.cursor)
        )
        return notification_pb2.AckResponse()

    async def SubmitFeedback(
        self,
        request: notification_pb2.SubmitFeedbackRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.SubmitFeedbackResponse:
        feedback_id = await self._answer(
            context,
            lambda scope: self.core.feedback(
                scope, request.agent_id, request.decision_id, request.verdict, request.comment
            ),
        )
        return notification_pb2.SubmitFeedbackResponse(feedback_id=feedback_id)

    async def Reveal(
        self,
        request: notification_pb2.RevealRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.RevealResponse:
        text = await self._answer(
            context, lambda scope: self.core.reveal(scope, request.agent_id, request.decision_id)
        )
        return notification_pb2.RevealResponse(text=text)

    async def Pause(
        self,
        request: notification_pb2.PauseRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.PauseResponse:
        pause = await self._answer(
            context,
            lambda scope: self.core.pause(
                scope, request.agent_id, request.duration_s, request.all_offers
            ),
        )
        return notification_pb2.PauseResponse(state=pause_state(pause).pause)

    async def Resume(
        self,
        request: notification_pb2.ResumeRequest,
        context: grpc.aio.ServicerContext,
    ) -> notification_pb2.ResumeResponse:
        await self._answer(context, lambda scope: self.core.resume(scope, request.agent_id))
        return notification_pb2.ResumeResponse(state=notification_pb2.PauseState(paused=False))
