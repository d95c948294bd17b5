"""Apply one scored event to a conversation's state and decide whether to hand over.

The function is pure apart from mutating the state objects it is given, and takes
the clock as an argument, so replaying the same events with the same policy and
the same ``now`` values reproduces the same decisions, ids included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from warmline.common.keys import derived_id
from warmline.decisioning import detectors, rules
from warmline.decisioning.policy import Policy, PolicyBody, Thresholds
from warmline.decisioning.rules import Finding, Turn
from warmline.decisioning.state import ConversationState, CustomerHistory, TrajectoryEntry
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

Decision = escalation_pb2.EscalationDecision
_ESCALATED = (escalation_pb2.DECISION_ACTION_ESCALATE, escalation_pb2.DECISION_ACTION_UPDATE)
_ENDINGS = (events_pb2.EVENT_KIND_CONVERSATION_ENDED, events_pb2.EVENT_KIND_HANDOFF_COMPLETED)
_SIGNAL_NAMES = tuple(f.name for f in scoring_pb2.Signals.DESCRIPTOR.fields)
_Key = TypeVar("_Key")


def apply_event(
    state: ConversationState,
    scored: scoring_pb2.ScoredEvent,
    policy: Policy,
    now: datetime,
    history: CustomerHistory | None = None,
) -> Decision | None:
    """Update ``state`` (and ``history`` on escalation) from ``scored``; the decision, if any.

    ``now`` must be timezone-aware; it stamps ``decided_at`` and the idle clock.

    Events must arrive in conversation order. A replayed event id is ignored, and
    nothing happens after the conversation ended.
    """
    event = scored.event
    if state.ended or state.seen(event.event_id):
        return None
    body = policy.for_tenant(event.tenant_id)
    _identify(state, event)
    state.last_activity = now.timestamp()
    if event.kind in _ENDINGS:
        state.ended = True
        if state.last_action not in _ESCALATED:
            return None
        return _emit(
            state,
            scored,
            policy,
            body,
            now,
            escalation_pb2.DECISION_ACTION_RESOLVED,
            state.last_priority,
            state.last_queue,
            [],
            history,
        )
    if event.kind != events_pb2.EVENT_KIND_MESSAGE:
        return None
    if event.role == events_pb2.ROLE_BOT:
        state.bot_turns += 1
        state.last_bot_repeated = (
            scored.context.repeat_similarity >= body.thresholds.bot_repeat
            and scored.context.context_turns > 0
        )
        return None
    # Agent and system messages are never read for emotion: only the customer's are.
    if event.role != events_pb2.ROLE_CUSTOMER:
        return None
    turn = _observe_customer(state, scored, body)
    return _decide(state, turn, scored, policy, body, now, history)


def idle_keys(last_activity: Mapping[_Key, float], now: datetime, ttl: timedelta) -> list[_Key]:
    """The conversations (by their states' ``last_activity``) idle for longer than ``ttl``."""
    cutoff = (now - ttl).timestamp()
    return [key for key, last in last_activity.items() if last < cutoff]


def dominant_emotion(labels: Mapping[str, float]) -> str:
    """The most probable label other than neutral ("" without labels); ties by name."""
    # By key: a protobuf map's ``items()`` is the slow generic mapping view.
    best, best_p = "", -1.0
    for name in labels:
        p = labels[name]
        if (p > best_p or (p == best_p and name < best)) and name != "neutral":
            best, best_p = name, p
    return best


def trajectory_signals(signals: Mapping[str, float]) -> dict[str, float]:
    """A turn's signals as its trajectory entry keeps them: 6 decimals, zeros left out.

    The entry is rewritten to the changelog with every event of the conversation;
    the model's float32 noise digits and zeros (the proto's default, restored as
    0 when the decision is built) took half of a state's bytes.
    """
    return {name: round(value, 6) for name, value in signals.items() if value}


def _identify(state: ConversationState, event: events_pb2.InteractionEvent) -> None:
    state.tenant_id = state.tenant_id or event.tenant_id
    state.conversation_id = state.conversation_id or event.conversation_id
    state.customer_id = state.customer_id or event.customer_id
    state.channel = state.channel or event.channel
    # The tier can be upgraded mid-conversation; keep the latest known one.
    state.customer_tier = event.customer_tier or state.customer_tier


def _observe_customer(
    state: ConversationState, scored: scoring_pb2.ScoredEvent, policy: PolicyBody
) -> Turn:
    event = scored.event
    text = event.text
    thresholds = policy.thresholds
    signals = _scored_signals(scored)
    state.customer_turns += 1
    state.last_customer_text = text
    state.explicit_request |= detectors.explicit_human_request(text) is not None
    thanks = _reads_as_thanks(scored, thresholds)
    if not thanks and (topics := detectors.sensitive_topics(text)):
        floor = thresholds.sensitive_signal
        if not _reads_troubled(scored, floor):
            # Told calmly: what a person takes however it is told (a first notice of
            # a death, a fraud, a gas smell; never a death already dealt with, which
            # the model reads as sensitive like every death), and the other topics
            # only when the model reads the meaning as sensitive too: "do I need to
            # tell my travel insurer about a hospital stay?" is a question.
            kept = detectors.always_sensitive(text, topics)
            if _means_sensitive(scored, floor):
                kept |= topics - detectors.ALWAYS_SENSITIVE_TOPICS
            topics = kept
        elif (
            "bereavement" in topics
            and not _reads_troubled(scored, thresholds.negative_turn_threshold)
            and detectors.death_follow_up(text)
        ):
            # A death already dealt with, in a message that reads a little sad
            # but not upset, is still a follow-up the bot can answer.
            topics = topics - {"bereavement"}
        state.sensitive_topics |= topics
    state.abuse_seen |= bool(detectors.abuse(text))
    looped = detectors.near_duplicate(text, state.recent_texts, thresholds.similarity) or (
        scored.context.repeat_similarity >= thresholds.semantic_repeat
        and detectors.shares_subject(text, state.recent_texts)
    )
    state.confusion_loops += int(looped)
    # Like a repeat, a loop complaint counts in a turn reading stuck: "we're back to
    # the shop tomorrow" said calmly is not "we're back to the app I don't have".
    if (
        not state.loop_complaint
        and (complaint := detectors.loop_complaint(text))
        and rules.reads_stuck(signals, thresholds.loop_signal)
    ):
        state.loop_complaint = complaint
    if not thanks:
        _observe_phrases(
            state, scored, text, thresholds.vulnerability_signal, thresholds.negative_turn_threshold
        )
    state.push_text(text)
    state.keyword_queue = policy.routing.keyword_queue(text) or state.keyword_queue
    scores = scored.scores
    after_bot_repeat = state.last_bot_repeated
    if not signals:
        return Turn(signals={}, looped=looped, after_bot_repeat=after_bot_repeat)
    shouting = detectors.shouting(text)
    negativity = signals["negativity"]
    # Said fury counts only in a negative turn (rules.peak_anger): look only there.
    is_negative = negativity >= thresholds.negative_turn_threshold
    _observe_situations(state, scored, text, negativity, policy)
    alpha = thresholds.ewma_alpha
    state.ewma_negativity = alpha * negativity + (1 - alpha) * state.ewma_negativity
    state.negative_streak = state.negative_streak + 1 if is_negative else 0
    is_calm = state.ewma_negativity < policy.hysteresis.deescalate_below
    state.calm_streak = state.calm_streak + 1 if is_calm else 0
    for name, value in signals.items():
        state.peaks[name] = max(state.peaks.get(name, 0.0), value)
    state.model_version = scores.model_version or state.model_version
    state.push_trajectory(
        TrajectoryEntry(
            event_id=event.event_id,
            occurred_at=_seconds(event.occurred_at),
            signals=trajectory_signals(signals),
            dominant_emotion=dominant_emotion(scores.labels),
        )
    )
    return Turn(
        signals=signals,
        looped=looped,
        after_bot_repeat=after_bot_repeat,
        shouting=shouting,
        fury=detectors.fury(text) if is_negative else None,
    )


def _scored_signals(scored: scoring_pb2.ScoredEvent) -> dict[str, float]:
    """The turn's signals by name; empty when the turn was not scored."""
    scores = scored.scores
    if not scored.HasField("scores") or scores.status != scoring_pb2.SCORE_STATUS_SCORED:
        return {}
    return {name: getattr(scores.signals, name) for name in _SIGNAL_NAMES}


def _reads_as_thanks(scored: scoring_pb2.ScoredEvent, thresholds: Thresholds) -> bool:
    """A scored turn reading as thanks and not upset: its words raise no situation
    (the customer thanking the bereavement team is not telling of a new death)."""
    scores = scored.scores
    if not scored.HasField("scores") or scores.status != scoring_pb2.SCORE_STATUS_SCORED:
        return False
    signals = scores.signals
    return (
        signals.gratitude >= thresholds.thanks_gratitude
        and signals.negativity < thresholds.negative_turn_threshold
    )


def _reads_troubled(scored: scoring_pb2.ScoredEvent, floor: float) -> bool:
    """The turn reads at least ``floor`` negative or distressed, or was not scored
    (nothing says it is calm)."""
    scores = scored.scores
    if not scored.HasField("scores") or scores.status != scoring_pb2.SCORE_STATUS_SCORED:
        return True
    return scores.signals.negativity >= floor or scores.signals.distress >= floor


def _means_sensitive(scored: scoring_pb2.ScoredEvent, floor: float) -> bool:
    """The model reads the message's meaning at least ``floor`` sensitive."""
    scores = scored.scores
    return scores.HasField("situations") and scores.situations.sensitive >= floor


def _quoted(phrase: str) -> str:
    return f"\u201c{phrase}\u201d"


def _observe_phrases(
    state: ConversationState,
    scored: scoring_pb2.ScoredEvent,
    text: str,
    troubled_floor: float,
    negative_floor: float,
) -> None:
    """Situations the customer's words show on their own (the precise first pass).

    A vulnerability phrase, or a formal complaint, counts only in a turn reading at
    least ``troubled_floor`` troubled: "can I get my bills in Braille?" and "how do
    I make a formal complaint?" are questions the bot answers; "my dad's 91, alone,
    and his line is dead" is not. A regulator named counts however it is told, unless
    it follows up, not upset (``negative_floor``), a case the regulator already decided."""
    situations = state.situations
    # The reading first: it is a field, the phrases are regular expressions.
    troubled = _reads_troubled(scored, troubled_floor)
    upset = _reads_troubled(scored, negative_floor)
    if "vulnerability" not in situations and troubled and (phrase := detectors.vulnerability(text)):
        situations["vulnerability"] = f"they said {_quoted(phrase)}"
    if "regulator_complaint" not in situations and (
        # "just checking the ombudsman's award has gone on"
        (
            (phrase := detectors.regulator_complaint(text))
            and (upset or not detectors.regulator_decided(text))
        )
        or (troubled and (phrase := detectors.formal_complaint(text)))
    ):
        situations["regulator_complaint"] = f"they said {_quoted(phrase)}"


#: The model's situation readings a pet's death, a follow-up about a death or a
#: fraud enquiry set aside (:func:`_observe_situations`).
_READINGS_SET_ASIDE = frozenset({"sensitive", "vulnerability"})


def _observe_situations(
    state: ConversationState,
    scored: scoring_pb2.ScoredEvent,
    text: str,
    negativity: float,
    policy: PolicyBody,
) -> None:
    """Situations read from the message's meaning, churn threats, and acute distress."""
    scores = scored.scores
    thresholds = policy.thresholds
    situations = state.situations
    read = scores.situations if scores.HasField("situations") else None
    for name, threshold in thresholds.situations.items():
        p = getattr(read, name) if read is not None else 0.0
        if p >= threshold and name not in situations:
            # A pet's death, or told without upset a death that is no first notice
            # or a question on guarding against fraud, reads sad or worried, but the
            # guide leaves it to the bot: the model's sense of a sensitive or
            # vulnerable situation does not count there unless a sensitive topic
            # was named too.
            if (
                name in _READINGS_SET_ASIDE
                and not state.sensitive_topics
                and (
                    detectors.pet_death(text)
                    or (
                        not _reads_troubled(scored, thresholds.negative_turn_threshold)
                        and (detectors.death_follow_up(text) or detectors.fraud_enquiry(text))
                    )
                )
            ):
                continue
            # "Nothing wrong with your service, we're moving": a planned move.
            if name == "churn_threat" and detectors.no_grievance(text):
                continue
            situations[name] = f"the message reads that way (model {p:.2f})"
    # A churn phrase counts only in an upset turn: "I'm cancelling, I'm moving
    # abroad" is a calm, planned cancellation, not a threat.
    if "churn_threat" not in situations and negativity >= thresholds.negative_turn_threshold:
        phrase = detectors.churn_threat(text)
        if phrase and not detectors.no_grievance(text):
            situations["churn_threat"] = f"they said {_quoted(phrase)}"
    distress = scores.signals.distress
    delicate = state.sensitive_topics or "sensitive" in situations or "vulnerability" in situations
    if delicate and distress >= thresholds.acute_distress:
        state.acute_distress = max(state.acute_distress, round(distress, 2))


def _decide(
    state: ConversationState,
    turn: Turn,
    scored: scoring_pb2.ScoredEvent,
    policy: Policy,
    body: PolicyBody,
    now: datetime,
    history: CustomerHistory | None,
) -> Decision | None:
    escalations, false_alarms = _counts(history, state, now, body)
    findings = rules.evaluate(state, turn, body, escalations)
    triggers = [f for f in findings if f.code not in rules.SUPPORTING]
    if state.last_action in _ESCALATED:
        if triggers:
            level = rules.priority(findings, state, body, false_alarms)
            # Same or lower priority: the agent already has it; say nothing.
            if level <= state.last_priority:
                return None
            action = escalation_pb2.DECISION_ACTION_UPDATE
        elif rules.may_deescalate(state, body):
            return _emit(
                state,
                scored,
                policy,
                body,
                now,
                escalation_pb2.DECISION_ACTION_DEESCALATE,
                state.last_priority,
                state.last_queue,
                [],
                history,
            )
        else:
            return None
    elif triggers:
        level = rules.priority(findings, state, body, false_alarms)
        if _cooling_down(state, body) and level <= state.last_priority:
            return None
        action = escalation_pb2.DECISION_ACTION_ESCALATE
    else:
        return None
    queue = rules.route(findings, state, body)
    decision = _emit(state, scored, policy, body, now, action, level, queue, findings, history)
    if action == escalation_pb2.DECISION_ACTION_ESCALATE and not state.escalated_at:
        state.escalated_at = now.timestamp()
    if action == escalation_pb2.DECISION_ACTION_ESCALATE and history is not None:
        history.escalations.append(now.timestamp())
        history.prune(now.timestamp(), body.history_window_days)
    return decision


def _cooling_down(state: ConversationState, policy: PolicyBody) -> bool:
    if state.last_action != escalation_pb2.DECISION_ACTION_DEESCALATE:
        return False
    since = state.customer_turns - state.deescalated_at_turn
    return since < policy.hysteresis.reescalate_cooldown_turns


def _counts(
    history: CustomerHistory | None, state: ConversationState, now: datetime, policy: PolicyBody
) -> tuple[int, int]:
    """Previous escalations and false alarms of the customer, not counting this conversation's."""
    if history is None:
        return 0, 0
    escalations, false_alarms = history.counts(now.timestamp(), policy.history_window_days)
    if state.escalated_at:
        escalations -= sum(1 for t in history.escalations if t >= state.escalated_at)
    return max(0, escalations), false_alarms


def _emit(
    state: ConversationState,
    scored: scoring_pb2.ScoredEvent,
    policy: Policy,
    body: PolicyBody,
    now: datetime,
    action: escalation_pb2.DecisionAction.ValueType,
    level: int,
    queue: str,
    findings: Sequence[Finding],
    history: CustomerHistory | None,
) -> Decision:
    event = scored.event
    decision_id = derived_id(state.tenant_id, state.conversation_id, event.event_id, policy.version)
    state.last_action = action
    state.last_priority = level
    state.last_queue = queue
    state.last_decision_id = decision_id
    if action == escalation_pb2.DECISION_ACTION_DEESCALATE:
        state.deescalated_at_turn = state.customer_turns
    emotion = state.trajectory[-1].dominant_emotion if state.trajectory else ""
    opening = ""
    if action in _ESCALATED and findings:
        opening = rules.opening_line(findings[0].code, emotion, body.opening_lines)
    escalations, false_alarms = _counts(history, state, now, body)
    spans = detectors.abuse(state.last_customer_text)
    decided_at = Timestamp()
    decided_at.FromDatetime(now)
    return Decision(
        decision_id=decision_id,
        tenant_id=state.tenant_id,
        conversation_id=state.conversation_id,
        customer_id=state.customer_id,
        action=action,
        queue=queue,
        priority=escalation_pb2.Priority.ValueType(level),
        reasons=[escalation_pb2.Reason(code=f.code, explanation=f.explanation) for f in findings],
        trajectory=[_point(p) for p in state.trajectory],
        dominant_emotion=emotion,
        opening_line=opening,
        customer_history=escalation_pb2.CustomerHistory(
            escalations_in_window=escalations,
            false_alarms_in_window=false_alarms,
            window_days=body.history_window_days,
        ),
        policy_version=policy.version,
        model_version=scored.scores.model_version or state.model_version,
        trigger_event_id=event.event_id,
        timings=escalation_pb2.DecisionTimings(
            occurred_at=event.occurred_at,
            ingested_at=event.ingested_at,
            scored_at=scored.scored_at,
            decided_at=decided_at,
        ),
        last_customer_text=detectors.mask(state.last_customer_text, spans),
        unmasked_customer_text=state.last_customer_text if spans else "",
        abusive=state.abuse_seen,
        shadow=body.shadow,
        channel=events_pb2.Channel.ValueType(state.channel),
        customer_tier=events_pb2.CustomerTier.ValueType(state.customer_tier),
    )


def _point(entry: TrajectoryEntry) -> escalation_pb2.TrajectoryPoint:
    occurred = Timestamp()
    occurred.FromMicroseconds(round(entry.occurred_at * 1_000_000))
    return escalation_pb2.TrajectoryPoint(
        event_id=entry.event_id,
        occurred_at=occurred,
        signals=scoring_pb2.Signals(**entry.signals),
        dominant_emotion=entry.dominant_emotion,
    )


def _seconds(stamp: Timestamp) -> float:
    # Timestamp.ToDatetime() is naive, and .timestamp() would read it as local time.
    return stamp.seconds + stamp.nanos / 1e9
