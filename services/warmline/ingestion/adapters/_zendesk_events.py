"""Zendesk webhook *event* bodies (``zen:event-type:*``) onto events.

Only ``zen:event-type:messaging_ticket.message_added`` is mapped, per
https://developer.zendesk.com/api-reference/webhooks/event-types/messaging-events:
``{"account_id", "detail": {"id": <ticket id>}, "event": {"actor": {"id",
"name", "type"}, "conversation_id", "message": {"id", "body"}}, "id", "subject",
"time", "type", "zendesk_event_version"}``. ``actor.type`` is one of
end_user, agent, trigger or system; the documented system example is the
Zendesk bot (``zd:answerBot``) greeting the customer, hence ``ROLE_BOT``;
trigger messages are scripted business rules, hence ``ROLE_SYSTEM``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warmline.ingestion.adapters import _payload as p
from warmline.v1 import events_pb2

MESSAGE_ADDED = "zen:event-type:messaging_ticket.message_added"

_ROLES: dict[str, events_pb2.Role.ValueType] = {
    "end_user": events_pb2.ROLE_CUSTOMER,
    "agent": events_pb2.ROLE_AGENT,
    "system": events_pb2.ROLE_BOT,
    "trigger": events_pb2.ROLE_SYSTEM,
}


def events(body: Mapping[str, Any]) -> list[events_pb2.InteractionEvent]:
    """The message of a ``messaging_ticket.message_added`` event; [] for other event types."""
    if p.string(body, "type", "body") != MESSAGE_ADDED:
        return []
    event = p.mapping(body, "event", "body")
    actor = p.mapping(event, "actor", "body.event")
    actor_type = p.string(actor, "type", "body.event.actor")
    actor_id = p.optional_identifier(actor, "id", "body.event.actor")
    conversation_id = p.identifier(event, "conversation_id", "body.event")
    message = p.mapping(event, "message", "body.event")
    message_id = p.identifier(message, "id", "body.event.message")
    text = p.optional_string(message, "body", "body.event.message") or ""
    occurred = p.parse_datetime(body.get("time"), "body.time")
    detail = p.optional_mapping(body, "detail", "body")
    ticket_id = p.optional_identifier(detail, "id", "body.detail")
    account_id = p.optional_identifier(body, "account_id", "body")

    role = _ROLES.get(actor_type)
    if role is None or not text.strip():
        return []
    mapped = events_pb2.InteractionEvent(
        # Same id space as the Sunshine Conversations webhook (see _sunshine).
        event_id=f"zendesk:message:{message_id}",
        conversation_id=conversation_id,
        customer_id=(actor_id or "") if role == events_pb2.ROLE_CUSTOMER else "",
        # Messaging tickets are chat; the event does not name the customer's channel.
        channel=events_pb2.CHANNEL_CHAT,
        role=role,
        kind=events_pb2.EVENT_KIND_MESSAGE,
        text=text,
        occurred_at=p.to_timestamp(occurred),
    )
    for key, value in {"zendesk_account_id": account_id, "zendesk_ticket_id": ticket_id}.items():
        kept = p.metadata_value(value)
        if kept is not None:
            mapped.metadata[key] = kept
    return [mapped]
