"""Platform adapters: a contact center's own webhooks, mapped onto Warmline events.

Adding a platform is one module implementing :class:`PlatformAdapter` and one
entry in the tuple below; its ``name`` becomes the URL segment and the key of
the tenant's webhook secret.
"""

from __future__ import annotations

from warmline.ingestion.adapters import chatwoot, zendesk
from warmline.ingestion.adapters.base import PlatformAdapter, WebhookRejected

ADAPTERS: dict[str, PlatformAdapter] = {
    adapter.name: adapter
    for adapter in (
        chatwoot.ChatwootAdapter(),
        zendesk.ZendeskAdapter(),
    )
}


def get_adapter(name: str) -> PlatformAdapter:
    """The adapter registered as ``name``; WebhookRejected("unknown_platform") otherwise."""
    adapter = ADAPTERS.get(name)
    if adapter is None:
        # The name comes from the URL: echo only a short, escaped slice of it.
        known = ", ".join(sorted(ADAPTERS))
        raise WebhookRejected("unknown_platform", f"no adapter named {name[:32]!a}; known: {known}")
    return adapter


__all__ = ["ADAPTERS", "PlatformAdapter", "WebhookRejected", "get_adapter"]
