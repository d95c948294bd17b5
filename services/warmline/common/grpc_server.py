"""A ``grpc.aio`` server with real health, reflection and a graceful drain.

Every service's requests are decoded by :mod:`warmline.common.grpc_decoding`,
so bytes that are not the message get INVALID_ARGUMENT, not UNKNOWN. The
standard ``grpc.health.v1`` service reports SERVING only while the
process's :class:`Readiness` holds, so Kubernetes probes see the truth. On
stop the server first reports NOT_SERVING, then gives in-flight RPCs the
configured grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from warmline.common.grpc_decoding import CheckedRegistrar
from warmline.common.health import Readiness

log = logging.getLogger(__name__)

# (add_XServicer_to_server, servicer instance, full service name)
Registration = tuple[Callable[[Any, grpc.aio.Server], None], Any, str]


class GrpcServer:
    """One gRPC listener serving Warmline services plus health and reflection."""

    def __init__(
        self,
        registrations: Sequence[Registration],
        readiness: Readiness,
        *,
        address: str,
        credentials: grpc.ServerCredentials | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self._server = grpc.aio.server(interceptors=list(interceptors), options=list(options))
        self._health = health.aio.HealthServicer()
        self._names = [name for _, _, name in registrations]
        for add, servicer, name in registrations:
            registrar = CheckedRegistrar(self._server)
            add(servicer, registrar)
            if name not in registrar.registered:
                raise RuntimeError(
                    f"{name} registered no method handlers: regenerate the gRPC code "
                    "with grpcio-tools >= 1.62"
                )
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        if credentials is None:
            self.port: int = self._server.add_insecure_port(address)
        else:
            self.port = self._server.add_secure_port(address, credentials)
        self._readiness = readiness
        self._status_tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start listening; health follows readiness from now on."""
        await self._server.start()
        await self._apply(self._readiness.ready)
        self._readiness.subscribe(self._on_readiness)
        log.info("grpc server listening", extra={"port": self.port, "services": self._names})

    def _on_readiness(self, ready: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._apply(ready))
        self._status_tasks.add(task)
        task.add_done_callback(self._status_tasks.discard)

    async def _apply(self, ready: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self._names):
            await self._health.set(name, status)

    async def stop(self, grace_s: float) -> None:
        """Report NOT_SERVING, then let in-flight RPCs finish within ``grace_s``."""
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_s)
        log.info("grpc server stopped", extra={"port": self.port})
