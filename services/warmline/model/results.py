"""What the emotion model says about one text (importable without torch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """What happened to one text."""

    SCORED = "SCORED"
    UNSUPPORTED_LANGUAGE = "UNSUPPORTED_LANGUAGE"
    EMPTY = "EMPTY"


@dataclass(frozen=True)
class EmotionResult:
    """Scores for one text. ``probabilities``/``signals`` are empty unless SCORED."""

    status: Status
    model_version: str
    taxonomy_version: str
    language: str = "en"
    probabilities: dict[str, float] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    #: Situation probabilities (SCORED, bundles with a situation head only).
    situations: dict[str, float] = field(default_factory=dict)
