"""``ScoringService/Score`` takes a tenant API key, read like ingestion's, over a real channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
import yaml

from warmline.common.credentials import hash_key
from warmline.common.grpc_server import GrpcServer
from warmline.common.health import Readiness
from warmline.common.metrics import SCORING_AUTH_FAILURES
from warmline.common.settings import ScoringSettings, WarmlineSettings
from warmline.common.tenants import CredentialsError, TenantDirectory
from warmline.model.results import EmotionResult, Status
from warmline.scoring.grpc_api import ScoringServicer
from warmline.scoring.service import load_score_tenants
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

KEY = "acme-score-key"


async def fake_model(texts: Sequence[str]) -> list[EmotionResult]:
    return [EmotionResult(Status.SCORED, "test-model", "test-taxonomy") for _ in texts]


@asynccontextmanager
async def scoring_stub(
    tenants: TenantDirectory | None,
) -> AsyncIterator[scoring_pb2_grpc.ScoringServiceStub]:
    name = scoring_pb2.DESCRIPTOR.services_by_name["ScoringService"].full_name
    servicer = ScoringServicer(fake_model, tenants)
    server = GrpcServer(
        [(scoring_pb2_grpc.add_ScoringServiceServicer_to_server, servicer, name)],
        Readiness(),
        address="127.0.0.1:0",
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield scoring_pb2_grpc.ScoringServiceStub(channel)
    finally:
        await server.stop(0)


def acme() -> TenantDirectory:
    return TenantDirectory.from_mapping({"tenants": {"acme": {"api_key_sha256": [hash_key(KEY)]}}})


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


async def refusal(
    stub: scoring_pb2_grpc.ScoringServiceStub, **call: object
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.Score(scoring_pb2.ScoreRequest(texts=["where is my order?"]), **call)
    return refused.value


async def test_score_answers_a_caller_with_a_tenant_key() -> None:
    async with scoring_stub(acme()) as stub:
        reply = await stub.Score(
            scoring_pb2.ScoreRequest(texts=["where is my order?", "thanks"]), metadata=bearer(KEY)
        )
    assert [r.status for r in reply.results] == [scoring_pb2.SCORE_STATUS_SCORED] * 2


@pytest.mark.parametrize(
    "metadata",
    [(), bearer("not-a-key"), bearer(hash_key(KEY)), (("authorization", KEY),)],
    ids=["no key", "wrong key", "the stored hash", "no bearer scheme"],
)
async def test_score_without_a_valid_key_is_unauthenticated(
    metadata: tuple[tuple[str, str], ...],
) -> None:
    before = SCORING_AUTH_FAILURES._value.get()
    async with scoring_stub(acme()) as stub:
        refused = await refusal(stub, metadata=metadata)
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (
        refused.details() == "missing or unknown API key (metadata 'authorization: Bearer <key>')"
    )
    assert SCORING_AUTH_FAILURES._value.get() == before + 1


async def test_the_key_is_checked_before_the_request() -> None:
    async with scoring_stub(acme()) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as empty:
            await stub.Score(scoring_pb2.ScoreRequest())
        assert empty.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as keyed:
            await stub.Score(scoring_pb2.ScoreRequest(), metadata=bearer(KEY))
        assert keyed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_without_a_credentials_file_score_refuses_everyone_and_names_the_setting() -> None:
    async with scoring_stub(None) as stub:
        refused = await refusal(stub, metadata=bearer(KEY))
    assert refused.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "WARMLINE_SCORING__API_KEYS_FILE" in (refused.details() or "")


def test_the_service_reads_ingestions_credentials_file(tmp_path: Path) -> None:
    keys = tmp_path / "tenants.yaml"
    keys.write_text(yaml.safe_dump({"tenants": {"acme": {"api_key_sha256": [hash_key(KEY)]}}}))
    tenants = load_score_tenants(WarmlineSettings(scoring=ScoringSettings(api_keys_file=keys)))
    assert tenants is not None and tenants.tenant_for_key(KEY) == "acme"
    assert load_score_tenants(WarmlineSettings()) is None
    keys.write_text("tenants: [unclosed")
    with pytest.raises(CredentialsError, match="cannot read"):
        load_score_tenants(WarmlineSettings(scoring=ScoringSettings(api_keys_file=keys)))
