"""The practice and insights pages learn the one console origin they take a token
from (``WARMLINE_RECORD__CONSOLE_URL``), and take it from none without it."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from warmline.common.settings import WarmlineSettings
from warmline.notification.tokens import AgentDirectory
from warmline.notification.web import origin_of
from warmline.record.http_api import AuditHttpApi

META = '<meta name="warmline-console-origin" content="{}">'


async def pages(tmp_path: Path, console_url: str | None) -> list[str]:
    app = AuditHttpApi(
        tmp_path / "record.sqlite3", AgentDirectory({}), console_url=console_url
    ).app()
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        texts = []
        for path in ("/practice", "/insights"):
            page = await http.get(str(server.make_url(path)))
            assert page.status == 200
            texts.append(await page.text())
        return texts


async def test_both_pages_carry_the_consoles_origin(tmp_path: Path) -> None:
    for page in await pages(tmp_path, "https://Console.Example.com:8443/agents/"):
        assert META.format("https://console.example.com:8443") in page
        assert "event.origin !== CONSOLE_ORIGIN" in page


async def test_without_a_console_address_the_pages_carry_no_origin(tmp_path: Path) -> None:
    # What the pages then do (take no token from any opener) is the browser test's.
    for page in await pages(tmp_path, None):
        assert META.format("") in page


def test_an_origin_is_the_scheme_host_and_port_only() -> None:
    assert origin_of("http://127.0.0.1:8084") == "http://127.0.0.1:8084"
    assert origin_of("https://console.example.com/a/b") == "https://console.example.com"
    assert origin_of(None) == ""


@pytest.mark.parametrize("url", ["javascript:alert(1)", "console:8084", "https://c.example/?a=1"])
def test_a_console_address_that_is_not_a_plain_web_address_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("WARMLINE_RECORD__CONSOLE_URL", url)
    with pytest.raises(ValidationError, match=r"record\.console_url"):
        WarmlineSettings()
