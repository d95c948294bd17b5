"""Personal data out of the text before anything is written to Kafka.

Each kind of identifier is replaced by a typed placeholder (``[EMAIL]``,
``[CARD]``, ...) so the emotion model and the agent still see that the customer
mentioned one. Candidates are checked, not just matched: card numbers must pass
Luhn, IBANs the ISO 7064 mod-97 check, IPs must parse, so order numbers and
amounts survive.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![:\w])")
# A phone number: an international prefix, or digit groups joined by separators,
# or a bare 10-11 digit run. A plain 6-9 digit run (an order number) is kept.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{7,15}(?!\w)"
    r"|(?<![\w+])\d{10,11}(?!\w)"
)


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn checksum."""
    digits = [int(c) for c in _digits(number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(digits) >= 12 and total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when ``candidate`` passes the IBAN mod-97 check."""
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return int(numeric) % 97 == 1


def _ip_valid(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _phone_valid(candidate: str) -> bool:
    return 7 <= len(_digits(candidate)) <= 15


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None


# Order matters: the more specific shapes claim their digits before PHONE does.
_RULES = (
    _Rule("EMAIL", _EMAIL),
    _Rule("IBAN", _IBAN, iban_valid),
    _Rule("CARD", _CARD, luhn_valid),
    _Rule("SSN", _SSN),
    _Rule("IP", _IPV4, _ip_valid),
    _Rule("IP", _IPV6, _ip_valid),
    _Rule("PHONE", _PHONE, _phone_valid),
)

PII_KINDS = tuple(dict.fromkeys(rule.kind for rule in _RULES))


@dataclass(frozen=True, slots=True)
class Redacted:
    """Text with personal data replaced, and how many of each kind were found."""

    text: str
    counts: Mapping[str, int]


_HAS_DIGIT = re.compile(r"\d")
_NOTHING: Mapping[str, int] = MappingProxyType({})


def redact_pii(text: str) -> Redacted:
    """Replace emails, IBANs, card numbers, SSNs, IPs and phone numbers by placeholders."""
    # Most messages hold no digit and no '@': skip the patterns cheaply (hot path).
    if "@" not in text and not _HAS_DIGIT.search(text):
        return Redacted(text, _NOTHING)
    counts: Counter[str] = Counter()
    for rule in _RULES:

        def replace(match: re.Match[str], rule: _Rule = rule) -> str:
            if rule.check is not None and not rule.check(match.group(0)):
                return match.group(0)
            counts[rule.kind] += 1
            return f"[{rule.kind}]"

        text = rule.pattern.sub(replace, text)
    return Redacted(text, counts)
