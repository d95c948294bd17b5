"""Sunshine Conversations (Zendesk messaging) v2 webhook bodies onto events.

Shape, per the Conversations API reference (https://developer.zendesk.com/api-reference/conversations/#tag/Webhooks)
and its published spec (https://github.com/zendesk/sunshine-conversations-api-spec,
``components/schemas/webhooks/``): ``{"app": {"id"}, "webhook": {"id", "version"},
"events": [...]}``; each event has ``id``, ``type`` (the trigger, e.g.
``conversation:message``), ``createdAt`` and a ``payload``. For
``conversation:message`` the payload holds ``conversation`` (``id``, ``type``)
and ``message``: ``id``, ``received``, ``author`` (``type`` user or business,
``userId`` and, with includeFullUser, ``user`` for end users, ``subtypes`` for
business), ``content`` (``type``, ``text``) and ``source`` (``type``: the
channel, e.g. web, whatsapp, messenger; ``integrationId``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from warmline.ingestion.adapters import _payload as p
from warmline.v1 import events_pb2

Channel: TypeAlias = events_pb2.Channel.ValueType
Role: TypeAlias = events_pb2.Role.ValueType

MESSAGE_TRIGGER = "conversation:message"

# ``message.source.type`` onto Warmline channels. sdk/web/ios/android are Zendesk's
# own messaging widgets and SDKs.
_CHANNELS: dict[str, Channel] = {
    "web": events_pb2.CHANNEL_CHAT,
    "ios": events_pb2.CHANNEL_CHAT,
    "android": events_pb2.CHANNEL_CHAT,
    "sdk": events_pb2.CHANNEL_CHAT,
    "messenger": events_pb2.CHANNEL_SOCIAL,
    "instagram": events_pb2.CHANNEL_SOCIAL,
    "whatsapp": events_pb2.CHANNEL_SOCIAL,
    "telegram": events_pb2.CHANNEL_SOCIAL,
    "line": events_pb2.CHANNEL_SOCIAL,
    "viber": events_pb2.CHANNEL_SOCIAL,
    "wechat": events_pb2.CHANNEL_SOCIAL,
    "twitter": events_pb2.CHANNEL_SOCIAL,
    "kakao": events_pb2.CHANNEL_SOCIAL,
    "apple": events_pb2.CHANNEL_SOCIAL,
    "twilio": events_pb2.CHANNEL_SMS,
    "messagebird": events_pb2.CHANNEL_SMS,
    "mailgun": events_pb2.CHANNEL_EMAIL,
}
# Business messages carry where they were written (api, zd:agentWorkspace), not
# the customer's channel; messaging is text chat unless the source says otherwise.
_DEFAULT_CHANNEL = events_pb2.CHANNEL_CHAT
# Zendesk's built-in bot posts as the business from this integration.
_BOT_SOURCES = frozenset({"zd:answerBot"})


def events(body: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
    """Every ``conversation:message`` text event in a webhook body; other triggers are skipped."""
    raw_events = body.get("events")
    if not isinstance(raw_events, list):
        p.reject("body.events: expected an array")
    app = p.optional_mapping(body, "app", "body")
    app_id = p.optional_identifier(app, "id", "body.app")
    mapped = []
    for index, raw in enumerate(raw_events):
        where = f"body.events[{index}]"
        if not isinstance(raw, Mapping):
            p.reject(f"{where}: expected an object")
        if p.string(raw, "type", where) != MESSAGE_TRIGGER:
            continue
        event = _message(raw, where, app_id)
        if event is not None:
            mapped.append(event)
    return mapped


def _subtypes(author: Mapping[str, Any], where: str) -> list[str]:
    value = author.get("subtypes")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        p.reject(f"{where}.subtypes: expected an array of strings")
    return value


def _role(author: Mapping[str, Any], source_type: str | None, where: str) -> Role | None:
    author_type = p.string(author, "type", where)
    if author_type == "user":
        return events_pb2.ROLE_CUSTOMER
    if author_type != "business":
        return None
    # Documented subtypes: "AI" (AI-generated reply) and "activity" (system activity).
    subtypes = _subtypes(author, where)
    if "AI" in subtypes or source_type in _BOT_SOURCES:
        return events_pb2.ROLE_BOT
    if "activity" in subtypes:
        return events_pb2.ROLE_SYSTEM
    return events_pb2.ROLE_AGENT


def _customer(author: Mapping[str, Any], where: str) -> tuple[str | None, str]:
    """The end user's id and profile locale, from ``userId`` or the full ``user``."""
    user = p.optional_mapping(author, "user", where)
    user_id = p.optional_identifier(author, "userId", where)
    if user_id is None:
        user_id = p.optional_identifier(user, "id", f"{where}.user")
    profile = p.optional_mapping(user, "profile", f"{where}.user")
    return user_id, p.language_tag(profile.get("locale"))


def _message(
    raw: Mapping[str, Any], where: str, app_id: str | None
) -> events_pb2.InteractionEvent | None:
    payload = p.mapping(raw, "payload", where)
    conversation = p.mapping(payload, "conversation", f"{where}.payload")
    conversation_id = p.identifier(conversation, "id", f"{where}.payload.conversation")
    message = p.mapping(payload, "message", f"{where}.payload")
    at = f"{where}.payload.message"
    message_id = p.identifier(message, "id", at)
    received = message.get("received")
    occurred = p.parse_datetime(
        received if received is not None else raw.get("createdAt"), f"{at}.received"
    )
    source = p.optional_mapping(message, "source", at)
    source_type = p.optional_string(source, "type", f"{at}.source")
    author = p.mapping(message, "author", at)
    role = _role(author, source_type, f"{at}.author")
    content = p.mapping(message, "content", at)
    content_type = p.string(content, "type", f"{at}.content")
    text = p.optional_string(content, "text", f"{at}.content") or ""
    deleted = p.optional_bool(message, "deleted", at)

    if role is None or deleted or content_type != "text" or not text.strip():
        return None
    customer, language = (None, "")
    if role == events_pb2.ROLE_CUSTOMER:
        customer, language = _customer(author, f"{at}.author")
    event = events_pb2.InteractionEvent(
        # Keyed on the message id, the same prefix as _zendesk_events: Zendesk's
        # messaging events show ids of the same form, so if a tenant sends both
        # webhook kinds, one message should collapse to one event.
        event_id=f"zendesk:message:{message_id}",
        conversation_id=conversation_id,
        customer_id=customer or "",
        channel=_CHANNELS.get(source_type or "", _DEFAULT_CHANNEL),
        role=role,
        kind=events_pb2.EVENT_KIND_MESSAGE,
        text=text,
        language=language,
        occurred_at=p.to_timestamp(occurred),
    )
    entries = {
        "zendesk_app_id": app_id,
        "zendesk_source_type": source_type,
        "zendesk_integration_id": p.optional_identifier(source, "integrationId", f"{at}.source"),
    }
    for key, value in entries.items():
        kept = p.metadata_value(value)
        if kept is not None:
            event.metadata[key] = kept
    return event
