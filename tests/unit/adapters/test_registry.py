"""The adapter registry, and every stored fixture against its adapter and validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.adapters.support import FIXTURES, load
from warmline.common.settings import IngestionSettings
from warmline.ingestion.adapters import ADAPTERS, get_adapter
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.ingestion.validation import validate_event


def test_each_adapter_is_registered_under_its_own_name() -> None:
    assert set(ADAPTERS) == {"chatwoot", "zendesk"}
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name
        assert get_adapter(name) is adapter


@pytest.mark.parametrize("name", ["", "Chatwoot", "freshchat", "zendesk/../chatwoot", "\x00" * 500])
def test_an_unknown_platform_is_refused_by_name(name: str) -> None:
    with pytest.raises(WebhookRejected) as caught:
        get_adapter(name)
    assert caught.value.reason == "unknown_platform"
    # The caller's input is echoed only in part.
    assert len(caught.value.detail) < 200


FIXTURE_FILES = sorted(FIXTURES.glob("*/*.json"))


def test_there_are_fixtures_for_every_platform() -> None:
    assert {path.parent.name for path in FIXTURE_FILES} == set(ADAPTERS)


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mapped_fixtures_pass_ingestion_validation(path: Path) -> None:
    # Whatever an adapter emits must be publishable once the service adds the tenant.
    platform, name = path.parent.name, path.stem
    limits = IngestionSettings()
    now = datetime(2026, 3, 15, tzinfo=UTC)
    for event in get_adapter(platform).to_events(load(platform, name)):
        event.tenant_id = "acme"
        assert validate_event(event, limits, now.timestamp()) == [], event.event_id
