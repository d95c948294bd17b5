"""Undecodable requests answer INVALID_ARGUMENT instead of UNKNOWN.

grpcio runs a method's request deserializer before the servicer sees anything;
when it raises (bytes that are not the message, invalid UTF-8 in a string
field) grpcio answers UNKNOWN and logs a traceback. The handlers registered here
decode with a deserializer that never raises: a request that does not decode
reaches a thin wrapper as :class:`Undecodable`, which aborts the call with
INVALID_ARGUMENT naming the message type, before the servicer (and before
authentication: nothing is revealed by saying the bytes were malformed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A request whose bytes are not a valid message of the method's type."""

    type_name: str
    detail: str

    @property
    def message(self) -> str:
        return f"the request is not a valid {self.type_name}: {self.detail}"


def _checked(deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    type_name = getattr(getattr(deserializer, "__self__", None), "__name__", "request")

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except (DecodeError, UnicodeDecodeError, ValueError) as exc:
            return Undecodable(type_name, str(exc) or type(exc).__name__)

    return decode


async def _abort(context: grpc.aio.ServicerContext, bad: Undecodable) -> None:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad.message)


async def _responses(result: Any) -> AsyncIterator[Any]:
    """A streaming method's responses: it yields them, or writes them with
    ``context.write`` and returns a coroutine."""
    if hasattr(result, "__aiter__"):
        async for response in result:
            yield response
    else:
        await result


def _wrap(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    if handler.request_deserializer is None:
        return handler
    decode = _checked(handler.request_deserializer)
    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                await _abort(context, request)
            return await inner_uu(request, context)

        return handler._replace(request_deserializer=decode, unary_unary=unary_unary)
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, Undecodable):
                await _abort(context, request)
            async for response in _responses(inner_us(request, context)):
                yield response

        return handler._replace(request_deserializer=decode, unary_stream=unary_stream)

    async def checked_requests(
        requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for request in requests:
            if isinstance(request, Undecodable):
                await _abort(context, request)
            yield request

    if handler.stream_unary is not None:
        inner_su = handler.stream_unary

        async def stream_unary(
            requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
        ) -> Any:
            return await inner_su(checked_requests(requests, context), context)

        return handler._replace(request_deserializer=decode, stream_unary=stream_unary)
    inner_ss = handler.stream_stream

    async def stream_stream(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
        async for response in _responses(inner_ss(checked_requests(requests, context), context)):
            yield response

    return handler._replace(request_deserializer=decode, stream_stream=stream_stream)


class CheckedRegistrar:
    """Stands in for the server in a generated ``add_XServicer_to_server`` call.

    The generated code hands its method handlers to
    ``add_registered_method_handlers`` (grpcio >= 1.62); they are wrapped and
    registered on the real server, and its ``add_generic_rpc_handlers`` call with
    the unwrapped handlers is dropped.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.registered: list[str] = []

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        wrapped = {name: _wrap(h) for name, h in handlers.items()}
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service, wrapped),)
        )
        self._server.add_registered_method_handlers(service, wrapped)
        self.registered.append(service)

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        """Dropped: the same handlers arrive through ``add_registered_method_handlers``."""
