"""Thin clients for platforms and agent consoles, importable without the model or faust.

``IngestClient`` publishes events to the ingestion service; ``ConsoleClient``
follows escalations from the notification service and acts on them. They need
only ``grpcio``, ``grpcio-status`` and ``protobuf`` (the ``client`` extra) and the
generated ``warmline.v1`` messages.
"""

from warmline.client.backoff import Backoff
from warmline.client.console import ConsoleClient
from warmline.client.ingest import IngestClient, PublishSummary, read_events

__all__ = ["Backoff", "ConsoleClient", "IngestClient", "PublishSummary", "read_events"]
