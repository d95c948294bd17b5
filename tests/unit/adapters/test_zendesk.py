"""Zendesk: conversations-integration and webhook-event bodies map onto events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.adapters.support import load, raw, utc, zendesk_signature_headers
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.ingestion.adapters.zendesk import ZendeskAdapter
from warmline.v1 import events_pb2

SECRET = "zd-8c2e41b07f6a9d35"
NOW = 1_773_481_000  # 2026-03-14T09:36:40Z
NOW_ISO = "2026-03-14T09:36:40Z"


@pytest.fixture
def adapter() -> ZendeskAdapter:
    return ZendeskAdapter(clock=lambda: NOW)


def first_message(payload: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = payload["events"][0]["payload"]["message"]
    return message


def only(adapter: ZendeskAdapter, payload: dict[str, Any]) -> events_pb2.InteractionEvent:
    events = adapter.to_events(payload)
    assert len(events) == 1
    return events[0]


# --- conversations integration: conversation:message -----------------------------


def test_an_end_user_message_is_the_customer_speaking(adapter: ZendeskAdapter) -> None:
    event = only(adapter, load("zendesk", "conversation_message_user"))
    assert event.event_id == "zendesk:message:65f2a1e07c3b9a0011d4e8ee"
    assert event.conversation_id == "65f2a0b41d9e6c0010a3b7c5"
    assert event.customer_id == "65f2a0b3aa41f70012e5c9d8"
    assert event.role == events_pb2.ROLE_CUSTOMER
    assert event.kind == events_pb2.EVENT_KIND_MESSAGE
    assert event.channel == events_pb2.CHANNEL_CHAT
    assert event.text == "This is the third time I'm asking. Where is my replacement card?"
    # ``received`` (when Zendesk got the message), not the event's createdAt.
    assert event.occurred_at == utc("2026-03-14T09:30:12.402+00:00")
    assert event.language == "en-GB"
    assert dict(event.metadata) == {
        "zendesk_app_id": "65f1c0a2b7e4d3001f2a9c11",
        "zendesk_source_type": "web",
        "zendesk_integration_id": "65f1c0a2b7e4d3001f2a9c18",
    }
    assert event.tenant_id == ""
    assert not event.HasField("ingested_at")


def test_business_messages_are_bots_or_agents_and_the_rest_is_skipped(
    adapter: ZendeskAdapter,
) -> None:
    events = adapter.to_events(load("zendesk", "conversation_message_business"))
    # An AI reply, an agent reply; the image and the read receipt produce nothing.
    assert [(e.role, e.event_id) for e in events] == [
        (events_pb2.ROLE_BOT, "zendesk:message:65f2a2417c3b9a0011d4e8fd"),
        (events_pb2.ROLE_AGENT, "zendesk:message:65f2a3027c3b9a0011d4e910"),
    ]
    # Business authors are not the customer.
    assert [e.customer_id for e in events] == ["", ""]
    assert events[1].occurred_at == utc("2026-03-14T09:34:16.101+00:00")


def test_activity_subtype_is_a_system_message(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_business")
    payload["events"] = payload["events"][1:2]
    first_message(payload)["author"]["subtypes"] = ["activity"]
    assert only(adapter, payload).role == events_pb2.ROLE_SYSTEM


def test_zendesk_bot_integration_is_a_bot(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_business")
    payload["events"] = payload["events"][1:2]
    first_message(payload)["source"]["type"] = "zd:answerBot"
    assert only(adapter, payload).role == events_pb2.ROLE_BOT


def test_user_id_from_the_full_user_when_userid_is_absent(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_user")
    del first_message(payload)["author"]["userId"]
    assert only(adapter, payload).customer_id == "65f2a0b3aa41f70012e5c9d8"


def test_created_at_is_used_when_received_is_absent(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_user")
    del first_message(payload)["received"]
    assert only(adapter, payload).occurred_at == utc("2026-03-14T09:30:12.418+00:00")


@pytest.mark.parametrize(
    ("source_type", "expected"),
    [
        ("web", events_pb2.CHANNEL_CHAT),
        ("ios", events_pb2.CHANNEL_CHAT),
        ("android", events_pb2.CHANNEL_CHAT),
        ("whatsapp", events_pb2.CHANNEL_SOCIAL),
        ("messenger", events_pb2.CHANNEL_SOCIAL),
        ("instagram", events_pb2.CHANNEL_SOCIAL),
        ("telegram", events_pb2.CHANNEL_SOCIAL),
        ("line", events_pb2.CHANNEL_SOCIAL),
        ("twilio", events_pb2.CHANNEL_SMS),
        ("messagebird", events_pb2.CHANNEL_SMS),
        ("mailgun", events_pb2.CHANNEL_EMAIL),
        ("api", events_pb2.CHANNEL_CHAT),
        ("some-future-channel", events_pb2.CHANNEL_CHAT),
    ],
)
def test_source_types_map_to_channels(
    adapter: ZendeskAdapter, source_type: str, expected: int
) -> None:
    payload = load("zendesk", "conversation_message_user")
    first_message(payload)["source"]["type"] = source_type
    event = only(adapter, payload)
    assert event.channel == expected
    assert event.metadata["zendesk_source_type"] == source_type


@pytest.mark.parametrize(
    "content",
    [
        {"type": "file", "mediaUrl": "https://media.example.com/f.pdf", "mediaType": "pdf"},
        {"type": "location", "coordinates": {"lat": 52.37, "long": 4.89}},
        {"type": "text", "text": "   "},
    ],
)
def test_content_without_text_is_ignored(adapter: ZendeskAdapter, content: dict[str, Any]) -> None:
    payload = load("zendesk", "conversation_message_user")
    first_message(payload)["content"] = content
    assert adapter.to_events(payload) == []


def test_deleted_message_placeholders_are_ignored(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_user")
    first_message(payload)["deleted"] = True
    assert adapter.to_events(payload) == []


def test_an_unknown_author_type_is_ignored(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_user")
    first_message(payload)["author"]["type"] = "system"
    assert adapter.to_events(payload) == []


@pytest.mark.parametrize(
    "trigger", ["conversation:create", "conversation:read", "conversation:typing", "user:merge"]
)
def test_other_triggers_are_ignored(adapter: ZendeskAdapter, trigger: str) -> None:
    payload = load("zendesk", "conversation_message_user")
    payload["events"][0]["type"] = trigger
    assert adapter.to_events(payload) == []


def test_an_empty_event_list_is_nothing_to_do(adapter: ZendeskAdapter) -> None:
    assert adapter.to_events({"app": {"id": "a"}, "webhook": {}, "events": []}) == []


# --- Zendesk webhook events: messaging_ticket.message_added ------------------------


def test_message_added_from_an_end_user(adapter: ZendeskAdapter) -> None:
    event = only(adapter, load("zendesk", "messaging_ticket_message_added"))
    assert event.event_id == "zendesk:message:65f2a4c87c3b9a0011d4e951"
    assert event.conversation_id == "65f2a0b41d9e6c0010a3b7c5"
    assert event.customer_id == "26401857392011"
    assert event.role == events_pb2.ROLE_CUSTOMER
    assert event.kind == events_pb2.EVENT_KIND_MESSAGE
    assert event.channel == events_pb2.CHANNEL_CHAT
    assert event.text == "Still no tracking number. This is ridiculous."
    # Nanoseconds in the payload, microseconds kept.
    assert event.occurred_at == utc("2026-03-14T09:41:44.612903+00:00")
    assert dict(event.metadata) == {"zendesk_account_id": "10293847", "zendesk_ticket_id": "58213"}


@pytest.mark.parametrize(
    ("actor_type", "role"),
    [
        ("agent", events_pb2.ROLE_AGENT),
        ("system", events_pb2.ROLE_BOT),
        ("trigger", events_pb2.ROLE_SYSTEM),
    ],
)
def test_message_added_by_others(adapter: ZendeskAdapter, actor_type: str, role: int) -> None:
    payload = load("zendesk", "messaging_ticket_message_added")
    payload["event"]["actor"]["type"] = actor_type
    event = only(adapter, payload)
    assert event.role == role
    assert event.customer_id == ""


def test_other_zendesk_event_types_are_ignored(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "messaging_ticket_message_added")
    payload["type"] = "zen:event-type:ticket.status_changed"
    assert adapter.to_events(payload) == []


def test_both_webhook_kinds_give_one_message_one_id(adapter: ZendeskAdapter) -> None:
    conversations = load("zendesk", "conversation_message_user")
    event_kind = load("zendesk", "messaging_ticket_message_added")
    event_kind["event"]["message"]["id"] = first_message(conversations)["id"]
    assert only(adapter, conversations).event_id == only(adapter, event_kind).event_id


# --- idempotency -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "conversation_message_user",
        "conversation_message_business",
        "messaging_ticket_message_added",
    ],
)
def test_a_retried_webhook_maps_to_identical_events(adapter: ZendeskAdapter, name: str) -> None:
    first = adapter.to_events(load("zendesk", name))
    retried = adapter.to_events(json.loads(raw("zendesk", name)))
    assert first
    assert [e.SerializeToString(deterministic=True) for e in first] == [
        e.SerializeToString(deterministic=True) for e in retried
    ]


# --- malformed payloads -------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]


def _message_of(body: dict[str, Any]) -> dict[str, Any]:
    return first_message(body)


CONVERSATION_BREAKAGE: dict[str, Mutation] = {
    "events is an object": lambda b: b.update(events={}),
    "an event is a string": lambda b: b.update(events=["conversation:message"]),
    "an event has no type": lambda b: b["events"][0].pop("type"),
    "an event type is a number": lambda b: b["events"][0].update(type=1),
    "no payload": lambda b: b["events"][0].pop("payload"),
    "no conversation": lambda b: b["events"][0]["payload"].pop("conversation"),
    "no conversation id": lambda b: b["events"][0]["payload"]["conversation"].pop("id"),
    "no message": lambda b: b["events"][0]["payload"].pop("message"),
    "message is a list": lambda b: b["events"][0]["payload"].update(message=[]),
    "no message id": lambda b: _message_of(b).pop("id"),
    "no author": lambda b: _message_of(b).pop("author"),
    "author type is a number": lambda b: _message_of(b)["author"].update(type=0),
    "userId is a list": lambda b: _message_of(b)["author"].update(userId=["u"]),
    "subtypes is a string": lambda b: _message_of(b)["author"].update(
        type="business", subtypes="AI"
    ),
    "no content": lambda b: _message_of(b).pop("content"),
    "content type missing": lambda b: _message_of(b)["content"].pop("type"),
    "text is a number": lambda b: _message_of(b)["content"].update(text=3),
    "received is prose": lambda b: _message_of(b).update(received="just now"),
    "no time at all": lambda b: (_message_of(b).pop("received"), b["events"][0].pop("createdAt")),
    "source is a string": lambda b: _message_of(b).update(source="web"),
    "deleted is a string": lambda b: _message_of(b).update(deleted="no"),
    "app is a list": lambda b: b.update(app=[]),
}

EVENT_BREAKAGE: dict[str, Mutation] = {
    "no event": lambda b: b.pop("event"),
    "no actor": lambda b: b["event"].pop("actor"),
    "actor type missing": lambda b: b["event"]["actor"].pop("type"),
    "no conversation id": lambda b: b["event"].pop("conversation_id"),
    "no message": lambda b: b["event"].pop("message"),
    "no message id": lambda b: b["event"]["message"].pop("id"),
    "body is a list": lambda b: b["event"]["message"].update(body=["hi"]),
    "no time": lambda b: b.pop("time"),
    "time is garbage": lambda b: b.update(time="2026-13-45T99:00:00Z"),
    "detail is a string": lambda b: b.update(detail="58213"),
}


@pytest.mark.parametrize("breakage", sorted(CONVERSATION_BREAKAGE))
def test_malformed_conversation_webhooks_are_invalid(
    adapter: ZendeskAdapter, breakage: str
) -> None:
    payload = load("zendesk", "conversation_message_user")
    CONVERSATION_BREAKAGE[breakage](payload)
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(payload)
    assert caught.value.reason == "invalid_payload"


@pytest.mark.parametrize("breakage", sorted(EVENT_BREAKAGE))
def test_malformed_zendesk_events_are_invalid(adapter: ZendeskAdapter, breakage: str) -> None:
    payload = load("zendesk", "messaging_ticket_message_added")
    EVENT_BREAKAGE[breakage](payload)
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(payload)
    assert caught.value.reason == "invalid_payload"


@pytest.mark.parametrize(
    "body", [{}, {"type": "ticket.created"}, {"trigger": "message:appUser"}, [], "x", None]
)
def test_a_body_of_neither_kind_is_invalid(adapter: ZendeskAdapter, body: Any) -> None:
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(body)
    assert caught.value.reason == "invalid_payload"


def test_the_error_names_the_event_and_field(adapter: ZendeskAdapter) -> None:
    payload = load("zendesk", "conversation_message_business")
    payload["events"][1]["payload"]["message"]["id"] = None
    with pytest.raises(WebhookRejected, match=r"events\[1\]\.payload\.message\.id"):
        adapter.to_events(payload)


# --- verification: conversations integration (X-API-Key) ---------------------------

BODY = raw("zendesk", "conversation_message_user")


def _expect_unauthenticated(
    adapter: ZendeskAdapter, headers: dict[str, str], body: bytes, secret: str = SECRET
) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        adapter.verify(headers, body, secret)
    assert caught.value.reason == "unauthenticated"
    return caught.value


def test_the_webhook_secret_in_x_api_key_passes(adapter: ZendeskAdapter) -> None:
    adapter.verify({"X-API-Key": SECRET, "Content-Type": "application/json"}, BODY, SECRET)
    adapter.verify({"x-api-key": SECRET}, BODY, SECRET)


@pytest.mark.parametrize("key", ["", "zd-wrong", SECRET + " ", SECRET[:-1], "zd-8c2e41b07f6a9d3é"])
def test_a_wrong_api_key_fails(adapter: ZendeskAdapter, key: str) -> None:
    _expect_unauthenticated(adapter, {"X-API-Key": key}, BODY)


def test_no_credentials_at_all_fails(adapter: ZendeskAdapter) -> None:
    _expect_unauthenticated(adapter, {"Content-Type": "application/json"}, BODY)


def test_a_tenant_without_a_secret_accepts_nothing(adapter: ZendeskAdapter) -> None:
    _expect_unauthenticated(adapter, {"X-API-Key": ""}, BODY, secret="")


# --- verification: Zendesk webhooks (X-Zendesk-Webhook-Signature) ------------------

EVENT_BODY = raw("zendesk", "messaging_ticket_message_added")


def test_a_correctly_signed_zendesk_webhook_passes(adapter: ZendeskAdapter) -> None:
    adapter.verify(zendesk_signature_headers(SECRET, EVENT_BODY, NOW_ISO), EVENT_BODY, SECRET)


def test_lower_case_signature_headers_pass(adapter: ZendeskAdapter) -> None:
    headers = zendesk_signature_headers(SECRET, EVENT_BODY, NOW_ISO)
    adapter.verify({k.lower(): v for k, v in headers.items()}, EVENT_BODY, SECRET)


def test_a_signature_with_another_secret_fails(adapter: ZendeskAdapter) -> None:
    headers = zendesk_signature_headers("not-the-secret", EVENT_BODY, NOW_ISO)
    _expect_unauthenticated(adapter, headers, EVENT_BODY)


def test_a_tampered_signed_body_fails(adapter: ZendeskAdapter) -> None:
    headers = zendesk_signature_headers(SECRET, EVENT_BODY, NOW_ISO)
    _expect_unauthenticated(adapter, headers, EVENT_BODY.replace(b"ridiculous", b"fine, thx"))


def test_a_missing_signature_timestamp_fails(adapter: ZendeskAdapter) -> None:
    headers = zendesk_signature_headers(SECRET, EVENT_BODY, NOW_ISO)
    del headers["X-Zendesk-Webhook-Signature-Timestamp"]
    _expect_unauthenticated(adapter, headers, EVENT_BODY)


@pytest.mark.parametrize("stamp", ["2026-03-14T09:31:39Z", "2026-03-14T09:41:41Z"])
def test_a_stale_or_future_signature_fails(adapter: ZendeskAdapter, stamp: str) -> None:
    headers = zendesk_signature_headers(SECRET, EVENT_BODY, stamp)
    assert "window" in _expect_unauthenticated(adapter, headers, EVENT_BODY).detail


@pytest.mark.parametrize("stamp", ["", "not a time", "2026-02-30T00:00:00Z"])
def test_an_unreadable_signature_timestamp_fails(adapter: ZendeskAdapter, stamp: str) -> None:
    headers = zendesk_signature_headers(SECRET, EVENT_BODY, stamp)
    _expect_unauthenticated(adapter, headers, EVENT_BODY)


def test_a_bad_signature_is_not_rescued_by_a_good_api_key(adapter: ZendeskAdapter) -> None:
    headers = zendesk_signature_headers("not-the-secret", EVENT_BODY, NOW_ISO)
    headers["X-API-Key"] = SECRET
    _expect_unauthenticated(adapter, headers, EVENT_BODY)
