"""Chatwoot webhooks: ``message_created`` and ``conversation_status_changed``.

Point an account webhook (Settings > Integrations > Webhooks) at
``/v1/webhooks/chatwoot/{tenant_id}``, subscribe it to those two events, and put
the webhook's secret in the tenant's ``webhook_secrets.chatwoot``.

Verification (HMAC, not a shared token). Since v4.11.2 every account webhook has
its own secret and each delivery carries ``X-Chatwoot-Timestamp`` (Unix seconds)
and ``X-Chatwoot-Signature: sha256=<hex>``, the HMAC-SHA256 of
``"{timestamp}.{raw body}"`` under that secret; receivers should refuse
timestamps more than about five minutes off. Sources:
https://github.com/chatwoot/chatwoot/pull/13573 (the change and its headers),
https://github.com/chatwoot/chatwoot/issues/13862 (the release it shipped in,
and #14199 adding the ``secret`` field and headers to the API reference at
https://developers.chatwoot.com/api-reference/webhooks/add-a-webhook). Older
Chatwoot versions sign nothing and cannot be used.

Payload shapes follow
https://github.com/chatwoot/docs/blob/main/docs/product/others/webhook-events.md
and Chatwoot's ``Message#webhook_data`` / ``Conversation#webhook_data``:

* ``message_created``: the message at the top level (``id``, ``content``,
  ``created_at`` as ISO 8601 or Ruby's ``"2020-03-03 13:05:57 UTC"``,
  ``message_type`` incoming/outgoing/template, ``content_type``, ``private``,
  ``sender``), with ``conversation`` (``id`` is the per-account display id,
  ``channel`` the inbox's ``Channel::*`` class, ``contact_inbox.contact_id``,
  ``meta.sender``), ``inbox`` and ``account``.
* ``conversation_status_changed``: the conversation at the top level, with its
  new ``status`` and epoch-second ``timestamp`` (newer versions add
  ``updated_at``).

Decisions:

* ``incoming`` is the customer; ``outgoing`` is an agent, or a bot when the
  sender's ``type`` is ``agent_bot`` or ``captain_assistant``; an outgoing
  message with no sender comes from an automation rule or campaign and is
  ``ROLE_SYSTEM``; ``template`` messages (greeting, out-of-office, CSAT prompt)
  are customer-visible and automated, so ``ROLE_SYSTEM`` too.
* ``activity`` messages ("Conversation was resolved by ...") are timeline
  notes, never customer-visible: ignored. Chatwoot does not send them anyway.
* Private notes are agent-only and ignored, as is anything without text
  (attachments only, forms, cards).
* Only a change *to* ``resolved`` is an event (conversation ended); open,
  pending and snoozed are routing states Warmline does not track.
* ``conversation_id`` is the display id the agent sees; Chatwoot numbers it per
  account, so a tenant should send one account per webhook URL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from warmline.ingestion.adapters import _payload as p
from warmline.v1 import events_pb2

Channel: TypeAlias = events_pb2.Channel.ValueType
Role: TypeAlias = events_pb2.Role.ValueType

# Chatwoot inbox classes (``conversation.channel``) onto Warmline channels.
_CHANNELS: dict[str, Channel] = {
    "Channel::WebWidget": events_pb2.CHANNEL_CHAT,
    "Channel::Api": events_pb2.CHANNEL_CHAT,
    "Channel::Email": events_pb2.CHANNEL_EMAIL,
    "Channel::Sms": events_pb2.CHANNEL_SMS,
    "Channel::TwilioSms": events_pb2.CHANNEL_SMS,
    "Channel::Whatsapp": events_pb2.CHANNEL_SOCIAL,
    "Channel::FacebookPage": events_pb2.CHANNEL_SOCIAL,
    "Channel::Instagram": events_pb2.CHANNEL_SOCIAL,
    "Channel::Telegram": events_pb2.CHANNEL_SOCIAL,
    "Channel::Line": events_pb2.CHANNEL_SOCIAL,
    "Channel::TwitterProfile": events_pb2.CHANNEL_SOCIAL,
    "Channel::Tiktok": events_pb2.CHANNEL_SOCIAL,
    "Channel::Voice": events_pb2.CHANNEL_VOICE,
}
# Every other Chatwoot inbox is a text conversation; the raw class goes in metadata.
_DEFAULT_CHANNEL = events_pb2.CHANNEL_CHAT

# ``message_type`` arrives as a string in webhooks; older payloads used the enum integer.
_MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}
_BOT_SENDERS = frozenset({"agent_bot", "captain_assistant"})
# Plain text, and the text of an email received by an email inbox.
_TEXT_CONTENT = frozenset({"text", "incoming_email"})

SIGNATURE_HEADER = "X-Chatwoot-Signature"
TIMESTAMP_HEADER = "X-Chatwoot-Timestamp"
_SIGNATURE_PREFIX = "sha256="


class ChatwootAdapter:
    """Verifies and maps Chatwoot account webhooks."""

    def __init__(
        self,
        name: str = "chatwoot",
        tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._tolerance_s = tolerance_s
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Check ``X-Chatwoot-Signature`` over ``timestamp.body`` and the timestamp's age."""
        if not secret:
            p.unauthenticated("no Chatwoot webhook secret is configured for this tenant")
        stamp = p.header(headers, TIMESTAMP_HEADER)
        signature = p.header(headers, SIGNATURE_HEADER)
        if stamp is None or signature is None:
            p.unauthenticated(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
        # Bounded before int(): a header of thousands of digits is not a time.
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
            p.unauthenticated(f"{TIMESTAMP_HEADER} is not Unix seconds")
        if abs(self._clock() - int(stamp)) > self._tolerance_s:
            p.unauthenticated(f"{TIMESTAMP_HEADER} is outside the {self._tolerance_s:.0f}s window")
        expected = _SIGNATURE_PREFIX + p.hmac_sha256(secret, stamp.encode() + b"." + body).hex()
        if not p.same_secret(signature.strip().lower(), expected):
            p.unauthenticated(f"{SIGNATURE_HEADER} does not match the body")

    def to_events(self, payload: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
        """Events for ``message_created`` and ``conversation_status_changed``; [] otherwise."""
        if not isinstance(payload, Mapping):
            p.reject("body: expected a JSON object")
        event = p.string(payload, "event", "body")
        if event == "message_created":
            return _message_created(payload)
        if event == "conversation_status_changed":
            return _status_changed(payload)
        return []


def _channel(conversation: Mapping[str, Any], where: str) -> tuple[Channel, str | None]:
    raw = p.optional_string(conversation, "channel", where)
    return _CHANNELS.get(raw or "", _DEFAULT_CHANNEL), raw


def _customer_id(conversation: Mapping[str, Any], where: str) -> str | None:
    contact_inbox = p.optional_mapping(conversation, "contact_inbox", where)
    found = p.optional_identifier(contact_inbox, "contact_id", f"{where}.contact_inbox")
    if found is None:
        meta = p.optional_mapping(conversation, "meta", where)
        sender = p.optional_mapping(meta, "sender", f"{where}.meta")
        found = p.optional_identifier(sender, "id", f"{where}.meta.sender")
    return found


def _metadata(
    event: events_pb2.InteractionEvent,
    account_id: str | None,
    inbox_id: str | None,
    channel_class: str | None,
) -> None:
    entries = {
        "chatwoot_account_id": account_id,
        "chatwoot_inbox_id": inbox_id,
        "chatwoot_channel": channel_class,
    }
    for key, value in entries.items():
        kept = p.metadata_value(value)
        if kept is not None:
            event.metadata[key] = kept


def _message_role(payload: Mapping[str, Any], message_type: str) -> Role | None:
    if message_type == "incoming":
        return events_pb2.ROLE_CUSTOMER
    if message_type == "template":
        return events_pb2.ROLE_SYSTEM
    if message_type != "outgoing":
        return None  # activity, or a type this adapter does not know
    sender = p.optional_mapping(payload, "sender", "body")
    if not sender:
        return events_pb2.ROLE_SYSTEM
    sender_type = p.optional_string(sender, "type", "body.sender")
    return events_pb2.ROLE_BOT if sender_type in _BOT_SENDERS else events_pb2.ROLE_AGENT


def _message_type(payload: Mapping[str, Any]) -> str:
    value = payload.get("message_type")
    if isinstance(value, int) and not isinstance(value, bool):
        return _MESSAGE_TYPES.get(value, "")
    if isinstance(value, str):
        return value
    p.reject("body.message_type: expected incoming, outgoing or template")


def _message_created(payload: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
    message_id = p.identifier(payload, "id", "body")
    conversation = p.mapping(payload, "conversation", "body")
    conversation_id = p.optional_identifier(conversation, "id", "body.conversation")
    if conversation_id is None:
        # The oldest documented sample names it display_id.
        conversation_id = p.identifier(conversation, "display_id", "body.conversation")
    occurred = p.parse_datetime(payload.get("created_at"), "body.created_at")
    role = _message_role(payload, _message_type(payload))
    private = p.optional_bool(payload, "private", "body")
    content_type = p.optional_string(payload, "content_type", "body") or "text"
    text = p.optional_string(payload, "content", "body") or ""
    channel, channel_class = _channel(conversation, "body.conversation")
    customer = _customer_id(conversation, "body.conversation")
    if customer is None:
        contact = p.optional_mapping(payload, "contact", "body")
        customer = p.optional_identifier(contact, "id", "body.contact")
    if customer is None and role == events_pb2.ROLE_CUSTOMER:
        sender = p.optional_mapping(payload, "sender", "body")
        customer = p.optional_identifier(sender, "id", "body.sender")

    if role is None or private or content_type not in _TEXT_CONTENT or not text.strip():
        return []
    event = events_pb2.InteractionEvent(
        event_id=f"chatwoot:message:{message_id}",
        conversation_id=conversation_id,
        customer_id=customer or "",
        channel=channel,
        role=role,
        kind=events_pb2.EVENT_KIND_MESSAGE,
        text=text,
        occurred_at=p.to_timestamp(occurred),
    )
    attributes = p.optional_mapping(conversation, "additional_attributes", "body.conversation")
    event.language = p.language_tag(attributes.get("conversation_language"))
    account = p.optional_mapping(payload, "account", "body")
    inbox = p.optional_mapping(payload, "inbox", "body")
    _metadata(
        event,
        p.optional_identifier(account, "id", "body.account"),
        p.optional_identifier(inbox, "id", "body.inbox"),
        channel_class,
    )
    return [event]


def _status_changed(payload: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
    conversation_id = p.identifier(payload, "id", "body")
    status = p.string(payload, "status", "body")
    # updated_at moves with the status change itself; timestamp is the last activity.
    raw_time = payload.get("updated_at")
    if raw_time is None:
        raw_time = payload.get("timestamp")
    occurred = p.parse_datetime(raw_time, "body.updated_at/timestamp")
    channel, channel_class = _channel(payload, "body")
    customer = _customer_id(payload, "body")
    if status != "resolved":
        return []
    event = events_pb2.InteractionEvent(
        event_id=(
            f"chatwoot:conversation:{conversation_id}:status:{status}:{p.epoch_millis(occurred)}"
        ),
        conversation_id=conversation_id,
        customer_id=customer or "",
        channel=channel,
        # A lifecycle change, not something a participant said.
        role=events_pb2.ROLE_SYSTEM,
        kind=events_pb2.EVENT_KIND_CONVERSATION_ENDED,
        occurred_at=p.to_timestamp(occurred),
    )
    account = p.optional_mapping(payload, "account", "body")
    account_id = p.optional_identifier(account, "id", "body.account")
    if account_id is None:
        account_id = p.optional_identifier(payload, "account_id", "body")
    _metadata(event, account_id, p.optional_identifier(payload, "inbox_id", "body"), channel_class)
    return [event]
