"""From state to reasons, priority, queue and opening line, as the policy says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from warmline.decisioning.policy import TOPICS, OpeningLines, PolicyBody, Thresholds
from warmline.decisioning.state import ConversationState
from warmline.v1 import escalation_pb2, events_pb2

#: Order in which reasons are listed; the first one picks the opening line.
PRECEDENCE: tuple[str, ...] = (
    "acute_distress",
    "sensitive_topic",
    "vulnerability",
    "abuse",
    "explicit_request",
    "regulator_complaint",
    "churn_threat",
    "peak_anger",
    "confusion_loop",
    "negative_streak",
    "sustained_negativity",
    "repeat_contact",
)
#: Reasons that stay true for the rest of the conversation and so block de-escalation.
STICKY: frozenset[str] = frozenset(
    {
        "acute_distress",
        "sensitive_topic",
        "vulnerability",
        "abuse",
        "explicit_request",
        "regulator_complaint",
        "churn_threat",
    }
)
#: Reasons that only strengthen another; they never escalate on their own.
SUPPORTING: frozenset[str] = frozenset({"repeat_contact"})

_LEVELS: dict[str, int] = {
    "low": escalation_pb2.PRIORITY_LOW,
    "normal": escalation_pb2.PRIORITY_NORMAL,
    "high": escalation_pb2.PRIORITY_HIGH,
    "urgent": escalation_pb2.PRIORITY_URGENT,
}
_TIERS: dict[int, str] = {
    events_pb2.CUSTOMER_TIER_STANDARD: "standard",
    events_pb2.CUSTOMER_TIER_PREMIUM: "premium",
    events_pb2.CUSTOMER_TIER_VIP: "vip",
}


@dataclass(frozen=True)
class Finding:
    """One reason code with the sentence an agent reads."""

    code: str
    explanation: str


@dataclass(frozen=True)
class Turn:
    """What the current customer turn showed: its signals (empty if unscored) and repetition."""

    signals: Mapping[str, float]
    looped: bool
    #: The bot's answer before this turn repeated its previous one.
    after_bot_repeat: bool = False
    #: The message is written in capitals (:func:`detectors.shouting`).
    shouting: bool = False
    #: The word in which the customer says how angry they are (:func:`detectors.fury`),
    #: looked for only in a turn reading at least ``negative_turn_threshold``.
    fury: str | None = None


def reads_stuck(signals: Mapping[str, float], floor: float) -> bool:
    """The turn reads at least ``floor`` negative, confused or frustrated, or was not
    scored (nothing says it is calm): what makes a repeat, a loop complaint or a
    re-ask after the bot repeated itself count toward a loop."""
    if not signals:
        return True
    return (
        max(signals.get(name, 0.0) for name in ("negativity", "confusion", "frustration")) >= floor
    )


def evaluate(
    state: ConversationState, turn: Turn, policy: PolicyBody, prior_escalations: int
) -> list[Finding]:
    """Every reason that holds after ``turn``, in :data:`PRECEDENCE` order."""
    t = policy.thresholds
    found: list[Finding] = []
    situations = state.situations
    if state.acute_distress:
        found.append(
            Finding(
                "acute_distress",
                f"The customer is in acute distress (distress {state.acute_distress:.2f}) "
                "about a sensitive situation.",
            )
        )
    if state.sensitive_topics:
        topics = ", ".join(sorted(state.sensitive_topics))
        found.append(
            Finding("sensitive_topic", f"The customer raised a sensitive topic: {topics}.")
        )
    elif "sensitive" in situations:
        found.append(
            Finding(
                "sensitive_topic",
                "The customer's message reads as a sensitive situation (fraud or an "
                f"unauthorised payment, bereavement, health or safety): {situations['sensitive']}.",
            )
        )
    if "vulnerability" in situations:
        found.append(
            Finding(
                "vulnerability",
                f"The customer may be vulnerable: {situations['vulnerability']}.",
            )
        )
    if state.abuse_seen:
        found.append(
            Finding("abuse", "The customer used abusive language towards the agent or bot.")
        )
    if state.explicit_request:
        found.append(Finding("explicit_request", "The customer asked to speak with a person."))
    if "regulator_complaint" in situations:
        found.append(
            Finding(
                "regulator_complaint",
                "The customer mentioned a complaint to a regulator, ombudsman or the press: "
                f"{situations['regulator_complaint']}.",
            )
        )
    if "churn_threat" in situations:
        found.append(
            Finding(
                "churn_threat",
                f"The customer threatened to leave: {situations['churn_threat']}.",
            )
        )
    anger = turn.signals.get("anger", 0.0)
    negativity = turn.signals.get("negativity", 0.0)
    if anger >= t.peak_anger:
        found.append(
            Finding("peak_anger", f"The latest message reads as very angry (anger {anger:.2f}).")
        )
    elif turn.shouting and negativity >= t.negative_turn_threshold:
        # The encoder reads lower case: capitals are anger it cannot see. All 33
        # messages in capitals among the training conversations are labelled
        # negative (31 angry), in conversations that escalate.
        found.append(
            Finding(
                "peak_anger",
                f"The customer is shouting: the message is in capitals and reads negative "
                f"(negativity {negativity:.2f}).",
            )
        )
    elif turn.fury:
        found.append(
            Finding(
                "peak_anger",
                f"The customer said they are \u201c{turn.fury}\u201d (negativity {negativity:.2f}).",
            )
        )
    confusion = turn.signals.get("confusion", 0.0)
    if state.loop_complaint:
        found.append(
            Finding(
                "confusion_loop",
                f"The customer said the conversation is going nowhere: \u201c{state.loop_complaint}\u201d.",
            )
        )
    elif turn.after_bot_repeat and (turn.looped or reads_stuck(turn.signals, t.loop_signal)):
        # The bot gave the same answer twice: the customer asking again in any
        # words, or reading stuck, is the loop ("yes, but does 'all' include
        # night buses or not?"); a calm new question is not.
        found.append(
            Finding(
                "confusion_loop",
                "The bot keeps repeating the same answer and the customer asked again.",
            )
        )
    elif (
        turn.looped
        and state.confusion_loops >= t.confusion_loops
        and reads_stuck(turn.signals, t.loop_signal)
    ):
        found.append(
            Finding(
                "confusion_loop",
                f"The customer has repeated themselves {state.confusion_loops} times without getting anywhere.",
            )
        )
    elif state.bot_turns >= t.bot_turns and confusion >= t.confusion_signal:
        found.append(
            Finding(
                "confusion_loop",
                f"The bot has replied {state.bot_turns} times and the customer is still confused.",
            )
        )
    elif _confused_throughout(state, t):
        found.append(
            Finding(
                "confusion_loop",
                f"The customer's last {t.confused_turns} messages all read confused: "
                "the answers are not landing.",
            )
        )
    if turn.signals and state.negative_streak >= t.streak_length:
        found.append(
            Finding(
                "negative_streak",
                f"The last {state.negative_streak} customer messages were all negative.",
            )
        )
    elif turn.signals and (building := _upset_building(state, t)):
        readings = ", then ".join(f"{value:.2f}" for value in building)
        found.append(
            Finding(
                "negative_streak",
                f"The last {len(building)} customer messages read more and more upset "
                f"(negativity {readings}).",
            )
        )
    if turn.signals and state.ewma_negativity >= t.negativity_threshold:
        found.append(
            Finding(
                "sustained_negativity",
                f"Negativity has stayed high across recent messages (weighted average "
                f"{state.ewma_negativity:.2f}, threshold {t.negativity_threshold:.2f}).",
            )
        )
    elif turn.signals and _upset_came_back(state, turn, t):
        found.append(
            Finding(
                "sustained_negativity",
                "The customer's upset came back: two of their last three messages were "
                "negative, with a calm answer between them.",
            )
        )
    if found and prior_escalations >= policy.priority.repeat_contact_min:
        found.append(
            Finding(
                "repeat_contact",
                f"This customer was escalated {prior_escalations} time(s) in the last "
                f"{policy.history_window_days} days.",
            )
        )
    return found


def _upset_building(state: ConversationState, t: Thresholds) -> list[float]:
    """The negativity of the last ``streak_length`` scored customer turns when all read at
    most ``streak_lead_in_margin`` under ``negative_turn_threshold`` and one at least
    ``streak_peak_margin`` over it (else empty): a dry first complaint just under the
    line, then a plainly upset one."""
    recent = [
        entry.signals.get("negativity", 0.0) for entry in state.trajectory[-t.streak_length :]
    ]
    line = t.negative_turn_threshold
    if len(recent) < t.streak_length or min(recent) < line - t.streak_lead_in_margin:
        return []
    return recent if max(recent) >= line + t.streak_peak_margin else []


def _confused_throughout(state: ConversationState, t: Thresholds) -> bool:
    """The last ``confused_turns`` scored customer turns all read confused."""
    recent = state.trajectory[-t.confused_turns :]
    return len(recent) == t.confused_turns and all(
        entry.signals.get("confusion", 0.0) >= t.confusion_signal for entry in recent
    )


def _upset_came_back(state: ConversationState, turn: Turn, t: Thresholds) -> bool:
    """Negative, calm, negative over the last three scored customer turns, the latest
    not a thank-you: the customer answered the bot's question flatly ("Season
    ticket, monthly.") between two upset messages, which breaks the streak and
    keeps the weighted average under its threshold. A grudging thanks at the end
    ("thanks for sorting it, bit annoying though") is the conversation winding down."""
    recent = [entry.signals.get("negativity", 0.0) for entry in state.trajectory[-3:]]
    negative = [value >= t.negative_turn_threshold for value in recent]
    return (
        negative == [True, False, True] and turn.signals.get("gratitude", 0.0) < t.thanks_gratitude
    )


def may_deescalate(state: ConversationState, policy: PolicyBody) -> bool:
    """True once negativity stayed under the lower threshold long enough and nothing sticky holds."""
    sticky = (
        state.explicit_request
        or state.abuse_seen
        or bool(state.sensitive_topics)
        or bool(state.situations)
        or bool(state.acute_distress)
    )
    return not sticky and state.calm_streak >= policy.hysteresis.deescalate_turns


def priority(
    findings: Sequence[Finding], state: ConversationState, policy: PolicyBody, false_alarms: int
) -> int:
    """The ``Priority`` enum value for ``findings``, tier and history, within LOW..URGENT."""
    rules = policy.priority
    codes = {f.code for f in findings}
    level: int = max(_LEVELS[rules.reasons.get(code, "normal")] for code in codes)
    for topic in state.sensitive_topics:
        if topic in rules.topics:
            level = max(level, _LEVELS[rules.topics[topic]])
    level += rules.tier_boost.get(_TIERS.get(state.customer_tier, "standard"), 0)
    if "repeat_contact" in codes:
        level += rules.repeat_contact_boost
    # A customer whose escalations were often false alarms gets less weight, but
    # only for emotion-based reasons: a request for a person is always honoured.
    if false_alarms >= rules.false_alarm_min and not codes & STICKY:
        level -= rules.false_alarm_dampen
    return max(_LEVELS["low"], min(_LEVELS["urgent"], level))


def route(findings: Sequence[Finding], state: ConversationState, policy: PolicyBody) -> str:
    """The queue: sensitive topic first, then a reason's queue, then keywords, then the default."""
    routing = policy.routing
    topics = [t for t in TOPICS if t in state.sensitive_topics and t in routing.topics]
    if topics:
        # The most urgent topic decides; ties go to the order of TOPICS.
        ranked = sorted(topics, key=lambda t: -_LEVELS[policy.priority.topics.get(t, "high")])
        return routing.topics[ranked[0]]
    for finding in findings:
        if finding.code in routing.reasons:
            return routing.reasons[finding.code]
    return state.keyword_queue or routing.default_queue


def opening_line(reason: str, emotion: str, lines: OpeningLines) -> str:
    """The template for (reason, emotion), falling back through wildcards to the default."""
    for key_reason, key_emotion in ((reason, emotion), (reason, "*"), ("*", emotion)):
        line = lines.templates.get(key_reason, {}).get(key_emotion)
        if line:
            return line
    return lines.default
