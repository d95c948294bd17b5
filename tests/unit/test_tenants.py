"""Tenant credentials: hashed keys, bearer tokens, clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmline.common.credentials import bearer_token, hash_key
from warmline.common.tenants import CredentialsError, TenantDirectory


def test_a_key_finds_its_tenant_and_nothing_else_does() -> None:
    directory = TenantDirectory.from_mapping(
        {"tenants": {"acme": {"api_key_sha256": [hash_key("k1"), hash_key("k2")]}, "globex": {}}}
    )
    assert directory.tenant_for_key("k1") == "acme"
    assert directory.tenant_for_key("k2") == "acme"  # rotation: both keys valid
    assert directory.tenant_for_key("k3") is None
    assert directory.tenant_for_key(hash_key("k1")) is None  # the stored hash is not a key


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "top-level 'tenants'"),
        ({"tenants": {"acme": "x"}}, "tenants.acme: expected a mapping"),
        ({"tenants": {"acme": {"api_key_sha256": ["short"]}}}, "tenants.acme.api_key_sha256"),
        (
            {"tenants": {"acme": {"webhook_secrets": {"chatwoot": ""}}}},
            "tenants.acme.webhook_secrets",
        ),
    ],
)
def test_a_malformed_file_names_the_bad_entry(raw: object, message: str) -> None:
    with pytest.raises(CredentialsError, match=message):
        TenantDirectory.from_mapping(raw)


def test_an_unreadable_file_is_a_credentials_error(tmp_path: Path) -> None:
    bad = tmp_path / "tenants.yaml"
    bad.write_text("tenants: [unclosed")
    with pytest.raises(CredentialsError, match="cannot read"):
        TenantDirectory.from_file(bad)
    with pytest.raises(CredentialsError, match="cannot read"):
        TenantDirectory.from_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        (None, None),
        # Non-UTF-8 header bytes reach Python as lone surrogates: no token, no crash.
        ("Bearer abc\udcff", None),
        ("Bearer ab\u00e9", None),
    ],
)
def test_bearer_tokens(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
