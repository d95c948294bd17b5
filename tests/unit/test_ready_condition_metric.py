"""The metrics page names each readiness condition, so an alert can say what is missing."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from warmline.common.health import Readiness
from warmline.common.ops_http import ops_app


async def test_each_readiness_condition_is_a_series_that_follows_it() -> None:
    readiness = Readiness("kafka", "model")
    async with TestClient(TestServer(ops_app(readiness))) as client:
        page = await (await client.get("/metrics")).text()
        assert 'warmline_ready_condition{condition="kafka"} 0.0' in page
        assert 'warmline_ready_condition{condition="model"} 0.0' in page
        readiness.set("model", True)
        page = await (await client.get("/metrics")).text()
        assert 'warmline_ready_condition{condition="kafka"} 0.0' in page
        assert 'warmline_ready_condition{condition="model"} 1.0' in page
