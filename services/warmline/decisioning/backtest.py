"""``warmline backtest``: replay labelled conversations through the decision policy.

Input: the replay JSONL (one ``InteractionEvent`` a line, the proto's JSON
mapping), where lines may carry two extra keys, removed before parsing:

* ``gold_escalation_turn`` (on any line of a conversation): the 0-based index of
  the customer turn at which a person should have stepped in, or ``null`` when
  the conversation should not escalate. Conversations without it are replayed
  but not counted in the metrics.
* ``gold_reason`` (with ``gold_escalation_turn``, optional): the reason a person
  was needed; the report breaks recall and lateness down by it.
* ``gold_labels`` (on customer messages): GoEmotions label names or the seven
  signal names (not mixed). With ``--labels emotion`` they replace the model:
  each gold label or signal scores 1.0, the rest 0.0, so the policy is judged
  apart from the model. With ``--labels escalation`` (default) the emotion model
  scores the texts, each customer turn read with the turns before it (bot and
  agent turns included) exactly as the scoring service reads it.

The same ``apply_event`` the service runs decides, one conversation at a time,
with the events' own timestamps as the clock, so a backtest is reproducible.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from warmline.decisioning.decide import apply_event
from warmline.decisioning.policy import Policy
from warmline.decisioning.state import ConversationState, CustomerHistory
from warmline.model.taxonomy import LABELS, SIGNALS, TAXONOMY_VERSION, signals
from warmline.model.turns import Speaker, Turn, TurnScore
from warmline.scoring.convert import to_proto
from warmline.v1 import escalation_pb2, events_pb2, scoring_pb2

#: Reads turns in order, each in its conversation (a ContextualScorer's ``score``).
Scorer = Callable[[Sequence[Turn]], list[TurnScore]]
_NOT_GIVEN = object()


class BacktestInputError(ValueError):
    """The input file is malformed; the message names the line."""


@dataclass
class Conversation:
    """One labelled conversation of the input."""

    events: list[events_pb2.InteractionEvent] = field(default_factory=list)
    gold_labels: dict[str, list[str]] = field(default_factory=dict)
    gold_turn: object = _NOT_GIVEN
    gold_reason: str | None = None


@dataclass
class Outcome:
    """What the policy did with one conversation."""

    conversation_id: str
    gold_turn: int | None
    fired_turn: int | None
    negativity: list[float]
    reasons: list[str]
    gold_reason: str | None = None


def read_conversations(path: Path) -> dict[str, Conversation]:
    """Conversations of ``path`` in file order, with their gold annotations."""
    conversations: dict[str, Conversation] = defaultdict(Conversation)
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError(f"expected a JSON object (one event), not {type(raw).__name__}")
            gold_turn = raw.pop("gold_escalation_turn", _NOT_GIVEN)
            gold_labels = raw.pop("gold_labels", None)
            gold_reason = raw.pop("gold_reason", None)
            event = json_format.ParseDict(raw, events_pb2.InteractionEvent())
        except (ValueError, AttributeError, json_format.ParseError) as exc:
            raise BacktestInputError(f"{path}:{number}: {exc}") from exc
        if gold_turn is not _NOT_GIVEN and not (gold_turn is None or isinstance(gold_turn, int)):
            raise BacktestInputError(
                f"{path}:{number}: gold_escalation_turn must be an integer or null"
            )
        if gold_labels is not None and not (
            isinstance(gold_labels, list)
            and (
                all(label in LABELS for label in gold_labels)
                or all(label in SIGNALS for label in gold_labels)
            )
        ):
            raise BacktestInputError(
                f"{path}:{number}: gold_labels must be GoEmotions label names or signal names"
            )
        if gold_reason is not None and not isinstance(gold_reason, str):
            raise BacktestInputError(f"{path}:{number}: gold_reason must be a reason code")
        conversation = conversations[event.conversation_id]
        conversation.events.append(event)
        if gold_turn is not _NOT_GIVEN:
            conversation.gold_turn = gold_turn
        if gold_labels is not None:
            conversation.gold_labels[event.event_id] = gold_labels
        if gold_reason is not None:
            conversation.gold_reason = gold_reason
    return dict(conversations)


def gold_label_scores(labels: Sequence[str]) -> scoring_pb2.EmotionScores:
    """Scores that say exactly the gold labels (or signals), for judging the policy alone."""
    probs = {label: 1.0 if label in labels else 0.0 for label in LABELS}
    gold_signals = signals(probs)
    if labels and all(label in SIGNALS for label in labels):
        gold_signals = {name: 1.0 if name in labels else 0.0 for name in SIGNALS}
    return scoring_pb2.EmotionScores(
        status=scoring_pb2.SCORE_STATUS_SCORED,
        labels=probs,
        signals=scoring_pb2.Signals(**gold_signals),
        predicted_labels=list(labels),
        model_version="gold-labels",
        taxonomy_version=TAXONOMY_VERSION,
    )


def _is_customer_message(event: events_pb2.InteractionEvent) -> bool:
    return event.role == events_pb2.ROLE_CUSTOMER and event.kind == events_pb2.EVENT_KIND_MESSAGE


def _is_read(event: events_pb2.InteractionEvent) -> bool:
    """Messages the scorer reads: the customer's (scored), the bot's and agent's (context)."""
    return event.kind == events_pb2.EVENT_KIND_MESSAGE and (
        event.role == events_pb2.ROLE_CUSTOMER
        or (event.role in (events_pb2.ROLE_BOT, events_pb2.ROLE_AGENT) and bool(event.text))
    )


def model_scores(
    conversations: dict[str, Conversation], scorer: Scorer
) -> tuple[dict[str, scoring_pb2.EmotionScores], dict[str, scoring_pb2.ConversationContext]]:
    """Scores of every customer message and the context of every message read, by event id."""
    scores: dict[str, scoring_pb2.EmotionScores] = {}
    contexts: dict[str, scoring_pb2.ConversationContext] = {}
    for key, conversation in conversations.items():
        events = [e for e in conversation.events if _is_read(e)]
        turns = [
            Turn(
                e.text,
                Speaker.CUSTOMER if _is_customer_message(e) else Speaker.OTHER,
                f"backtest/{key}",
            )
            for e in events
        ]
        for event, read in zip(events, scorer(turns), strict=True):
            contexts[event.event_id] = scoring_pb2.ConversationContext(
                context_turns=read.context_turns, repeat_similarity=read.repeat_similarity
            )
            if read.result is not None:
                scores[event.event_id] = to_proto(read.result)
    return scores, contexts


def replay(
    conversation: Conversation,
    policy: Policy,
    scores: dict[str, scoring_pb2.EmotionScores],
    contexts: dict[str, scoring_pb2.ConversationContext] | None = None,
) -> Outcome:
    """Run one conversation through the policy."""
    state, history = ConversationState(), CustomerHistory()
    customer_turn, fired, negativity, reasons = -1, None, [], []
    for event in conversation.events:
        if not event.tenant_id:
            event.tenant_id = "backtest"
        scored = scoring_pb2.ScoredEvent(event=event)
        if contexts and event.event_id in contexts:
            scored.context.CopyFrom(contexts[event.event_id])
        if _is_customer_message(event):
            customer_turn += 1
            scored.scores.CopyFrom(scores[event.event_id])
            negativity.append(scored.scores.signals.negativity)
        now = (
            event.occurred_at.ToDatetime(tzinfo=UTC)
            if event.HasField("occurred_at")
            else datetime.now(UTC)
        )
        decision = apply_event(state, scored, policy, now, history)
        if (
            decision is not None
            and decision.action == escalation_pb2.DECISION_ACTION_ESCALATE
            and fired is None
        ):
            fired = max(customer_turn, 0)
            reasons = [r.code for r in decision.reasons]
    gold = conversation.gold_turn if isinstance(conversation.gold_turn, int) else None
    return Outcome(
        conversation.events[0].conversation_id,
        gold,
        fired,
        negativity,
        reasons,
        conversation.gold_reason,
    )


def run_backtest(
    conversations: dict[str, Conversation], policy: Policy, scorer: Scorer | None
) -> tuple[dict[str, Any], list[Outcome]]:
    """Metrics over the labelled conversations, and every conversation's outcome."""
    scores: dict[str, scoring_pb2.EmotionScores] = {}
    contexts: dict[str, scoring_pb2.ConversationContext] = {}
    if scorer is not None:
        scores, contexts = model_scores(conversations, scorer)
    else:
        for conversation in conversations.values():
            for event in filter(_is_customer_message, conversation.events):
                scores[event.event_id] = gold_label_scores(
                    conversation.gold_labels.get(event.event_id, [])
                )
    outcomes = [replay(c, policy, scores, contexts) for c in conversations.values()]
    labelled = [
        o
        for o, c in zip(outcomes, conversations.values(), strict=True)
        if c.gold_turn is not _NOT_GIVEN
    ]
    metrics: dict[str, Any] = {
        **escalation_metrics(outcomes, labelled),
        "conversations": len(outcomes),
        "labelled_conversations": len(labelled),
        "policy_version": policy.version,
        "labels": "escalation" if scorer is not None else "emotion",
    }
    by_reason = reason_recall(labelled)
    if by_reason:
        metrics["by_gold_reason"] = by_reason
    metrics["by_fired_reason"] = reason_precision(labelled)
    return metrics, outcomes


def escalation_metrics(outcomes: Sequence[Outcome], labelled: Sequence[Outcome]) -> dict[str, Any]:
    """Precision, recall and F1 over the ``labelled`` outcomes (escalated or not vs.
    the gold), median customer turns late of the escalations that should have
    happened, and alerts per 100 of all ``outcomes``."""
    tp = [o for o in labelled if o.fired_turn is not None and o.gold_turn is not None]
    fp = sum(1 for o in labelled if o.fired_turn is not None and o.gold_turn is None)
    fn = sum(1 for o in labelled if o.fired_turn is None and o.gold_turn is not None)
    precision = len(tp) / (len(tp) + fp) if tp or fp else 0.0
    recall = len(tp) / (len(tp) + fn) if tp or fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    late = [max(0, (o.fired_turn or 0) - (o.gold_turn or 0)) for o in tp]
    alerts = sum(1 for o in outcomes if o.fired_turn is not None)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "median_turns_late": statistics.median(late) if late else None,
        "alerts_per_100_conversations": round(100 * alerts / len(outcomes), 2) if outcomes else 0.0,
    }


def reason_precision(labelled: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Per first reason the policy gave: conversations it escalated, and the share
    that should have escalated."""
    found: dict[str, dict[str, Any]] = {}
    for reason in sorted({o.reasons[0] for o in labelled if o.reasons}):
        fired = [o for o in labelled if o.reasons and o.reasons[0] == reason]
        right = sum(1 for o in fired if o.gold_turn is not None)
        found[reason] = {"conversations": len(fired), "precision": round(right / len(fired), 4)}
    return found


def reason_recall(labelled: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Per gold reason: conversations, recall, median turns late, and how often the
    policy's first reason was that same reason."""
    found: dict[str, dict[str, Any]] = {}
    for reason in sorted({o.gold_reason for o in labelled if o.gold_reason}):
        mine = [o for o in labelled if o.gold_reason == reason and o.gold_turn is not None]
        hit = [o for o in mine if o.fired_turn is not None]
        late = [max(0, (o.fired_turn or 0) - (o.gold_turn or 0)) for o in hit]
        found[reason] = {
            "conversations": len(mine),
            "recall": round(len(hit) / len(mine), 4) if mine else 0.0,
            "median_turns_late": statistics.median(late) if late else None,
            "same_reason": round(sum(1 for o in hit if reason in o.reasons) / len(hit), 4)
            if hit
            else None,
        }
    return found
