"""Per-conversation and per-customer state, as plain JSON-safe data.

A conversation's state round-trips through ``to_dict``/``from_dict`` so a stream
table can store it as JSON; timestamps are epoch seconds (floats) for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

#: Customer turns kept on the trajectory that travels with a decision.
TRAJECTORY_LENGTH = 8
#: Customer messages a new one is compared with to spot a confusion loop.
RECENT_TEXTS = 3
#: Event ids remembered per conversation so an at-least-once replay is a no-op.
RECENT_EVENT_IDS = 64


@dataclass
class TrajectoryEntry:
    """One scored customer turn."""

    event_id: str
    occurred_at: float
    signals: dict[str, float]
    dominant_emotion: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrajectoryEntry:
        """Rebuild an entry from :func:`dataclasses.asdict` output.

        The signals are copied as they are: :meth:`to_dict` wrote them as floats and
        JSON keys are strings. Converting each value again was a tenth of the time
        to restore and apply an event when the state is decoded from the table
        (cold start, or beyond the store's cache of decoded states).
        """
        return cls(
            event_id=str(data["event_id"]),
            occurred_at=float(data["occurred_at"]),
            signals=dict(data["signals"]),
            dominant_emotion=str(data["dominant_emotion"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """What :func:`dataclasses.asdict` returns, built directly (it is on the hot path)."""
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "signals": dict(self.signals),
            "dominant_emotion": self.dominant_emotion,
        }


@dataclass
class ConversationState:
    """What decisioning remembers about one conversation between events."""

    tenant_id: str = ""
    conversation_id: str = ""
    customer_id: str = ""
    channel: int = 0
    customer_tier: int = 0
    ewma_negativity: float = 0.0
    negative_streak: int = 0
    # Consecutive scored turns with the EWMA under the de-escalation threshold.
    calm_streak: int = 0
    peaks: dict[str, float] = field(default_factory=dict)
    customer_turns: int = 0
    bot_turns: int = 0
    confusion_loops: int = 0
    explicit_request: bool = False
    sensitive_topics: set[str] = field(default_factory=set)
    # Situation (policy.SITUATION_NAMES) -> what showed it first: a phrase the
    # customer used, or the model's reading; drives the situation reasons.
    situations: dict[str, str] = field(default_factory=dict)
    # The bot's latest answer repeated its previous one.
    last_bot_repeated: bool = False
    # The customer said the conversation goes round in circles (the phrase).
    loop_complaint: str = ""
    # One customer turn was acutely distressed about a sensitive situation.
    acute_distress: float = 0.0
    abuse_seen: bool = False
    # Queue suggested by routing keywords in the customer's own words.
    keyword_queue: str = ""
    last_action: int = 0
    last_priority: int = 0
    last_queue: str = ""
    last_decision_id: str = ""
    # Customer turn of the last de-escalation, for the re-escalation cooldown.
    deescalated_at_turn: int = -1
    ended: bool = False
    trajectory: list[TrajectoryEntry] = field(default_factory=list)
    recent_texts: list[str] = field(default_factory=list)
    recent_event_ids: list[str] = field(default_factory=list)
    last_activity: float = 0.0
    # When this conversation first escalated (epoch s; 0: never). The customer's
    # history before that moment is "previous contacts"; after it, it is this one.
    escalated_at: float = 0.0
    last_customer_text: str = ""
    model_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; sets become sorted lists so output is deterministic.

        Built field by field rather than with :func:`dataclasses.asdict`, whose
        deep copy dominated the decisioning worker's time per event.
        """
        data = {f.name: getattr(self, f.name) for f in _STATE_FIELDS}
        data["peaks"] = dict(self.peaks)
        data["situations"] = dict(self.situations)
        data["sensitive_topics"] = sorted(self.sensitive_topics)
        data["trajectory"] = [entry.to_dict() for entry in self.trajectory]
        data["recent_texts"] = list(self.recent_texts)
        data["recent_event_ids"] = list(self.recent_event_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversationState:
        """Rebuild a state from :meth:`to_dict` output."""
        values = dict(data)
        values["sensitive_topics"] = set(values.get("sensitive_topics", ()))
        values["trajectory"] = [TrajectoryEntry.from_dict(p) for p in values.get("trajectory", ())]
        return cls(**values)

    def push_trajectory(self, entry: TrajectoryEntry) -> None:
        """Append a turn, keeping only the last :data:`TRAJECTORY_LENGTH`."""
        self.trajectory = [*self.trajectory, entry][-TRAJECTORY_LENGTH:]

    def push_text(self, text: str) -> None:
        """Remember a customer message for confusion-loop comparison."""
        self.recent_texts = [*self.recent_texts, text][-RECENT_TEXTS:]

    def seen(self, event_id: str) -> bool:
        """Record ``event_id``; True when it was already processed (a replay)."""
        if event_id in self.recent_event_ids:
            return True
        self.recent_event_ids = [*self.recent_event_ids, event_id][-RECENT_EVENT_IDS:]
        return False


_STATE_FIELDS = fields(ConversationState)


@dataclass
class CustomerHistory:
    """A customer's recent escalations and false alarms, as epoch seconds.

    The streaming app builds one from the shared history table for each event
    (:mod:`warmline.decisioning.history`); the backtest keeps one per conversation.
    """

    escalations: list[float] = field(default_factory=list)
    false_alarms: list[float] = field(default_factory=list)

    def prune(self, now: float, window_days: int) -> None:
        """Forget everything older than the window, so the table stays small."""
        cutoff = now - window_days * 86400
        self.escalations = [t for t in self.escalations if t >= cutoff]
        self.false_alarms = [t for t in self.false_alarms if t >= cutoff]

    def counts(self, now: float, window_days: int) -> tuple[int, int]:
        """Escalations and false alarms within the window ending at ``now``."""
        cutoff = now - window_days * 86400
        return (
            sum(1 for t in self.escalations if t >= cutoff),
            sum(1 for t in self.false_alarms if t >= cutoff),
        )
