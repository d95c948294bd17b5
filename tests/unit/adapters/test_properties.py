"""Whatever arrives, an adapter answers with events or a WebhookRejected: nothing else."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.adapters.support import FIXTURES, load
from warmline.ingestion.adapters import ADAPTERS
from warmline.ingestion.adapters.base import PlatformAdapter, WebhookRejected
from warmline.v1 import events_pb2

# Keys the adapters look for, so random objects sometimes reach past the first check.
KNOWN_KEYS = [
    "event", "id", "content", "created_at", "message_type", "content_type", "private",
    "sender", "type", "conversation", "channel", "contact_inbox", "contact_id", "meta",
    "status", "timestamp", "updated_at", "account", "inbox", "display_id", "contact",
    "events", "payload", "message", "author", "userId", "user", "subtypes", "source",
    "received", "createdAt", "text", "deleted", "app", "actor", "conversation_id", "body",
    "time", "detail", "account_id",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "message_created",
            "conversation_status_changed",
            "resolved",
            "incoming",
            "outgoing",
            "template",
            "conversation:message",
            "zen:event-type:messaging_ticket.message_added",
            "user",
            "business",
            "end_user",
            "2026-03-14T09:21:07Z",
            "1773480067",
        ]
    )
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=15,
)
json_objects = st.dictionaries(keys, json_values, max_size=8)


def _answer(adapter: PlatformAdapter, payload: Any) -> None:
    try:
        events = adapter.to_events(payload)
    except WebhookRejected as rejected:
        assert rejected.reason == "invalid_payload"
        return
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, events_pb2.InteractionEvent)
        event.SerializeToString()


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@settings(max_examples=200, deadline=None)
@given(payload=json_objects)
def test_arbitrary_objects_give_events_or_a_rejection(platform: str, payload: Any) -> None:
    _answer(ADAPTERS[platform], payload)


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@settings(max_examples=100, deadline=None)
@given(payload=json_values)
def test_arbitrary_json_values_give_events_or_a_rejection(platform: str, payload: Any) -> None:
    _answer(ADAPTERS[platform], payload)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    changed = copy.deepcopy(document)
    parent = changed
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return changed


FIXTURE_NAMES = sorted((p.parent.name, p.stem) for p in FIXTURES.glob("*/*.json"))


@pytest.mark.parametrize(("platform", "name"), FIXTURE_NAMES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_documented_bodies_with_one_field_replaced_never_crash(
    platform: str, name: str, data: st.DataObject
) -> None:
    # Real shapes with one value swapped reach the deep fields random objects miss.
    document = load(platform, name)
    path = data.draw(st.sampled_from(_paths(document)), label="path")
    _answer(ADAPTERS[platform], _replace(document, path, data.draw(json_values, label="value")))


header_names = st.sampled_from(
    [
        "X-Chatwoot-Signature",
        "X-Chatwoot-Timestamp",
        "x-chatwoot-timestamp",
        "X-API-Key",
        "X-Zendesk-Webhook-Signature",
        "X-Zendesk-Webhook-Signature-Timestamp",
    ]
) | st.text(max_size=20)


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@settings(max_examples=300, deadline=None)
@given(
    headers=st.dictionaries(header_names, st.text(max_size=80), max_size=5),
    body=st.binary(max_size=200),
    secret=st.text(max_size=30),
)
def test_arbitrary_requests_verify_or_are_unauthenticated(
    platform: str, headers: dict[str, str], body: bytes, secret: str
) -> None:
    try:
        ADAPTERS[platform].verify(headers, body, secret)
    except WebhookRejected as rejected:
        assert rejected.reason == "unauthenticated"
