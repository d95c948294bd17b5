"""``warmline model adapt``: fit the signal head to a tenant's own conversations.

Input: labelled conversations in the backtest's JSONL format (``gold_labels`` on
customer turns as GoEmotions label names or signal names, optionally
``gold_escalation_turn``). Conversations are split by a hash of their id: the
held-out part (``holdout``) is only measured; on the rest the head is fine-tuned
from the base bundle's (the project's training conversations ride along at a lower
weight, so the head does not forget what it knew) and recalibrated. The report
gives turn metrics and the backtest's escalation metrics on the held-out part,
before and after. The bundle records the data file's SHA-256 and counts, never
any text.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from warmline.decisioning.backtest import Conversation
from warmline.decisioning.backtest import read_conversations as read_replay
from warmline.decisioning.policy import Policy
from warmline.model import contact_center as cc
from warmline.model.contact_center_eval import evaluate
from warmline.model.engine import EmotionEngine
from warmline.model.signal_training import (
    FitConfig,
    SignalSet,
    calibrate,
    conversation_set,
    file_sha256,
    fit_head,
    load_signal_head,
    retune_thresholds,
    write_bundle,
)
from warmline.model.taxonomy import SIGNAL_GROUPS, SIGNALS
from warmline.v1 import events_pb2

Log = Callable[[str], None]
#: Too few labelled turns to fit and measure anything meaningful.
MIN_TURNS = 20
_ROLE = {events_pb2.ROLE_CUSTOMER: "customer", events_pb2.ROLE_BOT: "bot"}
_CHANNEL = {events_pb2.CHANNEL_EMAIL: "email", events_pb2.CHANNEL_VOICE: "voice"}


class AdaptError(ValueError):
    """The data cannot be adapted on (too little, or no labels); says why."""


def signals_of(labels: Sequence[str]) -> frozenset[str]:
    """Signal names from gold labels given as signal names or GoEmotions labels."""
    if all(label in SIGNALS for label in labels) and labels:
        return frozenset(labels)
    found = {name for name, members in SIGNAL_GROUPS.items() if set(members) & set(labels)}
    if found & cc.NEGATIVE_SIGNALS:
        found.add("negativity")
    found.discard("neutral")
    return frozenset(found or {"neutral"})


def as_cc(key: str, conversation: Conversation) -> cc.CCConversation:
    """A backtest conversation as a contact-center one (messages only)."""
    turns = []
    for event in conversation.events:
        if event.kind != events_pb2.EVENT_KIND_MESSAGE or not event.text:
            continue
        role = _ROLE.get(event.role, "agent")
        labels = conversation.gold_labels.get(event.event_id)
        signals = signals_of(labels) if role == "customer" and labels is not None else None
        turns.append(cc.CCTurn(role, event.text, signals))
    gold = conversation.gold_turn if isinstance(conversation.gold_turn, int) else None
    channel = (
        _CHANNEL.get(conversation.events[0].channel, "chat") if conversation.events else "chat"
    )
    return cc.CCConversation(
        key,
        channel,
        "tenant",
        tuple(turns),
        gold,
        conversation.gold_reason if gold is not None else None,
    )


def held_out(conversation_id: str, holdout: float, seed: int) -> bool:
    """Whether a conversation is in the held-out part (stable for a seed)."""
    digest = hashlib.sha256(f"{seed}:{conversation_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < holdout


def _labelled(conversations: Sequence[cc.CCConversation]) -> int:
    return sum(1 for _ in cc.labelled_turns(conversations))


def adapt(
    base_dir: Path,
    data_file: Path,
    out_dir: Path,
    policy: Policy,
    holdout: float = 0.3,
    seed: int = 13,
    log: Log = lambda _: None,
) -> dict[str, Any]:
    """Adapt ``base_dir``'s signal head on ``data_file``; write ``out_dir``; report."""
    replay = read_replay(data_file)
    conversations = [as_cc(key, c) for key, c in replay.items()]
    fit = [c for c in conversations if not held_out(c.id, holdout, seed)]
    rest = [c for c in conversations if held_out(c.id, holdout, seed)]
    if _labelled(conversations) < MIN_TURNS:
        raise AdaptError(
            f"{data_file}: {_labelled(conversations)} labelled customer turns; "
            f"adaptation needs at least {MIN_TURNS} (gold_labels on customer messages)"
        )
    if not _labelled(fit) or not _labelled(rest):
        raise AdaptError(f"{data_file}: too few conversations to hold {holdout:.0%} out")
    base = EmotionEngine(base_dir)
    if not base.card.signal_head_hidden:
        raise AdaptError(f"{base_dir}: the bundle has no signal head to adapt")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "replay.jsonl"
        before = evaluate(base, rest, policy, scratch)
        log(f"before: {json.dumps(before['turn'])}")
        tenant = conversation_set(base, fit, 2.0, 1.0)
        shipped = conversation_set(base, cc.read_conversations(cc.TRAIN_FILE), 0.5, 0.25)
        calibration = conversation_set(base, fit, 1.0, 0.0)
        config = FitConfig(epochs=15, lr=3e-4, seed=seed, hidden=base.card.signal_head_hidden)
        head = fit_head(
            SignalSet.join([tenant, shipped]),
            calibration,
            config,
            load_signal_head(base_dir, base.card.signal_head_hidden),
            log,
        )
        temperatures, thresholds = calibrate(head, calibration)
        digest = file_sha256(data_file)
        card = write_bundle(
            base_dir,
            out_dir,
            head,
            temperatures,
            thresholds,
            model_version=f"{base.model_version}-adapted-{digest[:8]}",
            adapted_from={
                "base_model_version": base.model_version,
                "data_sha256": digest,
                "conversations": len(conversations),
                "customer_turns_labelled": _labelled(conversations),
                "fit_conversations": len(fit),
                "held_out_conversations": len(rest),
                "seed": seed,
            },
        )
        # The head's thresholds were tuned on its own probabilities; the engine's
        # signals may blend in the lexical model, so tune them on what it emits.
        card = retune_thresholds(out_dir, fit)
        after = evaluate(EmotionEngine(out_dir), rest, policy, scratch)
    return {
        "model_version": card.model_version,
        "out": str(out_dir),
        "adapted_from": card.adapted_from,
        "before": {"turn": before["turn"], "escalation": before["escalation"]},
        "after": {"turn": after["turn"], "escalation": after["escalation"]},
    }
