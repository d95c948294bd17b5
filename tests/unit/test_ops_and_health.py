"""Health is real: SERVING over gRPC and 200 on /readyz only when all dependencies are."""

from __future__ import annotations

import asyncio

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.ops_http import OpsServer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


async def _status(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""))
    return int(reply.status)


async def test_grpc_health_follows_readiness_and_drains_on_stop() -> None:
    readiness = Readiness("kafka", "model")
    server = GrpcServer([], readiness, address="127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        assert await _status(channel) == NOT_SERVING
        readiness.set("kafka", True)
        await asyncio.sleep(0.05)
        assert await _status(channel) == NOT_SERVING  # the model is not loaded yet
        readiness.set("model", True)
        await asyncio.sleep(0.05)
        assert await _status(channel) == SERVING
        readiness.set("kafka", False)
        await asyncio.sleep(0.05)
        assert await _status(channel) == NOT_SERVING

        # Reflection lets grpcurl and friends discover the services.
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request])):
            names = {s.name for s in reply.list_services_response.service}
            assert "grpc.health.v1.Health" in names
            break
    await server.stop(0.5)


async def test_ops_page_serves_metrics_liveness_and_readiness() -> None:
    readiness = Readiness("kafka")
    ops = OpsServer(readiness, "127.0.0.1", 0)
    await ops.start()
    base = f"http://127.0.0.1:{ops.port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 503
                assert (await r.json())["pending"] == ["kafka"]
            readiness.set("kafka", True)
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with http.get(f"{base}/metrics") as r:
                page = await r.text()
                assert "warmline_ready 1.0" in page
                assert 'warmline_build_info{version="' in page
    finally:
        await ops.stop()
