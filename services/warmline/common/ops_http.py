"""The operations page of every service: ``/metrics``, ``/healthz``, ``/readyz``.

Served on the service's metrics port, apart from its public API, so a scrape
or a probe never competes with customer traffic for a connection slot. It stays
plain HTTP when the public doors speak TLS (see :mod:`warmline.common.tls`).
"""

from __future__ import annotations

import ssl

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from warmline import __version__
from warmline.common.health import Readiness
from warmline.common.metrics import BUILD_INFO, READY, READY_CONDITION


def ops_app(readiness: Readiness, registry: CollectorRegistry = REGISTRY) -> web.Application:
    """An aiohttp app exposing metrics, liveness and readiness."""

    async def metrics(_: web.Request) -> web.Response:
        # Read at scrape time, so alerts can name the dependency that is missing.
        for condition, met in readiness.conditions().items():
            READY_CONDITION.labels(condition).set(1 if met else 0)
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_: web.Request) -> web.Response:
        pending = readiness.pending()
        return web.json_response(
            {"ready": not pending, "pending": pending}, status=200 if not pending else 503
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


class HttpListener:
    """Runs an aiohttp application on a port until stopped; HTTPS with ``ssl_context``
    (see :func:`warmline.common.tls.http_ssl_context`)."""

    def __init__(
        self,
        app: web.Application,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self.port = port

    async def start(self) -> None:
        """Bind and serve; with port 0 the chosen port lands in ``self.port``."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the real port when 0 was asked

    async def stop(self) -> None:
        """Stop serving; open connections are closed."""
        await self._runner.cleanup()


class OpsServer(HttpListener):
    """Runs :func:`ops_app` on the service's metrics port."""

    def __init__(self, readiness: Readiness, host: str, port: int) -> None:
        readiness.subscribe(lambda ready: READY.set(1 if ready else 0))
        BUILD_INFO.info({"version": __version__})
        super().__init__(ops_app(readiness), host, port)
