"""The browser pages (console, practice, insights), shipped as package data, and
how every service that serves one answers with it."""

from __future__ import annotations

import html
from importlib import resources
from urllib.parse import urlsplit

from aiohttp import web

# The pages load nothing from elsewhere; inline script and style are their own.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
)


def page_bytes(name: str) -> bytes:
    """One page's HTML, e.g. ``console.html``."""
    return resources.files(__name__).joinpath(name).read_bytes()


def with_meta(page: bytes, name: str, value: str) -> bytes:
    """``page`` with the content of its empty ``<meta name=...>`` tag set to ``value``:
    how a page learns a setting without another request."""
    empty = f'<meta name="{name}" content="">'.encode()
    if page.count(empty) != 1:
        raise ValueError(f"the page has no single empty meta tag {name!r}")
    filled = f'<meta name="{name}" content="{html.escape(value, quote=True)}">'
    return page.replace(empty, filled.encode())


def page_response(body: bytes) -> web.Response:
    """A page, never cached, under the pages' content security policy."""
    return web.Response(
        body=body,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CONSOLE_CSP},
    )


def origin_of(url: str | None) -> str:
    """The web origin (``scheme://host[:port]``) of an address, as browsers write
    ``event.origin``; "" for none."""
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def signed_in_from_console(name: str, console_url: str | None) -> bytes:
    """A record page (``practice.html``, ``insights.html``) that takes the agent's
    token from the console at ``console_url``'s origin only (none: from no page).

    The sign-in script itself is written in each page: the pages' content
    security policy runs inline scripts only.
    """
    return with_meta(page_bytes(name), "warmline-console-origin", origin_of(console_url))
