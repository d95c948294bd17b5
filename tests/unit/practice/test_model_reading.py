"""The model's reading of a practice reply, from a Score server over real gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from tests.practice_support import AGENT_TOKEN, agents, write_scenario
from warmline.common.settings import RecordSettings
from warmline.practice.model_reading import ReplyReader
from warmline.record.http_api import AuditHttpApi
from warmline.record.store import database_path
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

KEY = "score-key"


class StubScoring(scoring_pb2_grpc.ScoringServiceServicer):
    """Answers Score with a fixed 'caring' probability for callers with the key."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def Score(
        self, request: scoring_pb2.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> scoring_pb2.ScoreResponse:
        if dict(context.invocation_metadata() or ()).get("authorization") != f"Bearer {KEY}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "no key")
        self.texts += request.texts
        scores = scoring_pb2.EmotionScores(labels={"caring": 0.81234, "anger": 0.01})
        return scoring_pb2.ScoreResponse(results=[scores for _ in request.texts])


@pytest.fixture
async def scoring() -> AsyncIterator[tuple[str, StubScoring]]:
    server = grpc.aio.server()
    stub = StubScoring()
    scoring_pb2_grpc.add_ScoringServiceServicer_to_server(stub, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", stub
    await server.stop(0)


async def test_the_reader_asks_score_how_caring_the_reply_reads(
    scoring: tuple[str, StubScoring],
) -> None:
    target, stub = scoring
    reader = ReplyReader(target, KEY)
    try:
        assert await reader.caring("I'm sorry, let me help.") == 0.812
        assert stub.texts == ["I'm sorry, let me help."]
    finally:
        await reader.close()


async def test_a_refused_or_absent_scoring_service_leaves_the_reading_out(
    scoring: tuple[str, StubScoring],
) -> None:
    target, _ = scoring
    for reader in (
        ReplyReader(target, "wrong-key"),
        ReplyReader("127.0.0.1:1", KEY, timeout_s=0.5),
    ):
        try:
            assert await reader.caring("Hello") is None
        finally:
            await reader.close()


async def test_the_review_carries_the_models_reading_beside_the_checks(
    scoring: tuple[str, StubScoring], tmp_path: Path
) -> None:
    target, stub = scoring
    scenario = write_scenario(tmp_path)
    reader = ReplyReader(target, KEY)
    app = AuditHttpApi(database_path(tmp_path), agents(), reader).app()
    try:
        async with (
            TestServer(app) as server,
            aiohttp.ClientSession() as http,
            http.post(
                server.make_url("/v1/practice/review"),
                json={"scenario_id": scenario, "reply": "I'm sorry. Let me look."},
                headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            ) as answer,
        ):
            body = await answer.json()
    finally:
        await reader.close()
    assert body["caring"] == 0.812
    assert stub.texts == ["I'm sorry. Let me look."]


async def test_the_reader_comes_from_the_settings_with_its_key(tmp_path: Path) -> None:
    assert ReplyReader.from_settings(RecordSettings()) is None
    with pytest.raises(ValidationError, match="go together"):
        RecordSettings(practice_scoring_target="scoring:50052")
    key = tmp_path / "key"
    key.write_text(KEY + "\n")
    settings = RecordSettings(
        practice_scoring_target="scoring:50052", practice_scoring_api_key_file=key
    )
    reader = ReplyReader.from_settings(settings)
    assert reader is not None
    await reader.close()
