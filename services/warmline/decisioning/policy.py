"""The escalation policy: versioned YAML, validated with pydantic, per-tenant overrides.

A policy file holds the defaults at the top level, a ``version`` (recorded in
every decision and part of its id) and an optional ``tenants`` section whose
entries are partial overrides deep-merged over the defaults. Every tenant's
effective policy is validated at load, so a bad override fails the whole file
instead of surfacing at the first event from that tenant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warmline.model.taxonomy import SITUATIONS

PriorityName = Literal["low", "normal", "high", "urgent"]
_M = TypeVar("_M", bound=BaseModel)
_V = TypeVar("_V")

#: Reason codes a policy can name; decide.py emits exactly these.
REASON_CODES: tuple[str, ...] = (
    "sustained_negativity",
    "negative_streak",
    "peak_anger",
    "confusion_loop",
    "explicit_request",
    "sensitive_topic",
    "abuse",
    "repeat_contact",
    "vulnerability",
    "acute_distress",
    "churn_threat",
    "regulator_complaint",
)
TOPICS: tuple[str, ...] = ("health", "bereavement", "fraud", "legal", "safety")
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")

# Digits and braces in an opening line would mean it states an amount, a date or
# a placeholder fact; openers only acknowledge how the customer feels.
_FACTUAL = re.compile(r"[0-9{}]")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and field."""


class _Strict(BaseModel):
    # Unknown keys are errors: a typo in a threshold name must not silently
    # fall back to the default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    """When each escalation rule fires."""

    ewma_alpha: float = Field(gt=0, le=1)
    negativity_threshold: float = Field(ge=0, le=1)
    negative_turn_threshold: float = Field(ge=0, le=1)
    streak_length: int = Field(ge=1)
    streak_lead_in_margin: float = Field(ge=0, le=1)
    streak_peak_margin: float = Field(ge=0, le=1)
    peak_anger: float = Field(ge=0, le=1)
    confusion_loops: int = Field(ge=1)
    loop_signal: float = Field(ge=0, le=1)
    similarity: float = Field(gt=0, le=1)
    bot_turns: int = Field(ge=1)
    confusion_signal: float = Field(ge=0, le=1)
    confused_turns: int = Field(ge=2)
    semantic_repeat: float = Field(gt=0, le=1)
    bot_repeat: float = Field(gt=0, le=1)
    acute_distress: float = Field(ge=0, le=1)
    thanks_gratitude: float = Field(ge=0, le=1)
    vulnerability_signal: float = Field(ge=0, le=1)
    sensitive_signal: float = Field(ge=0, le=1)
    situations: dict[str, float]

    @field_validator("situations")
    @classmethod
    def _known_situations(cls, value: dict[str, float]) -> dict[str, float]:
        if any(not 0 < v <= 1 for v in value.values()):
            raise ValueError("situation thresholds must lie in (0, 1]")
        return _only(value, SITUATIONS, "situation")


class Hysteresis(_Strict):
    """When an escalation is withdrawn and how soon it may return."""

    deescalate_below: float = Field(ge=0, le=1)
    deescalate_turns: int = Field(ge=1)
    reescalate_cooldown_turns: int = Field(ge=0)


@dataclass(frozen=True)
class _KeywordSearch:
    """Routing keywords as compiled searches: any keyword at all, then each queue's."""

    any_keyword: re.Pattern[str] | None
    by_queue: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def compile(cls, keywords: Mapping[str, list[str]]) -> _KeywordSearch:
        every = [word for words in keywords.values() for word in words]
        return cls(
            any_keyword=_whole_words(every) if every else None,
            by_queue=tuple(
                (queue, _whole_words(words)) for queue, words in keywords.items() if words
            ),
        )

    def queue(self, lowered: str) -> str:
        # Most messages name no keyword: one search settles them.
        if self.any_keyword is None or not self.any_keyword.search(lowered):
            return ""
        for queue, search in self.by_queue:
            if search.search(lowered):
                return queue
        return ""


class Routing(_Strict):
    """Queue selection: sensitive topic, then reason, then keywords, then the default."""

    default_queue: str = Field(min_length=1)
    topics: dict[str, str]
    reasons: dict[str, str]
    keywords: dict[str, list[str]]

    def queues(self) -> set[str]:
        """Every queue this routing can send an escalation to."""
        return {self.default_queue, *self.keywords, *self.topics.values(), *self.reasons.values()}

    @cached_property
    def _keyword_search(self) -> _KeywordSearch:
        # Compiled once (a plain attribute afterwards): the keywords are searched
        # for in every customer message.
        return _KeywordSearch.compile(self.keywords)

    def keyword_queue(self, text: str) -> str:
        """The first queue (in policy order) one of whose keywords occurs in ``text``, or ""."""
        return self._keyword_search.queue(text.lower())

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: dict[str, str]) -> dict[str, str]:
        return _only(value, TOPICS, "topic")

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, value: dict[str, str]) -> dict[str, str]:
        return _only(value, REASON_CODES, "reason code")


class PriorityRules(_Strict):
    """How reasons, topics, tier and history combine into a priority."""

    reasons: dict[str, PriorityName]
    topics: dict[str, PriorityName]
    tier_boost: dict[str, int]
    repeat_contact_min: int = Field(ge=1)
    repeat_contact_boost: int = Field(ge=0)
    false_alarm_min: int = Field(ge=1)
    false_alarm_dampen: int = Field(ge=0)

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, value: dict[str, PriorityName]) -> dict[str, PriorityName]:
        return _only(value, REASON_CODES, "reason code")

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: dict[str, PriorityName]) -> dict[str, PriorityName]:
        return _only(value, TOPICS, "topic")

    @field_validator("tier_boost")
    @classmethod
    def _known_tiers(cls, value: dict[str, int]) -> dict[str, int]:
        return _only(value, ("standard", "premium", "vip"), "tier")


class OpeningLines(_Strict):
    """Suggested first lines, keyed by reason then dominant emotion ("*" matches any)."""

    default: str = Field(min_length=1)
    templates: dict[str, dict[str, str]]

    @field_validator("default")
    @classmethod
    def _default_states_no_facts(cls, value: str) -> str:
        return _no_facts(value)

    @field_validator("templates")
    @classmethod
    def _templates_state_no_facts(
        cls, value: dict[str, dict[str, str]]
    ) -> dict[str, dict[str, str]]:
        _only(value, (*REASON_CODES, "*"), "reason code")
        for by_emotion in value.values():
            for line in by_emotion.values():
                _no_facts(line)
        return value


class PolicyBody(_Strict):
    """One tenant's effective policy."""

    shadow: bool
    history_window_days: int = Field(ge=1)
    thresholds: Thresholds
    hysteresis: Hysteresis
    routing: Routing
    priority: PriorityRules
    opening_lines: OpeningLines


class _Document(PolicyBody):
    version: str = Field(min_length=1)
    tenants: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Policy:
    """A loaded policy: the version, the defaults and each tenant's merged policy."""

    def __init__(self, version: str, defaults: PolicyBody, tenants: Mapping[str, PolicyBody]):
        self.version = version
        self.defaults = defaults
        self.tenants = dict(tenants)
        #: The tenants decided for; None: all. A shadow policy sets its own
        #: (:mod:`~warmline.decisioning.shadow`).
        self.only_tenants: frozenset[str] | None = None

    def decides_for(self, tenant_id: str) -> bool:
        """Whether events of ``tenant_id`` are decided under this policy at all."""
        return self.only_tenants is None or tenant_id in self.only_tenants

    def for_tenant(self, tenant_id: str) -> PolicyBody:
        """The effective policy of ``tenant_id`` (the defaults when it has no overrides)."""
        return self.tenants.get(tenant_id, self.defaults)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate policy YAML; raises :class:`PolicyError` naming the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: the top level must be a mapping")
    document = _validate(_Document, raw, source, prefix="")
    base = {k: v for k, v in raw.items() if k not in ("version", "tenants")}
    tenants = {
        tenant: _validate(
            PolicyBody, deep_merge(base, override or {}), source, f"tenants.{tenant}."
        )
        for tenant, override in document.tenants.items()
    }
    defaults = PolicyBody.model_validate(base)
    return Policy(document.version, defaults, tenants)


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> Policy:
    """Read and validate the policy file at ``path``."""
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


def _validate(model: type[_M], raw: Any, source: str, prefix: str) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix}{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PolicyError(f"{source}: {problems}") from exc


def _only(value: dict[str, _V], allowed: tuple[str, ...], what: str) -> dict[str, _V]:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what}(s) {unknown}; expected one of {list(allowed)}")
    return value


def _no_facts(line: str) -> str:
    if _FACTUAL.search(line):
        raise ValueError("opening lines acknowledge feelings only: no digits or placeholders")
    return line


def _whole_words(words: list[str]) -> re.Pattern[str]:
    """A search for any of ``words`` as whole words, in lowercased text.

    Python's ``re`` is several times faster case-sensitive over lowercased text
    than with IGNORECASE.
    """
    return re.compile(rf"\b(?:{'|'.join(re.escape(w.lower()) for w in words)})\b")
