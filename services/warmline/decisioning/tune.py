"""``warmline policy tune``: propose a tenant's thresholds from agents' verdicts.

The conversations come from the record (:mod:`warmline.record.tuning_set`):
their recorded turns (signals, situations, repeat similarity; never text) and a
gold taken from the verdicts. Every candidate of a small grid of thresholds
(:data:`GRID`) replays them through the same
:func:`~warmline.decisioning.decide.apply_event` the service runs, and is
measured with the backtest's metrics
(:func:`~warmline.decisioning.backtest.escalation_metrics`).

What is promised: nothing is applied. The proposal is a tenant override, in the
shape the policy file's ``tenants:`` section takes, for a person to review; the
figures "after" are those of exactly that override loaded back with the policy.

What is not promised: an exact replay. The record keeps no message text, so the
rules that read words (requests for a person, sensitive topics, abuse, the
situation phrases, loops by wording) cannot fire in it. An escalation the record
shows with any reason the grid does not govern (:data:`GOVERNED_REASONS`) is
therefore taken as it happened, at its recorded turn, by every candidate
(``pinned``); those words would still be there whatever the thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from itertools import product
from typing import Any, Literal

import yaml

from warmline.common.timestamps import iso_seconds
from warmline.decisioning.backtest import Outcome, escalation_metrics
from warmline.decisioning.decide import apply_event
from warmline.decisioning.policy import Policy, PolicyBody, Thresholds, deep_merge, parse_policy
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

#: The thresholds tuned, and the steps tried around the tenant's current value of
#: each: the ones behind the emotion reasons (:data:`GOVERNED_REASONS`). Steps
#: around the value in force keep a proposal a nudge a person can review, not a
#: new policy; 4 x 3 x 3 x 3 = 108 candidates, the current one among them.
#: ``acute_distress`` is left alone on purpose: missing a customer in acute
#: distress is not a trade that a count of verdicts should make.
GRID: dict[str, tuple[float, ...]] = {
    "negative_turn_threshold": (-0.1, 0.0, 0.1, 0.2),
    "streak_length": (-1, 0, 1),
    "negativity_threshold": (-0.1, 0.0, 0.1),
    "peak_anger": (-0.1, 0.0, 0.1),
}
#: The reasons whose firing the grid's thresholds decide.
GOVERNED_REASONS = frozenset({"negative_streak", "sustained_negativity", "peak_anger"})
#: Where a probability threshold of the grid stops (a threshold of 0 fires always).
_LOWEST = 0.05
#: Figures compared before and after.
FIGURES = (
    "precision",
    "recall",
    "f1",
    "alerts_per_100_conversations",
    "median_turns_late",
)

Label = Literal["verdict", "assumed_calm", "none"]
Progress = Callable[[int, int], None]


class TooFewVerdicts(ValueError):
    """Not enough conversations with verdicts to propose anything (the message says how many)."""


@dataclass(frozen=True)
class TuningConversation:
    """One recorded conversation, ready to replay.

    ``gold_turn``: the 0-based customer turn a person was needed at (None: no
    person was needed); it counts only when ``label`` is not ``"none"``.
    ``pinned_turn``: the customer turn of a recorded escalation the grid does not
    govern, which every candidate keeps.
    """

    conversation_id: str
    events: tuple[scoring_pb2.ScoredEvent, ...]
    gold_turn: int | None = None
    label: Label = "none"
    pinned_turn: int | None = None


@dataclass(frozen=True)
class TuningSet:
    """One tenant's conversations of a window ``[start, end)`` (epoch seconds)."""

    tenant: str
    start: float
    end: float
    conversations: tuple[TuningConversation, ...]
    #: Conversations whose agents' verdicts disagree (as many useful as false
    #: alarms): left out of the gold.
    disputed: int = 0

    def count(self, label: Label) -> int:
        """How many conversations have this label."""
        return sum(1 for c in self.conversations if c.label == label)


@dataclass(frozen=True)
class Candidate:
    """One set of the grid's thresholds and what it did."""

    thresholds: dict[str, float]
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Proposal:
    """The thresholds in force, the proposed ones, and the override that says them."""

    tenant: str
    policy_version: str
    current: Candidate
    proposed: Candidate
    candidates: int
    eligible: int
    grid: dict[str, list[float]]
    tuning_set: TuningSet
    override_yaml: str = field(repr=False)

    def changes(self) -> dict[str, tuple[float, float]]:
        """Each threshold the proposal changes, as (current, proposed)."""
        return {
            name: (self.current.thresholds[name], value)
            for name, value in self.proposed.thresholds.items()
            if value != self.current.thresholds[name]
        }

    def why(self) -> str:
        """Why this candidate, in a sentence."""
        return (
            f"highest F1 among the {self.eligible} of {self.candidates} candidates whose "
            f"recall is at least the current policy's ({self.current.metrics['recall']}): "
            "a proposal never misses more of the customers agents said needed a person; "
            "ties go to fewer alerts, then less lateness, then the smallest change"
        )

    def as_json(self) -> dict[str, Any]:
        """Everything a reviewer needs, JSON-safe."""
        s = self.tuning_set
        return {
            "tenant": self.tenant,
            "from": iso_seconds(s.start),
            "to": iso_seconds(s.end),
            "policy_version": self.policy_version,
            "conversations": len(s.conversations),
            "with_verdicts": s.count("verdict"),
            "assumed_calm": s.count("assumed_calm"),
            "disputed": s.disputed,
            "pinned": sum(1 for c in s.conversations if c.pinned_turn is not None),
            "grid": self.grid,
            "candidates": self.candidates,
            "current": {"thresholds": self.current.thresholds, **self.current.metrics},
            "proposed": {"thresholds": self.proposed.thresholds, **self.proposed.metrics},
            "changes": {k: {"current": a, "proposed": b} for k, (a, b) in self.changes().items()},
            "why": self.why(),
            "applied": False,
            "override": self.override_yaml,
        }


def grid_values(current: Thresholds) -> dict[str, list[float]]:
    """Each tuned threshold's values to try: :data:`GRID`'s steps around ``current``."""
    axes: dict[str, list[float]] = {}
    for name, steps in GRID.items():
        value = getattr(current, name)
        # The value in force is always a candidate, even one below _LOWEST.
        if isinstance(value, int):
            axes[name] = sorted({value, *(max(1, value + int(step)) for step in steps)})
        else:
            tried = (min(1.0, max(_LOWEST, round(value + step, 2))) for step in steps)
            axes[name] = sorted({value, *tried})
    return axes


def with_thresholds(policy: Policy, tenant: str, values: Mapping[str, float]) -> Policy:
    """``policy`` with the tenant's thresholds set to ``values`` (validated)."""
    body = policy.for_tenant(tenant)
    thresholds = Thresholds.model_validate({**body.thresholds.model_dump(), **values})
    tuned = PolicyBody.model_validate({**body.model_dump(), "thresholds": thresholds.model_dump()})
    return Policy(policy.version, policy.defaults, {**policy.tenants, tenant: tuned})


def first_escalation(conversation: TuningConversation, policy: Policy) -> int | None:
    """The customer turn at which ``policy`` first escalates in the replay, or None."""
    state = ConversationState()
    customer_turn = -1
    for scored in conversation.events:
        event = scored.event
        if event.role == events_pb2.ROLE_CUSTOMER and event.kind == events_pb2.EVENT_KIND_MESSAGE:
            customer_turn += 1
        now = event.occurred_at.ToDatetime(tzinfo=UTC)
        decision = apply_event(state, scored, policy, now)
        if decision is not None and decision.action == escalation_pb2.DECISION_ACTION_ESCALATE:
            return max(customer_turn, 0)
    return None


def _outcome(conversation: TuningConversation, fired: int | None) -> Outcome:
    turns = [t for t in (fired, conversation.pinned_turn) if t is not None]
    return Outcome(
        conversation.conversation_id, conversation.gold_turn, min(turns) if turns else None, [], []
    )


def _measure(
    conversations: Sequence[TuningConversation], fired: Mapping[str, int | None]
) -> dict[str, Any]:
    outcomes = [_outcome(c, fired.get(c.conversation_id)) for c in conversations]
    labelled = [o for o, c in zip(outcomes, conversations, strict=True) if c.label != "none"]
    metrics = escalation_metrics(outcomes, labelled)
    return {name: metrics[name] for name in FIGURES}


def tune(
    policy_text: str,
    source: str,
    tuning_set: TuningSet,
    *,
    min_conversations: int = 20,
    progress: Progress | None = None,
) -> Proposal:
    """The best candidate of the grid for the tenant, and its override; raises
    :class:`TooFewVerdicts` below ``min_conversations`` conversations with verdicts."""
    tenant = tuning_set.tenant
    judged = tuning_set.count("verdict")
    if judged < min_conversations:
        raise TooFewVerdicts(
            f"tenant {tenant} has {judged} conversation(s) with verdicts from "
            f"{iso_seconds(tuning_set.start)} to {iso_seconds(tuning_set.end)}; at least "
            f"{min_conversations} are needed to propose thresholds (--min-conversations)"
        )
    policy = parse_policy(policy_text, source)
    conversations = tuning_set.conversations
    axes = grid_values(policy.for_tenant(tenant).thresholds)
    may_fire, measured = _replay_grid(policy, tenant, conversations, axes, progress)
    body = policy.for_tenant(tenant)
    now_values = {name: getattr(body.thresholds, name) for name in GRID}
    current = next(c for c in measured if c.thresholds == now_values)
    eligible = [c for c in measured if c.metrics["recall"] >= current.metrics["recall"]]
    best = min(eligible, key=lambda c: _rank(c, now_values, axes))
    override = override_yaml(policy_text, tenant, _changed(best.thresholds, now_values))
    # The figures after are those of the override itself, loaded back with the policy.
    after = with_override(policy_text, override, source)
    fired = {c.conversation_id: first_escalation(c, after) for c in may_fire}
    proposed = Candidate(best.thresholds, _measure(conversations, fired))
    return Proposal(
        tenant=tenant,
        policy_version=policy.version,
        current=current,
        proposed=proposed,
        candidates=len(measured),
        eligible=len(eligible),
        grid=axes,
        tuning_set=tuning_set,
        override_yaml=override,
    )


def _replay_grid(
    policy: Policy,
    tenant: str,
    conversations: Sequence[TuningConversation],
    axes: Mapping[str, list[float]],
    progress: Progress | None,
) -> tuple[list[TuningConversation], list[Candidate]]:
    """Every candidate of ``axes`` measured, and the conversations any of them may escalate."""
    # Until a conversation's first escalation a lower threshold can only make it
    # sooner (nothing else in the state depends on these), so what the loosest
    # candidate leaves quiet stays quiet under every other: only the rest is replayed.
    loosest = with_thresholds(policy, tenant, {name: values[0] for name, values in axes.items()})
    may_fire = [c for c in conversations if first_escalation(c, loosest) is not None]
    combos = [dict(zip(axes, values, strict=True)) for values in product(*axes.values())]
    measured = []
    for n, values in enumerate(combos, 1):
        candidate = with_thresholds(policy, tenant, values)
        fired = {c.conversation_id: first_escalation(c, candidate) for c in may_fire}
        measured.append(Candidate(values, _measure(conversations, fired)))
        if progress is not None:
            progress(n, len(combos))
    return may_fire, measured


def _rank(
    candidate: Candidate, current: Mapping[str, float], axes: Mapping[str, list[float]]
) -> tuple[float, float, float, int, int]:
    """Best first: F1, then fewer alerts, less lateness, fewer changes, smaller steps."""
    m = candidate.metrics
    steps = sum(
        abs(axes[name].index(value) - axes[name].index(current[name]))
        for name, value in candidate.thresholds.items()
    )
    return (
        -m["f1"],
        m["alerts_per_100_conversations"],
        m["median_turns_late"] or 0.0,
        len(_changed(candidate.thresholds, current)),
        steps,
    )


def _changed(values: Mapping[str, float], current: Mapping[str, float]) -> dict[str, float]:
    return {name: value for name, value in values.items() if value != current[name]}


def override_yaml(policy_text: str, tenant: str, thresholds: Mapping[str, float]) -> str:
    """The tenant's whole override (what the policy file has for it, with ``thresholds``
    over it) under ``tenants:``, ready to replace the tenant's entry there."""
    raw = yaml.safe_load(policy_text) or {}
    existing = (raw.get("tenants") or {}).get(tenant) or {}
    entry = deep_merge(existing, {"thresholds": dict(thresholds)}) if thresholds else existing
    return yaml.safe_dump({"tenants": {tenant: entry}}, sort_keys=False)


def with_override(policy_text: str, override_text: str, source: str) -> Policy:
    """The policy of ``policy_text`` with the tenants of ``override_text`` (the shape
    :func:`override_yaml` writes) replacing theirs, validated like any policy file."""
    raw = yaml.safe_load(policy_text) or {}
    proposed = yaml.safe_load(override_text) or {}
    raw["tenants"] = {**(raw.get("tenants") or {}), **(proposed.get("tenants") or {})}
    return parse_policy(yaml.safe_dump(raw, sort_keys=False), f"{source} + proposed override")


def header(proposal: Proposal) -> str:
    """The comment that opens an override file: where it comes from, and that a person decides."""
    s = proposal.tuning_set
    return (
        f"# Proposed by `warmline policy tune` for tenant {proposal.tenant} from the record\n"
        f"# of {iso_seconds(s.start)} to {iso_seconds(s.end)}: {len(s.conversations)} conversations, "
        f"{s.count('verdict')} with verdicts,\n"
        f"# over policy {proposal.policy_version}. NOT APPLIED: a person must review it, copy the\n"
        "# tenant's entry under `tenants:` in the policy file and bump `version`.\n"
    )


def as_text(proposal: Proposal) -> str:
    """The proposal for a person reading a terminal."""
    s = proposal.tuning_set
    pinned = sum(1 for c in s.conversations if c.pinned_turn is not None)
    lines = [
        f"tenant {proposal.tenant}, {iso_seconds(s.start)} to {iso_seconds(s.end)}, policy "
        f"{proposal.policy_version}",
        f"conversations: {len(s.conversations)} replayed; {s.count('verdict')} with verdicts, "
        f"{s.count('assumed_calm')} assumed calm, {s.disputed} disputed (left out), "
        f"{pinned} escalated for reasons the grid does not govern (kept as recorded)",
        f"candidates: {proposal.candidates} "
        + ", ".join(f"{k} {v}" for k, v in proposal.grid.items()),
        "",
        f"{'':<30}{'current':>10}{'proposed':>10}",
    ]
    lines += [
        f"{name:<30}{_cell(proposal.current.thresholds[name])}"
        f"{_cell(proposal.proposed.thresholds[name])}"
        for name in GRID
    ]
    lines += [
        f"{name:<30}{_cell(proposal.current.metrics[name])}{_cell(proposal.proposed.metrics[name])}"
        for name in FIGURES
    ]
    changes = proposal.changes()
    lines += [
        "",
        "proposed: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
        if changes
        else "proposed: no change (the thresholds in force are already the best)",
        f"why: {proposal.why()}",
        "not applied: a person reviews the override and copies it into the policy file",
    ]
    return "\n".join(lines)


def _cell(value: object) -> str:
    return f"{'-' if value is None else value!s:>10}"
