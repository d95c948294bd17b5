"""The console page learns where the record's practice and insights pages are from
``WARMLINE_NOTIFICATION__RECORD_URL``, and links nowhere without it."""

from __future__ import annotations

from typing import Any, cast

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from warmline.common.settings import WarmlineSettings
from warmline.notification.http_api import ConsoleHttpApi
from warmline.notification.web import page_bytes, with_meta

META = '<meta name="warmline-record-url" content="{}">'


async def console_page(record_url: str | None) -> str:
    app = ConsoleHttpApi(cast(Any, object()), heartbeat_s=1.0, record_url=record_url).app()
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        page = await http.get(str(server.make_url("/")))
        assert page.status == 200
        return await page.text()


async def test_the_console_page_carries_the_record_address_it_links_to() -> None:
    page = await console_page("https://record.example.com/")
    assert META.format("https://record.example.com") in page
    assert 'id="practice-link"' in page and 'id="insights-link"' in page


async def test_without_a_record_address_the_page_has_none_and_shows_no_link() -> None:
    page = await console_page(None)
    assert META.format("") in page
    # The links sit in a hidden bar that only a known address reveals.
    assert '<nav id="links" hidden' in page and "if (!RECORD) return;" in page


def test_an_address_is_written_into_the_page_escaped() -> None:
    page = with_meta(page_bytes("console.html"), "warmline-record-url", 'http://x/"><script>')
    assert b'content="http://x/&quot;&gt;&lt;script&gt;"' in page


def test_a_page_without_the_meta_tag_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="warmline-nowhere"):
        with_meta(page_bytes("console.html"), "warmline-nowhere", "x")


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "record:8085", "https://record.example.com/?a=1", "https://"]
)
def test_a_record_address_that_is_not_a_plain_web_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WARMLINE_NOTIFICATION__RECORD_URL", url)
    with pytest.raises(ValidationError, match=r"notification\.record_url"):
        WarmlineSettings()


def test_a_web_address_of_the_record_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMLINE_NOTIFICATION__RECORD_URL", "http://localhost:8085")
    assert WarmlineSettings().notification.record_url == "http://localhost:8085"
