"""PII redaction: each kind replaced by its placeholder, look-alikes kept."""

from __future__ import annotations

import pytest

from warmline.ingestion.redaction import iban_valid, luhn_valid, redact_pii


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("mail me at jane.doe+orders@example.co.uk now", "mail me at [EMAIL] now", "EMAIL"),
        ("card 4111 1111 1111 1111 please", "card [CARD] please", "CARD"),
        ("card 4111-1111-1111-1111", "card [CARD]", "CARD"),
        ("IBAN GB82 WEST 1234 5698 7654 32 thanks", "IBAN [IBAN] thanks", "IBAN"),
        ("DE89370400440532013000", "[IBAN]", "IBAN"),
        ("my ssn is 078-05-1120", "my ssn is [SSN]", "SSN"),
        ("from 203.0.113.7 today", "from [IP] today", "IP"),
        ("from 2001:db8::1 today", "from [IP] today", "IP"),
        ("call +44 20 7946 0958", "call [PHONE]", "PHONE"),
        ("call (555) 123-4567!", "call [PHONE]!", "PHONE"),
        ("call 5551234567", "call [PHONE]", "PHONE"),
    ],
)
def test_personal_data_becomes_a_typed_placeholder(text: str, expected: str, kind: str) -> None:
    result = redact_pii(text)
    assert result.text == expected
    assert result.counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "order 123456789 is late",  # an order number, not a phone
        "card 4111 1111 1111 1112 failed",  # fails Luhn: not a card, too long for a phone
        "it cost 45.99 on 12/05/2024 at 10:30",
        "I waited 3 hours",
        "999.1.1.1",  # not an IP
    ],
)
def test_look_alikes_are_kept(text: str) -> None:
    assert redact_pii(text).text == text


def test_a_failed_checksum_still_errs_on_the_side_of_privacy() -> None:
    # Not an IBAN (mod-97 fails), but its digit groups still look like a phone number.
    assert "1234 5698" not in redact_pii("GB82 WEST 1234 5698 7654 33").text


def test_several_kinds_in_one_message_are_all_counted() -> None:
    result = redact_pii("a@b.io, b@c.io and 4111111111111111")
    assert result.text == "[EMAIL], [EMAIL] and [CARD]"
    assert result.counts == {"EMAIL": 2, "CARD": 1}


def test_checksums() -> None:
    assert luhn_valid("4111 1111 1111 1111")
    assert not luhn_valid("4111 1111 1111 1112")
    assert not luhn_valid("1234")  # too short to be a card
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB82 WEST 1234 5698 7654 31")
