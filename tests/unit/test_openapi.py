"""The OpenAPI document: well-formed, the same routes as the apps, and Kafka failures as documented.

What a running service answers is checked against the document in
``tests/integration/{ingestion,notification}/test_*_openapi.py`` and
``tests/integration/record/test_record_stream.py``; here the real
handlers run over stubbed cores, for the answers only a failing Kafka gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from jsonschema import Draft202012Validator

from tests.openapi_contract import METHODS, STUBBED, Contract
from tests.unit.adapters.support import raw
from warmline.common.credentials import hash_key
from warmline.common.openapi import SERVICE_KEY, SERVICES, full_document, service_document
from warmline.ingestion.adapters import ADAPTERS
from warmline.ingestion.http_api import IngestHttpApi
from warmline.notification.core import Refusal, Refused
from warmline.notification.http_api import ConsoleHttpApi
from warmline.notification.tokens import AgentDirectory, AgentScope
from warmline.record.http_api import AuditHttpApi
from warmline.v1 import events_pb2, ingest_pb2

KEY = "stub-key"
SECRET = "stub-webhook-secret"


class StubTenants:
    """One tenant, ``acme``, with :data:`KEY` and :data:`SECRET`."""

    def tenant_for_key(self, key: str) -> str | None:
        return "acme" if key == KEY else None

    def webhook_secret(self, tenant: str, platform: str) -> str | None:
        return SECRET


class KafkaDownIngestCore:
    """Answers every event as the core does when Kafka did not take it."""

    max_batch_events = 1000

    async def ingest(
        self, tenant: str, events: Sequence[events_pb2.InteractionEvent]
    ) -> list[ingest_pb2.EventAck]:
        return [
            ingest_pb2.EventAck(
                event_id=e.event_id,
                status=ingest_pb2.ACK_STATUS_RETRY,
                reason="kafka_unavailable",
                retry_after_ms=1000,
            )
            for e in events
        ]


class KafkaDownConsoleCore:
    """Authenticates anyone; every action is refused as when Kafka did not acknowledge."""

    def authenticate(self, token: str | None) -> AgentScope:
        return AgentScope(tenant_id="acme", agent_id="alice", queues=frozenset({"billing"}))

    def _down(self, *_: Any, **__: Any) -> Any:
        raise Refused(Refusal.UNAVAILABLE, "Kafka did not acknowledge the write")

    subscribe = _down

    async def claim(self, *args: Any) -> Any:
        return self._down()

    ack = feedback = reveal = pause = resume = claim


def ingestion_app() -> web.Application:
    return IngestHttpApi(cast(Any, KafkaDownIngestCore()), cast(Any, StubTenants())).app()


def notification_app() -> web.Application:
    return ConsoleHttpApi(cast(Any, KafkaDownConsoleCore()), heartbeat_s=1.0).app()


def record_app() -> web.Application:
    return AuditHttpApi(Path("/nonexistent/record.sqlite3"), AgentDirectory({})).app()


APPS = {"ingestion": ingestion_app, "notification": notification_app, "record": record_app}


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_the_document_is_openapi_3_1_with_valid_schemas_and_resolving_refs() -> None:
    document = full_document()
    assert document["openapi"] == "3.1.0"
    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"{ref} does not resolve"
            target = target[part]
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    operation_ids = [
        item[m]["operationId"] for item in document["paths"].values() for m in METHODS if m in item
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for path, item in document["paths"].items():
        assert set(item[SERVICE_KEY]) <= set(SERVICES), path


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_registers_exactly_the_routes_it_documents(service: str) -> None:
    app = APPS[service]()
    # aiohttp adds a HEAD route beside each GET by itself.
    registered = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    paths = service_document(service)["paths"]
    documented = {(m, path) for path, item in paths.items() for m in METHODS if m in item}
    assert registered == documented


def test_the_webhook_platforms_are_the_registered_adapters() -> None:
    operation = full_document()["paths"]["/v1/webhooks/{platform}/{tenant}"]["post"]
    [platform] = [p for p in operation["parameters"] if p["name"] == "platform"]
    assert set(platform["schema"]["enum"]) == set(ADAPTERS)


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_serves_its_own_document(service: str) -> None:
    contract = Contract(service)
    async with TestServer(APPS[service]()) as server, aiohttp.ClientSession() as http:
        status, body = await contract.call(
            http, "get", "/openapi.json", str(server.make_url("/openapi.json"))
        )
    assert status == 200
    assert body == json.loads(json.dumps(service_document(service)))
    assert set(body["paths"]) == {
        p for p, i in full_document()["paths"].items() if service in i[SERVICE_KEY]
    }


async def test_ingestion_answers_kafka_failures_as_documented() -> None:
    contract = Contract("ingestion")
    event = {
        "event_id": "e1",
        "conversation_id": "c1",
        "channel": "CHANNEL_CHAT",
        "role": "ROLE_CUSTOMER",
        "kind": "EVENT_KIND_MESSAGE",
        "text": "Where is my order?",
        "occurred_at": "2026-11-23T10:00:00Z",
    }
    contract.request("post", "/v1/events", event)
    async with TestServer(ingestion_app()) as server, aiohttp.ClientSession() as http:
        status, body = await contract.call(
            http,
            "post",
            "/v1/events",
            str(server.make_url("/v1/events")),
            json=event,
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert (status, body["error"]) == (503, "kafka_unavailable")
        status, body = await contract.call(
            http,
            "post",
            "/v1/webhooks/{platform}/{tenant}",
            str(server.make_url("/v1/webhooks/zendesk/acme")),
            data=raw("zendesk", "conversation_message_user"),
            headers={"X-API-Key": SECRET, "Content-Type": "application/json"},
        )
        assert (status, body["error"]) == (503, "kafka_unavailable")
        assert body["acks"][0]["status"] == "ACK_STATUS_RETRY"
    assert {("ingestion", *seen) for seen in contract.seen} == {
        s for s in STUBBED if s[0] == "ingestion"
    }


async def test_the_console_answers_kafka_failures_as_documented() -> None:
    contract = Contract("notification")
    headers = {"Authorization": "Bearer any"}
    bodies = {
        "/v1/claim": {"decision_id": "d1"},
        "/v1/ack": {"cursor": "v1.0:1"},
        "/v1/feedback": {"decision_id": "d1", "verdict": "useful"},
        "/v1/reveal": {"decision_id": "d1"},
        "/v1/pause": {"duration_s": 300},
        "/v1/resume": {},
    }
    async with TestServer(notification_app()) as server, aiohttp.ClientSession() as http:
        url = str(server.make_url("/v1/stream"))
        status, body = await contract.call(
            http, "get", "/v1/stream", url, params={"queues": "billing"}, headers=headers
        )
        assert (status, body["error"]) == (503, "unavailable")
        for path, request in bodies.items():
            contract.request("post", path, request)
            status, body = await contract.call(
                http, "post", path, str(server.make_url(path)), json=request, headers=headers
            )
            assert (status, body["error"]) == (503, "unavailable"), path
    assert {("notification", *seen) for seen in contract.seen} == {
        s for s in STUBBED if s[0] == "notification"
    }


async def test_the_audit_answers_a_missing_database_as_documented() -> None:
    contract = Contract("record")
    agents = AgentDirectory.from_mapping(
        {"agents": [{"token_sha256": hash_key("t"), "tenant": "acme", "agent_id": "sam",
                     "queues": ["*"]}]}
    )  # fmt: skip
    app = AuditHttpApi(Path("/nonexistent/record.sqlite3"), agents).app()
    calls = [
        ("get", "/v1/audit/{conversation_id}", "/v1/audit/c1", None),
        ("get", "/v1/practice/scenarios", "/v1/practice/scenarios", None),
        ("get", "/v1/practice/scenarios/{scenario_id}", "/v1/practice/scenarios/s1", None),
        (
            "post",
            "/v1/practice/review",
            "/v1/practice/review",
            {"scenario_id": "s1", "reply": "Hi"},
        ),
        ("get", "/v1/insights", "/v1/insights", None),
        (
            "post",
            "/v1/practice/shares",
            "/v1/practice/shares",
            {"kind": "round", "scenario_id": "s1", "reply": "Hi"},
        ),
        ("get", "/v1/practice/shares", "/v1/practice/shares", None),
        ("delete", "/v1/practice/shares/{share_id}", "/v1/practice/shares/x1", None),
        ("get", "/v1/practice/shared", "/v1/practice/shared", None),
    ]
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        for method, path, url, body in calls:
            status, answer = await contract.call(
                http,
                method,
                path,
                str(server.make_url(url)),
                headers={"Authorization": "Bearer t"},
                **({"json": body} if body else {}),
            )
            assert (status, answer["error"]) == (503, "unavailable"), path
    assert {("record", *seen) for seen in contract.seen} == {s for s in STUBBED if s[0] == "record"}
