"""Warmline's own contact-center data: reading, checking, splitting, converting.

The data and its guide live in ``contact_center/`` beside this module (see its
``LABELLING.md``, licence CC BY 4.0). A conversation is one JSON line with its
turns, the signals of each customer turn (training data, and the evaluation set
once both labellings are resolved), the gold escalation turn (0-based, counting
customer turns) and the gold reason.

Evaluation conversations carry ``"split": "dev"`` or ``"split": "test"``. The test
part is for reporting only: no training, threshold, temperature or rule choice may
read it. Code that fits anything takes :func:`fitting_part`, which refuses it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from warmline.model.taxonomy import SIGNALS
from warmline.model.turns import Speaker, Turn

DATA_DIR = Path(__file__).with_name("contact_center")
EVAL_FILE = DATA_DIR / "eval_conversations.jsonl"
TRAIN_FILE = DATA_DIR / "train_conversations.jsonl"

CHANNELS = ("chat", "email", "voice")
ROLES = ("customer", "bot", "agent")
#: Signals that force ``negativity`` (the guide's consistency rule).
NEGATIVE_SIGNALS = frozenset({"frustration", "anger", "distress"})
#: Escalation reasons a gold annotation may name (the policy's reason codes).
GOLD_REASONS = (
    "explicit_request",
    "abuse",
    "sensitive_topic",
    "vulnerability",
    "acute_distress",
    "churn_threat",
    "regulator_complaint",
    "confusion_loop",
    "peak_anger",
    "negative_streak",
    "sustained_negativity",
)
_CHANNEL_ENUM = {"chat": "CHANNEL_CHAT", "email": "CHANNEL_EMAIL", "voice": "CHANNEL_VOICE"}
_ROLE_ENUM = {"customer": "ROLE_CUSTOMER", "bot": "ROLE_BOT", "agent": "ROLE_AGENT"}


class Part(StrEnum):
    """The evaluation set's parts: ``dev`` for calibration, ``test`` for reporting."""

    dev = "dev"
    test = "test"


class DataError(ValueError):
    """A record breaks the format or the guide's rules; the message names it."""


@dataclass(frozen=True)
class CCTurn:
    """One turn; ``signals`` is None where the turn is unlabelled (bot/agent turns)."""

    role: str
    text: str
    signals: frozenset[str] | None = None


@dataclass(frozen=True)
class CCConversation:
    """One conversation of the set."""

    id: str
    channel: str
    intent: str
    turns: tuple[CCTurn, ...]
    gold_escalation_turn: int | None
    gold_reason: str | None
    split: str = ""
    tags: tuple[str, ...] = field(default=())

    @property
    def customer_turns(self) -> list[CCTurn]:
        """The customer's turns, in order (gold turn indices count these)."""
        return [turn for turn in self.turns if turn.role == "customer"]


def check_signals(signals: Sequence[str], where: str) -> frozenset[str]:
    """The signal set, checked against the guide's names and consistency rules."""
    found = frozenset(signals)
    unknown = found - set(SIGNALS)
    if unknown:
        raise DataError(f"{where}: unknown signal(s) {sorted(unknown)}; known: {list(SIGNALS)}")
    if found & NEGATIVE_SIGNALS and "negativity" not in found:
        raise DataError(f"{where}: frustration, anger or distress without negativity")
    if ("neutral" in found) == bool(found - {"neutral"}):
        raise DataError(f"{where}: neutral must be set exactly when no other signal is")
    return found


def parse_conversation(raw: dict[str, Any], where: str) -> CCConversation:
    """One record, checked."""
    try:
        ident, channel, intent = str(raw["id"]), raw["channel"], str(raw["intent"])
        raw_turns = raw["turns"]
        gold_turn, reason = raw["gold_escalation_turn"], raw["gold_reason"]
    except KeyError as exc:
        raise DataError(f"{where}: missing field {exc.args[0]!r}") from exc
    if channel not in CHANNELS:
        raise DataError(f"{where}: channel {channel!r}; known: {list(CHANNELS)}")
    turns: list[CCTurn] = []
    for n, turn in enumerate(raw_turns):
        role, text = turn.get("role"), turn.get("text")
        if role not in ROLES or not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}: turn {n} needs a role in {list(ROLES)} and a text")
        labels = turn.get("signals")
        signals = None
        if labels is not None:
            signals = check_signals(labels, f"{where}: turn {n}")
        turns.append(CCTurn(role, text, signals))
    customers = sum(1 for t in turns if t.role == "customer")
    if customers == 0:
        raise DataError(f"{where}: no customer turn")
    if gold_turn is not None and not (isinstance(gold_turn, int) and 0 <= gold_turn < customers):
        raise DataError(f"{where}: gold_escalation_turn {gold_turn!r} is not a customer turn index")
    if (gold_turn is None) != (reason is None) or (
        reason is not None and reason not in GOLD_REASONS
    ):
        raise DataError(
            f"{where}: gold_reason {reason!r} must name a reason exactly when escalating"
        )
    return CCConversation(
        ident,
        channel,
        intent,
        tuple(turns),
        gold_turn,
        reason,
        str(raw.get("split", "")),
        tuple(raw.get("tags", ())),
    )


def read_conversations(path: Path) -> list[CCConversation]:
    """Every conversation of a JSONL file, checked; ids must be unique."""
    conversations: list[CCConversation] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise DataError(f"{where}: a conversation must be a JSON object")
        conversation = parse_conversation(raw, where)
        if conversation.id in seen:
            raise DataError(f"{where}: duplicate id {conversation.id!r}")
        seen.add(conversation.id)
        conversations.append(conversation)
    return conversations


def split_of(conversation_id: str) -> str:
    """``dev`` or ``test`` from a hash of the id: stable, and independent of content."""
    digest = hashlib.sha256(conversation_id.encode()).digest()
    return "test" if digest[0] % 2 else "dev"


def fitting_part(conversations: Sequence[CCConversation]) -> list[CCConversation]:
    """The conversations anything may be fitted on: never the evaluation's test part."""
    return [c for c in conversations if c.split != "test"]


def part(conversations: Sequence[CCConversation], name: str) -> list[CCConversation]:
    """The conversations of one split (``dev`` or ``test``)."""
    return [c for c in conversations if c.split == name]


def turns_of(conversation: CCConversation) -> list[Turn]:
    """The conversation as scorer turns (keyed by its id, so context carries over)."""
    return [
        Turn(
            t.text,
            Speaker.CUSTOMER if t.role == "customer" else Speaker.OTHER,
            conversation.id,
        )
        for t in conversation.turns
    ]


def labelled_turns(
    conversations: Sequence[CCConversation],
) -> Iterator[tuple[CCConversation, int, CCTurn]]:
    """(conversation, turn index in ``turns``, turn) for every labelled customer turn."""
    for conversation in conversations:
        for index, turn in enumerate(conversation.turns):
            if turn.role == "customer" and turn.signals is not None:
                yield conversation, index, turn


def to_replay_events(conversation: CCConversation, tenant: str = "") -> list[dict[str, Any]]:
    """The conversation as replay/backtest JSONL lines (InteractionEvent JSON plus
    ``gold_escalation_turn`` on the first line and ``gold_labels`` on labelled
    customer turns, as signal names)."""
    lines: list[dict[str, Any]] = []
    for n, turn in enumerate(conversation.turns):
        line: dict[str, Any] = {
            "event_id": f"{conversation.id}-{n}",
            "conversation_id": conversation.id,
            "customer_id": f"cust-{conversation.id}",
            "channel": _CHANNEL_ENUM[conversation.channel],
            "role": _ROLE_ENUM[turn.role],
            "kind": "EVENT_KIND_MESSAGE",
            "text": turn.text,
            "language": "en",
            "occurred_at": f"2026-11-23T10:{n // 60:02d}:{n % 60:02d}Z",
        }
        if tenant:
            line["tenant_id"] = tenant
        if n == 0:
            line["gold_escalation_turn"] = conversation.gold_escalation_turn
            if conversation.gold_reason is not None:
                line["gold_reason"] = conversation.gold_reason
        if turn.role == "customer" and turn.signals is not None:
            line["gold_labels"] = sorted(turn.signals)
        lines.append(line)
    return lines


def conversation_json(conversation: CCConversation) -> dict[str, Any]:
    """The record form of a conversation (the inverse of :func:`parse_conversation`)."""
    record: dict[str, Any] = {
        "id": conversation.id,
        "channel": conversation.channel,
        "intent": conversation.intent,
    }
    if conversation.split:
        record["split"] = conversation.split
    if conversation.tags:
        record["tags"] = list(conversation.tags)
    turns: list[dict[str, Any]] = []
    for turn in conversation.turns:
        item: dict[str, Any] = {"role": turn.role, "text": turn.text}
        if turn.signals is not None:
            item["signals"] = [s for s in SIGNALS if s in turn.signals]
        turns.append(item)
    record["turns"] = turns
    record["gold_escalation_turn"] = conversation.gold_escalation_turn
    record["gold_reason"] = conversation.gold_reason
    return record


def write_conversations(conversations: Sequence[CCConversation], path: Path) -> None:
    """One JSON line per conversation (UTF-8, non-ASCII kept as is)."""
    lines = [json.dumps(conversation_json(c), ensure_ascii=False) for c in conversations]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_replay(conversations: Sequence[CCConversation], path: Path) -> Path:
    """The conversations as one replay/backtest JSONL file at ``path``."""
    lines = [json.dumps(line) for c in conversations for line in to_replay_events(c)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
