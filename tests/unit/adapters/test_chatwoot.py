"""Chatwoot: documented webhook bodies map onto events; signatures are enforced."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.adapters.support import chatwoot_headers, load, raw, utc
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.ingestion.adapters.chatwoot import ChatwootAdapter
from warmline.v1 import events_pb2

SECRET = "cw-3f9a0c1e7b5d42a8"
NOW = 1_773_480_100  # 2026-03-14T09:21:40Z, shortly after the fixtures' messages


@pytest.fixture
def adapter() -> ChatwootAdapter:
    return ChatwootAdapter(clock=lambda: NOW)


def only(adapter: ChatwootAdapter, payload: dict[str, Any]) -> events_pb2.InteractionEvent:
    events = adapter.to_events(payload)
    assert len(events) == 1
    return events[0]


# --- message_created -------------------------------------------------------------


def test_incoming_message_is_the_customer_speaking(adapter: ChatwootAdapter) -> None:
    event = only(adapter, load("chatwoot", "message_created_incoming"))
    assert event.event_id == "chatwoot:message:4211"
    assert event.conversation_id == "87"
    assert event.customer_id == "312"
    assert event.role == events_pb2.ROLE_CUSTOMER
    assert event.kind == events_pb2.EVENT_KIND_MESSAGE
    assert event.channel == events_pb2.CHANNEL_CHAT
    assert event.text.startswith("I've been charged twice")
    assert event.occurred_at == utc("2026-03-14T09:21:07+00:00")
    assert event.language == "en"
    assert dict(event.metadata) == {
        "chatwoot_account_id": "2",
        "chatwoot_inbox_id": "3",
        "chatwoot_channel": "Channel::WebWidget",
    }
    # The service owns these two.
    assert event.tenant_id == ""
    assert not event.HasField("ingested_at")


def test_outgoing_message_from_a_user_is_an_agent(adapter: ChatwootAdapter) -> None:
    event = only(adapter, load("chatwoot", "message_created_outgoing_agent"))
    assert event.role == events_pb2.ROLE_AGENT
    assert event.channel == events_pb2.CHANNEL_SOCIAL
    assert (event.conversation_id, event.customer_id) == ("91", "325")
    # Ruby's default time format, as in Chatwoot's documented sample.
    assert event.occurred_at == utc("2026-03-14T09:24:51+00:00")


def test_outgoing_message_from_an_agent_bot_is_a_bot(adapter: ChatwootAdapter) -> None:
    event = only(adapter, load("chatwoot", "message_created_agent_bot"))
    assert event.role == events_pb2.ROLE_BOT
    assert event.channel == events_pb2.CHANNEL_CHAT
    assert event.customer_id == "377"


def test_captain_assistant_replies_are_bot_replies(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_agent_bot")
    payload["sender"] = {"id": 2, "name": "Captain", "type": "captain_assistant"}
    assert only(adapter, payload).role == events_pb2.ROLE_BOT


def test_outgoing_message_without_a_sender_is_an_automation(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_outgoing_agent")
    payload["sender"] = None
    assert only(adapter, payload).role == events_pb2.ROLE_SYSTEM


def test_template_messages_are_system_messages(adapter: ChatwootAdapter) -> None:
    event = only(adapter, load("chatwoot", "message_created_template"))
    assert event.role == events_pb2.ROLE_SYSTEM
    assert event.channel == events_pb2.CHANNEL_EMAIL
    assert event.customer_id == "418"


def test_private_notes_are_never_events(adapter: ChatwootAdapter) -> None:
    assert adapter.to_events(load("chatwoot", "message_created_private_note")) == []


def test_activity_messages_are_ignored(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["message_type"] = "activity"
    payload["content"] = "Conversation was marked resolved by Marco"
    assert adapter.to_events(payload) == []


@pytest.mark.parametrize("content_type", ["input_select", "cards", "form", "article"])
def test_non_text_content_is_ignored(adapter: ChatwootAdapter, content_type: str) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["content_type"] = content_type
    assert adapter.to_events(payload) == []


@pytest.mark.parametrize("content", [None, "", "   "])
def test_messages_without_text_are_ignored(adapter: ChatwootAdapter, content: str | None) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["content"] = content  # an attachment-only message
    assert adapter.to_events(payload) == []


def test_email_bodies_count_as_text(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["content_type"] = "incoming_email"
    assert only(adapter, payload).role == events_pb2.ROLE_CUSTOMER


@pytest.mark.parametrize(
    ("channel_class", "expected"),
    [
        ("Channel::WebWidget", events_pb2.CHANNEL_CHAT),
        ("Channel::Api", events_pb2.CHANNEL_CHAT),
        ("Channel::Email", events_pb2.CHANNEL_EMAIL),
        ("Channel::Sms", events_pb2.CHANNEL_SMS),
        ("Channel::TwilioSms", events_pb2.CHANNEL_SMS),
        ("Channel::Whatsapp", events_pb2.CHANNEL_SOCIAL),
        ("Channel::FacebookPage", events_pb2.CHANNEL_SOCIAL),
        ("Channel::Instagram", events_pb2.CHANNEL_SOCIAL),
        ("Channel::Telegram", events_pb2.CHANNEL_SOCIAL),
        ("Channel::Line", events_pb2.CHANNEL_SOCIAL),
        ("Channel::TwitterProfile", events_pb2.CHANNEL_SOCIAL),
        ("Channel::Voice", events_pb2.CHANNEL_VOICE),
        # An inbox class this adapter predates: still a conversation, kept as chat.
        ("Channel::CarrierPigeon", events_pb2.CHANNEL_CHAT),
    ],
)
def test_inbox_channel_classes_map_to_channels(
    adapter: ChatwootAdapter, channel_class: str, expected: int
) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["conversation"]["channel"] = channel_class
    event = only(adapter, payload)
    assert event.channel == expected
    assert event.metadata["chatwoot_channel"] == channel_class


@pytest.mark.parametrize(
    "created_at",
    [
        1_773_480_067,
        1_773_480_067.0,
        "1773480067",
        "2026-03-14T09:21:07Z",
        "2026-03-14T09:21:07.000Z",
        "2026-03-14T10:21:07+01:00",
        "2026-03-14 09:21:07 UTC",
        "2026-03-14T09:21:07",
    ],
)
def test_epoch_and_iso_timestamps_agree(adapter: ChatwootAdapter, created_at: object) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["created_at"] = created_at
    assert only(adapter, payload).occurred_at == utc("2026-03-14T09:21:07+00:00")


def test_integer_message_types_are_understood(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["message_type"] = 0
    assert only(adapter, payload).role == events_pb2.ROLE_CUSTOMER


def test_older_payloads_with_display_id_and_top_level_contact(adapter: ChatwootAdapter) -> None:
    # The shape of Chatwoot's oldest documented sample: string ids, display_id, contact.
    payload = load("chatwoot", "message_created_incoming")
    payload["id"] = "4211"
    conversation = payload["conversation"]
    conversation["display_id"] = str(conversation.pop("id"))
    del conversation["contact_inbox"], conversation["meta"]
    payload["contact"] = {"id": "312", "name": "Priya Raman"}
    event = only(adapter, payload)
    assert (event.event_id, event.conversation_id, event.customer_id) == (
        "chatwoot:message:4211",
        "87",
        "312",
    )


def test_malformed_language_hints_are_dropped_not_fatal(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["conversation"]["additional_attributes"]["conversation_language"] = "not a tag!"
    assert only(adapter, payload).language == ""


# --- conversation_status_changed -------------------------------------------------


def test_resolved_conversation_ends_it(adapter: ChatwootAdapter) -> None:
    event = only(adapter, load("chatwoot", "conversation_status_changed_resolved"))
    assert event.kind == events_pb2.EVENT_KIND_CONVERSATION_ENDED
    assert event.role == events_pb2.ROLE_SYSTEM
    assert event.channel == events_pb2.CHANNEL_SMS
    assert event.conversation_id == "95"
    assert event.customer_id == "333"
    assert event.text == ""
    assert event.occurred_at == utc("2026-03-13T17:01:05+00:00")
    assert event.event_id == "chatwoot:conversation:95:status:resolved:1773421265000"
    assert event.metadata["chatwoot_inbox_id"] == "6"


def test_updated_at_is_preferred_when_present(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "conversation_status_changed_resolved")
    payload["updated_at"] = 1_773_421_266.25
    event = only(adapter, payload)
    assert event.occurred_at == utc("2026-03-13T17:01:06.250000+00:00")
    assert event.event_id.endswith(":1773421266250")


def test_account_id_is_kept_when_the_conversation_carries_it(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "conversation_status_changed_resolved")
    payload["account"] = {"id": 2, "name": "Northwind Support"}
    assert only(adapter, payload).metadata["chatwoot_account_id"] == "2"


def test_resolving_again_later_is_a_new_event(adapter: ChatwootAdapter) -> None:
    first = load("chatwoot", "conversation_status_changed_resolved")
    again = copy.deepcopy(first)
    again["timestamp"] = first["timestamp"] + 3600
    assert only(adapter, first).event_id != only(adapter, again).event_id


@pytest.mark.parametrize("status", ["open", "pending", "snoozed"])
def test_other_status_changes_are_ignored(adapter: ChatwootAdapter, status: str) -> None:
    payload = load("chatwoot", "conversation_status_changed_resolved")
    payload["status"] = status
    assert adapter.to_events(payload) == []


@pytest.mark.parametrize(
    "event_name",
    ["conversation_created", "contact_created", "message_updated", "webwidget_triggered"],
)
def test_unsubscribed_event_kinds_are_ignored(adapter: ChatwootAdapter, event_name: str) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["event"] = event_name
    assert adapter.to_events(payload) == []


# --- idempotency -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "message_created_incoming",
        "message_created_outgoing_agent",
        "message_created_agent_bot",
        "message_created_template",
        "conversation_status_changed_resolved",
    ],
)
def test_a_retried_webhook_maps_to_identical_events(adapter: ChatwootAdapter, name: str) -> None:
    first = adapter.to_events(load("chatwoot", name))
    retried = adapter.to_events(json.loads(raw("chatwoot", name)))
    assert [e.event_id for e in first] == [e.event_id for e in retried]
    assert [e.SerializeToString(deterministic=True) for e in first] == [
        e.SerializeToString(deterministic=True) for e in retried
    ]


# --- malformed payloads -------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], object]

MESSAGE_BREAKAGE: dict[str, Mutation] = {
    "no event": lambda b: b.pop("event"),
    "event is a number": lambda b: b.update(event=7),
    "no message id": lambda b: b.pop("id"),
    "message id is a list": lambda b: b.update(id=[4211]),
    "message id is a bool": lambda b: b.update(id=True),
    "message id is blank": lambda b: b.update(id="  "),
    "no conversation": lambda b: b.pop("conversation"),
    "conversation is a string": lambda b: b.update(conversation="87"),
    "no conversation id": lambda b: b["conversation"].pop("id"),
    "conversation id is a float": lambda b: b["conversation"].update(id=87.5),
    "no created_at": lambda b: b.pop("created_at"),
    "created_at is prose": lambda b: b.update(created_at="yesterday at noon"),
    "created_at is a bool": lambda b: b.update(created_at=True),
    "created_at is huge": lambda b: b.update(created_at=10**30),
    "created_at is infinite": lambda b: b.update(created_at=float("inf")),
    "created_at is year 10000": lambda b: b.update(created_at="10000-01-01T00:00:00Z"),
    "private is a string": lambda b: b.update(private="yes"),
    "message_type is a list": lambda b: b.update(message_type=["incoming"]),
    "content is a number": lambda b: b.update(content=42),
    "sender is a string": lambda b: b.update(sender="Marco"),
    "contact_inbox is a list": lambda b: b["conversation"].update(contact_inbox=[]),
    "contact id is an object": lambda b: b["conversation"]["contact_inbox"].update(contact_id={}),
    "channel is a number": lambda b: b["conversation"].update(channel=3),
}

STATUS_BREAKAGE: dict[str, Mutation] = {
    "no conversation id": lambda b: b.pop("id"),
    "no status": lambda b: b.pop("status"),
    "status is a number": lambda b: b.update(status=1),
    "no timestamp": lambda b: b.pop("timestamp"),
    "timestamp is an object": lambda b: b.update(timestamp={"t": 1}),
    "contact_inbox is a string": lambda b: b.update(contact_inbox="318"),
}


@pytest.mark.parametrize("breakage", sorted(MESSAGE_BREAKAGE))
def test_malformed_messages_are_invalid_payloads(adapter: ChatwootAdapter, breakage: str) -> None:
    payload = load("chatwoot", "message_created_outgoing_agent")
    MESSAGE_BREAKAGE[breakage](payload)
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(payload)
    assert caught.value.reason == "invalid_payload"


@pytest.mark.parametrize("breakage", sorted(STATUS_BREAKAGE))
def test_malformed_status_changes_are_invalid_payloads(
    adapter: ChatwootAdapter, breakage: str
) -> None:
    payload = load("chatwoot", "conversation_status_changed_resolved")
    STATUS_BREAKAGE[breakage](payload)
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(payload)
    assert caught.value.reason == "invalid_payload"


@pytest.mark.parametrize("body", [[], "message_created", 42, None])
def test_a_body_that_is_not_an_object_is_invalid(adapter: ChatwootAdapter, body: Any) -> None:
    with pytest.raises(WebhookRejected) as caught:
        adapter.to_events(body)
    assert caught.value.reason == "invalid_payload"


def test_the_error_names_the_field(adapter: ChatwootAdapter) -> None:
    payload = load("chatwoot", "message_created_incoming")
    payload["conversation"]["id"] = [87]
    with pytest.raises(WebhookRejected, match=r"body\.conversation\.id"):
        adapter.to_events(payload)


# --- signature ------------------------------------------------------------------------


BODY = raw("chatwoot", "message_created_incoming")


def test_a_correctly_signed_delivery_passes(adapter: ChatwootAdapter) -> None:
    adapter.verify(chatwoot_headers(SECRET, BODY, NOW - 2), BODY, SECRET)


def test_header_names_are_case_insensitive(adapter: ChatwootAdapter) -> None:
    headers = {k.lower(): v for k, v in chatwoot_headers(SECRET, BODY, NOW).items()}
    adapter.verify(headers, BODY, SECRET)


def _expect_unauthenticated(
    adapter: ChatwootAdapter, headers: dict[str, str], body: bytes, secret: str = SECRET
) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        adapter.verify(headers, body, secret)
    assert caught.value.reason == "unauthenticated"
    return caught.value


def test_a_signature_made_with_another_secret_fails(adapter: ChatwootAdapter) -> None:
    _expect_unauthenticated(adapter, chatwoot_headers("someone-else", BODY, NOW), BODY)


def test_a_tampered_body_fails(adapter: ChatwootAdapter) -> None:
    headers = chatwoot_headers(SECRET, BODY, NOW)
    tampered = BODY.replace(b"charged twice", b"charged once!")
    _expect_unauthenticated(adapter, headers, tampered)


def test_a_tampered_timestamp_fails(adapter: ChatwootAdapter) -> None:
    headers = chatwoot_headers(SECRET, BODY, NOW)
    headers["X-Chatwoot-Timestamp"] = str(NOW - 1)
    _expect_unauthenticated(adapter, headers, BODY)


@pytest.mark.parametrize("missing", ["X-Chatwoot-Signature", "X-Chatwoot-Timestamp"])
def test_a_missing_header_fails(adapter: ChatwootAdapter, missing: str) -> None:
    headers = chatwoot_headers(SECRET, BODY, NOW)
    del headers[missing]
    _expect_unauthenticated(adapter, headers, BODY)


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_stale_or_future_timestamp_fails(adapter: ChatwootAdapter, offset: int) -> None:
    # Correctly signed, but outside the five-minute window: a replay.
    rejected = _expect_unauthenticated(adapter, chatwoot_headers(SECRET, BODY, NOW + offset), BODY)
    assert "window" in rejected.detail


@pytest.mark.parametrize("stamp", ["", "soon", "-5", "1.5e9", "9" * 5000, "١٧٧٣٤٨٠١٠٠"])
def test_a_timestamp_that_is_not_unix_seconds_fails(adapter: ChatwootAdapter, stamp: str) -> None:
    headers = chatwoot_headers(SECRET, BODY, NOW)
    headers["X-Chatwoot-Timestamp"] = stamp
    _expect_unauthenticated(adapter, headers, BODY)


@pytest.mark.parametrize("signature", ["", "sha256=", "deadbeef", "sha256=é" * 3])
def test_malformed_signatures_fail_without_crashing(
    adapter: ChatwootAdapter, signature: str
) -> None:
    headers = chatwoot_headers(SECRET, BODY, NOW)
    headers["X-Chatwoot-Signature"] = signature
    _expect_unauthenticated(adapter, headers, BODY)


def test_a_tenant_without_a_secret_accepts_nothing(adapter: ChatwootAdapter) -> None:
    _expect_unauthenticated(adapter, chatwoot_headers("", BODY, NOW), BODY, secret="")
