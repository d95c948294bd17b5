"""Precision and recall of the redactor per kind, on the project's labelled set.

The set (``pii_set/messages.jsonl``, written for the project, see its README)
lists each message's personal data as exact substrings with their kind. It is
split by a hash of the message id: rules are tuned looking at the ``dev`` part
only; ``test`` is the number to report.

* **Recall** of a kind: the share of its labelled spans whose every letter and
  digit ends up inside a redacted span (of any kind: a spaced SSN redacted as a
  phone number is still out of the pipeline).
* **Precision** of a kind: the share of spans redacted as that kind that mostly
  (half their letters and digits or more) lie on labelled personal data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warmline.ingestion.redaction import PII_KINDS, Span, find_pii

DEFAULT_SET = Path(__file__).with_name("pii_set") / "messages.jsonl"
PARTS = ("dev", "test", "all")


class PiiSetError(ValueError):
    """The labelled set is malformed; the message names the line."""


@dataclass(frozen=True)
class LabelledMessage:
    """One message of the set with its labelled spans located in the text."""

    id: str
    text: str
    gold: tuple[Span, ...]


def part_of(message_id: str) -> str:
    """``dev`` or ``test``, from a hash of the id (stable, independent of content)."""
    return "test" if hashlib.sha256(message_id.encode()).digest()[0] % 2 else "dev"


def _locate(text: str, labels: Sequence[dict[str, Any]], where: str) -> tuple[Span, ...]:
    """Each label's span; repeated or nested strings take the next unclaimed occurrence."""
    spans: list[Span] = []
    for label in labels:
        kind, value = label.get("kind"), label.get("text")
        if kind not in PII_KINDS or not isinstance(value, str) or not value:
            raise PiiSetError(f"{where}: bad label {label!r} (kinds: {', '.join(PII_KINDS)})")
        start = text.find(value)
        while start >= 0 and any(s.start < start + len(value) and start < s.end for s in spans):
            start = text.find(value, start + 1)
        if start < 0:
            raise PiiSetError(f"{where}: {value!r} is not (again) in the text")
        spans.append(Span(start, start + len(value), kind))
    return tuple(spans)


def read_set(path: Path = DEFAULT_SET, part: str = "all") -> list[LabelledMessage]:
    """The messages of ``part`` (``dev``, ``test`` or ``all``)."""
    if part not in PARTS:
        raise PiiSetError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    messages = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            raw = json.loads(line)
            message_id, text, labels = raw["id"], raw["text"], raw["pii"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PiiSetError(f"{where}: expected JSON with id, text and pii ({exc})") from exc
        if part != "all" and part_of(message_id) != part:
            continue
        messages.append(LabelledMessage(message_id, text, _locate(text, labels, where)))
    return messages


def _significant(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if text[i].isalnum()}


@dataclass
class KindScore:
    """Counts for one kind."""

    labelled: int = 0
    recalled: int = 0
    redacted: int = 0
    correct: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "labelled": self.labelled,
            "recall": round(self.recalled / self.labelled, 3) if self.labelled else None,
            "redacted": self.redacted,
            "precision": round(self.correct / self.redacted, 3) if self.redacted else None,
        }


@dataclass
class Evaluation:
    """Scores per kind, and what was missed or redacted wrongly (for the dev part)."""

    kinds: dict[str, KindScore] = field(default_factory=dict)
    missed: list[dict[str, str]] = field(default_factory=list)
    wrong: list[dict[str, str]] = field(default_factory=list)
    messages: int = 0

    def as_json(self, details: bool) -> dict[str, Any]:
        total = KindScore()
        for score in self.kinds.values():
            total.labelled += score.labelled
            total.recalled += score.recalled
            total.redacted += score.redacted
            total.correct += score.correct
        result: dict[str, Any] = {
            "messages": self.messages,
            "overall": total.as_json(),
            "kinds": {kind: self.kinds[kind].as_json() for kind in PII_KINDS if kind in self.kinds},
        }
        if details:
            result["missed"] = self.missed
            result["wrongly_redacted"] = self.wrong
        return result


def evaluate(messages: Iterable[LabelledMessage]) -> Evaluation:
    """Redact every message and score the result against its labels."""
    result = Evaluation()
    for message in messages:
        result.messages += 1
        found = find_pii(message.text)
        covered = set().union(*(_significant(message.text, s.start, s.end) for s in found))
        labelled = set().union(*(_significant(message.text, s.start, s.end) for s in message.gold))
        for gold in message.gold:
            score = result.kinds.setdefault(gold.kind, KindScore())
            score.labelled += 1
            if _significant(message.text, gold.start, gold.end) <= covered:
                score.recalled += 1
            else:
                result.missed.append(_example(message, gold))
        for span in found:
            score = result.kinds.setdefault(span.kind, KindScore())
            score.redacted += 1
            chars = _significant(message.text, span.start, span.end)
            if chars and 2 * len(chars & labelled) >= len(chars):
                score.correct += 1
            else:
                result.wrong.append(_example(message, span))
    return result


def _example(message: LabelledMessage, span: Span) -> dict[str, str]:
    return {"id": message.id, "kind": span.kind, "text": message.text[span.start : span.end]}
