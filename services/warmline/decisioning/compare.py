"""``warmline policy compare``: where a shadow policy and the live one part ways.

The input is one tenant's conversations from the record
(:mod:`warmline.record.shadow_comparison`), each with the first escalation of
the live policy and of one shadow policy version (see
:mod:`warmline.decisioning.shadow`), and the agents' verdicts on the live
decisions. For each conversation this module says how the two differ (escalated
by one only; the shadow sooner or later, by customer turns; another queue,
priority or set of reasons) and, where agents judged the live escalation, what
the shadow would have done about it (avoided a false alarm, missed an
escalation a person was needed for).

What is promised: every figure counts conversations, and turns are customer
messages (the first is 1), never wall-clock times, so a shadow worker that read
the scored topic hours after the live one compares alike. What is not: a
verdict on a shadow-only escalation (no agent was ever offered one), nor that
the shadow worker saw a conversation it stayed quiet on (the record keeps its
decisions, not what it read; see :attr:`Comparison.shadow_first_turn_at`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from warmline.common.timestamps import iso_seconds

#: What agents said of a conversation's live escalations: more useful or wrong-queue
#: verdicts than false alarms (a person was needed), more false alarms, as many
#: of each, or none.
Verdict = Literal["needed", "false_alarm", "disputed", "none"]
#: How a shadow escalation differs from the live one, in report order.
DIFFERENCES = ("only_live", "only_shadow", "earlier", "later", "queue", "priority", "reasons")
#: What the shadow does with a judged live escalation, in report order.
OUTCOMES = ("avoids_false_alarm", "keeps_false_alarm", "misses_needed", "keeps_needed")
_DIFFERENCE_TEXT = {
    "only_live": "escalated by the live policy only",
    "only_shadow": "escalated by the shadow policy only",
    "earlier": "both, the shadow at an earlier turn",
    "later": "both, the shadow at a later turn",
    "queue": "both, to another queue",
    "priority": "both, at another priority",
    "reasons": "both, for other reasons",
}
_OUTCOME_TEXT = {
    "avoids_false_alarm": "false alarms the shadow would have avoided",
    "keeps_false_alarm": "false alarms the shadow would raise too",
    "misses_needed": "needed escalations the shadow would have missed",
    "keeps_needed": "needed escalations the shadow raises too",
}


def verdict_of(needed: int, false_alarms: int) -> Verdict:
    """The verdict of a conversation from the counts of its agents' verdicts."""
    if needed > false_alarms:
        return "needed"
    if false_alarms > needed:
        return "false_alarm"
    return "disputed" if needed else "none"


@dataclass(frozen=True)
class Escalation:
    """A policy's first escalation of a conversation."""

    turn: int
    queue: str
    priority: str
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "turn": self.turn,
            "queue": self.queue,
            "priority": self.priority,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class PairedConversation:
    """One conversation as the live and the shadow policy decided it."""

    conversation_id: str
    live: Escalation | None
    shadow: Escalation | None
    verdict: Verdict = "none"

    def differences(self) -> list[str]:
        """How the shadow's first escalation differs from the live one (:data:`DIFFERENCES`)."""
        live, shadow = self.live, self.shadow
        if live is None or shadow is None:
            if live is shadow:
                return []
            return ["only_live" if shadow is None else "only_shadow"]
        found = []
        if shadow.turn != live.turn:
            found.append("earlier" if shadow.turn < live.turn else "later")
        found += [
            name
            for name in ("queue", "priority", "reasons")
            if getattr(shadow, name) != getattr(live, name)
        ]
        return found

    def outcome(self) -> str | None:
        """What the shadow does with a judged live escalation (:data:`OUTCOMES`), or None."""
        if self.live is None or self.verdict not in ("needed", "false_alarm"):
            return None
        kept = self.shadow is not None
        if self.verdict == "false_alarm":
            return "keeps_false_alarm" if kept else "avoids_false_alarm"
        return "keeps_needed" if kept else "misses_needed"

    def as_json(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "conversation_id": self.conversation_id,
            "live": None if self.live is None else self.live.as_json(),
            "shadow": None if self.shadow is None else self.shadow.as_json(),
            "differences": self.differences(),
            "verdict": self.verdict,
            "outcome": self.outcome(),
        }


@dataclass(frozen=True)
class Comparison:
    """One tenant's conversations of ``[start, end)`` under the live and one shadow policy."""

    tenant: str
    start: float
    end: float
    shadow_version: str
    live_versions: tuple[str, ...]
    conversations: tuple[PairedConversation, ...]
    #: Other shadow versions that decided conversations of the window.
    other_shadow_versions: tuple[str, ...] = ()
    #: When the earliest turn the shadow version escalated on occurred, and how many
    #: conversations of the window began before it: the shadow worker may never
    #: have read those.
    shadow_first_turn_at: float | None = None
    began_before_shadow: int = 0

    def differing(self) -> list[PairedConversation]:
        """The conversations where the two policies differ, or a verdict says something."""
        return [c for c in self.conversations if c.differences() or c.outcome() is not None]

    def summary(self) -> dict[str, Any]:
        """The counts of conversations behind the report."""
        pairs = self.conversations
        differences = Counter(d for c in pairs for d in c.differences())
        outcomes = Counter(c.outcome() for c in pairs)
        later_needed = sum(
            1 for c in pairs if c.outcome() == "keeps_needed" and "later" in c.differences()
        )
        return {
            "conversations": len(pairs),
            "escalated_live": sum(1 for c in pairs if c.live is not None),
            "escalated_shadow": sum(1 for c in pairs if c.shadow is not None),
            "escalated_both": sum(1 for c in pairs if c.live is not None and c.shadow is not None),
            "differences": {name: differences[name] for name in DIFFERENCES},
            "against_verdicts": {name: outcomes[name] for name in OUTCOMES},
            "needed_but_later": later_needed,
            "live_escalations_without_verdict": sum(
                1 for c in pairs if c.live is not None and c.verdict in ("none", "disputed")
            ),
        }

    def as_json(self) -> dict[str, Any]:
        """Everything in the report, JSON-safe."""
        return {
            "tenant": self.tenant,
            "from": iso_seconds(self.start),
            "to": iso_seconds(self.end),
            "shadow_version": self.shadow_version,
            "other_shadow_versions": list(self.other_shadow_versions),
            "live_versions": list(self.live_versions),
            "shadow_first_turn_at": _iso_or_none(self.shadow_first_turn_at),
            "began_before_shadow": self.began_before_shadow,
            **self.summary(),
            "differing": [c.as_json() for c in self.differing()],
        }


def as_text(comparison: Comparison) -> str:
    """The comparison for a person reading a terminal."""
    c, s = comparison, comparison.summary()
    lines = [
        f"tenant {c.tenant}, {iso_seconds(c.start)} to {iso_seconds(c.end)}",
        f"live policy {', '.join(c.live_versions) or '-'}; shadow policy {c.shadow_version}",
        f"conversations: {s['conversations']} (first turn in the window); escalated by the "
        f"live policy {s['escalated_live']}, by the shadow {s['escalated_shadow']}, "
        f"by both {s['escalated_both']}",
    ]
    if c.other_shadow_versions:
        lines.append(
            f"other shadow versions in the window (--shadow-version): "
            f"{', '.join(c.other_shadow_versions)}"
        )
    if c.began_before_shadow and c.shadow_first_turn_at is not None:
        lines.append(
            f"note: {c.began_before_shadow} conversation(s) began before the shadow's earliest "
            f"escalation (a turn of {iso_seconds(c.shadow_first_turn_at)}); if the shadow worker "
            "was not running then, they count as not escalated by it"
        )
    lines += ["", f"{'where they differ':<50}{'conversations':>14}"]
    lines += [f"{_DIFFERENCE_TEXT[n]:<50}{s['differences'][n]:>14}" for n in DIFFERENCES]
    judged = "against agents' verdicts on live escalations"
    lines += ["", f"{judged:<50}{'conversations':>14}"]
    lines += [f"{_OUTCOME_TEXT[n]:<50}{s['against_verdicts'][n]:>14}" for n in OUTCOMES]
    lines += [
        f"{'  of which the shadow raises later':<50}{s['needed_but_later']:>14}",
        f"{'live escalations without a verdict (or disputed)':<50}"
        f"{s['live_escalations_without_verdict']:>14}",
        f"{'shadow-only escalations (never offered: unjudged)':<50}"
        f"{s['differences']['only_shadow']:>14}",
    ]
    differing = c.differing()
    if differing:
        lines += ["", "conversations (turn = customer message, 1 is the first):"]
        lines += [_conversation_line(p) for p in differing]
    return "\n".join(lines)


def _conversation_line(p: PairedConversation) -> str:
    said = "" if p.verdict == "none" else f"  verdict {p.verdict}"
    outcome = p.outcome()
    result = f" ({outcome.replace('_', ' ')})" if outcome else ""
    shown = ", ".join(p.differences()) or "same"
    return (
        f"{p.conversation_id}: live {_escalation(p.live)} | shadow {_escalation(p.shadow)}"
        f"  [{shown}]{said}{result}"
    )


def _escalation(e: Escalation | None) -> str:
    if e is None:
        return "not escalated"
    return f"turn {e.turn} {e.queue}/{e.priority} {','.join(e.reasons) or '-'}"


def _iso_or_none(stamp: float | None) -> str | None:
    return None if stamp is None else iso_seconds(stamp)
