"""Personal data out of the text before anything is written to Kafka.

Each kind of personal data is replaced by a typed placeholder (``[EMAIL]``,
``[NAME]``, ...) so the emotion model and the agent still see that the customer
mentioned one. The shapes and their checks live in
:mod:`warmline.ingestion.pii_rules`; this module runs them in order, each over
the text with the spans already taken masked out, and builds the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from warmline.ingestion.pii_rules import IDENTIFIER_RULES, RULES, Rule, iban_valid, luhn_valid

__all__ = [
    "PII_KINDS",
    "Redacted",
    "Span",
    "find_pii",
    "iban_valid",
    "identifier_pii",
    "luhn_valid",
    "redact_pii",
]

PII_KINDS = tuple(dict.fromkeys(rule.kind for rule in RULES))


class Span(NamedTuple):
    """Personal data of ``kind`` at ``text[start:end]`` (a tuple: made per match)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Redacted:
    """Text with personal data replaced, and how many of each kind were found."""

    text: str
    counts: Mapping[str, int]


_NOTHING: Mapping[str, int] = MappingProxyType({})
# Rules by gate: without words or cues (digits only), by each word, by each cue.
_PLAIN = tuple((i, r.min_digits) for i, r in enumerate(RULES) if not r.words and not r.cues)
_BY_WORD: dict[str, list[int]] = {}
for _i, _rule in enumerate(RULES):
    for _word in _rule.words:
        # Words are split on spaces only (fast): a word may carry punctuation.
        for _written in (_word, *(_word + mark for mark in ",.:;!?)"), "(" + _word):
            _BY_WORD.setdefault(_written, []).append(_i)
_ALL_WORDS = frozenset(_BY_WORD)
_BY_CUE = tuple((cue, i, r.min_digits) for i, r in enumerate(RULES) for cue in r.cues)
_HAS_DIGIT = re.compile(r"\d")
# Masked characters: not a word character, digit, '@' or separator any rule reads.
_MASK = "\x00"


def _candidate(match: re.Match[str]) -> tuple[int, int]:
    for name, value in match.groupdict().items():
        if value is not None and name.startswith("pii"):
            return match.span(name)
    return match.span()


def _apply(rule: Rule, text: str, masked: str, spans: list[Span]) -> str:
    """Add the rule's spans; return ``masked`` with them blanked out."""
    found: list[Span] = []
    for match in rule.pattern.finditer(masked):
        start, end = _candidate(match)
        if rule.inner is not None:
            for inner in rule.inner.finditer(masked, start, end):
                if rule.check is None or rule.check(inner.group()):
                    found.append(Span(inner.start(), inner.end(), rule.kind))
            continue
        value = text[start:end]
        if _MASK in masked[start:end]:
            continue
        if rule.check is not None and not rule.check(value):
            continue
        if rule.trim is not None:
            value = rule.trim(value)
            if not value:
                continue
            end = start + len(value)
        found.append(Span(start, end, rule.kind))
    for span in found:
        masked = masked[: span.start] + _MASK * (span.end - span.start) + masked[span.end :]
    spans.extend(found)
    return masked


def find_pii(text: str) -> list[Span]:
    """Every span of personal data in ``text``, in text order, none overlapping."""
    lowered = text.lower()
    if "\u2019" in lowered:
        lowered = lowered.replace("\u2019", "'")
    digit_count = sum(map(text.count, "0123456789")) if _HAS_DIGIT.search(text) else 0
    # The rules whose gates open (Rule.words, Rule.cues, Rule.min_digits), found
    # without visiting each rule: this runs for every event at the door.
    chosen = [i for i, min_digits in _PLAIN if digit_count >= min_digits]
    for word in _ALL_WORDS.intersection(lowered.split()):
        chosen.extend(_BY_WORD[word])
    chosen.extend(
        i for cue, i, min_digits in _BY_CUE if digit_count >= min_digits and cue in lowered
    )
    spans: list[Span] = []
    masked = text
    for i in sorted(set(chosen)):
        rule = RULES[i]
        if digit_count < rule.min_digits or (rule.after_spans and not spans):
            continue
        masked = _apply(rule, text, masked, spans)
    return sorted(spans, key=lambda s: s.start)


def redact_pii(text: str) -> Redacted:
    """Replace every kind of :data:`PII_KINDS` in ``text`` by its placeholder."""
    spans = find_pii(text)
    if not spans:
        return Redacted(text, _NOTHING)
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        parts.append(f"[{span.kind}]")
        position = span.end
    parts.append(text[position:])
    counts: dict[str, int] = {}
    for span in spans:
        counts[span.kind] = counts.get(span.kind, 0) + 1
    return Redacted("".join(parts), counts)


def identifier_pii(value: str) -> str | None:
    """The kind of personal data an identifier (an id, a metadata key) holds, or None."""
    if "@" not in value and "+" not in value and len(value) < 15:
        return None
    spans: list[Span] = []
    for rule in IDENTIFIER_RULES:
        _apply(rule, value, value, spans)
        if spans:
            return spans[0].kind
    return None
