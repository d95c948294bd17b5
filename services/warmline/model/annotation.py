"""Two independent labellings of the evaluation set: agreement, disagreements, resolution.

Each labeller writes one line per customer turn: ``{"id", "turn", "signals"}``
(``turn`` indexes the conversation's ``turns``, all roles counted). Agreement is
Cohen's kappa per signal over every customer turn both labelled. Disagreements
are resolved by a third reading against the guide (``resolutions.jsonl``, same
format); a turn both labellers agree on keeps their labels.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from warmline.model.contact_center import CCConversation, CCTurn, DataError, check_signals
from warmline.model.taxonomy import SIGNALS

Key = tuple[str, int]
Labelling = dict[Key, frozenset[str]]


def read_labelling(paths: Sequence[Path]) -> Labelling:
    """Labels from one labeller's files; a turn labelled twice is an error."""
    found: Labelling = {}
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            raw = json.loads(line)
            key = (str(raw["id"]), int(raw["turn"]))
            if key in found:
                raise DataError(f"{where}: {key} labelled twice")
            found[key] = check_signals(raw["signals"], where)
    return found


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary labellings of the same items (1.0 when both are
    constant and equal, where chance agreement is total)."""
    n = len(a)
    if n == 0 or n != len(b):
        raise ValueError("kappa needs two labellings of the same, non-empty items")
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def agreement(first: Labelling, second: Labelling) -> dict[str, float | int]:
    """Kappa per signal (``kappa_<signal>``), their mean, and turns compared."""
    keys = sorted(set(first) & set(second))
    report: dict[str, float | int] = {"turns": len(keys)}
    kappas = []
    for signal in SIGNALS:
        kappa = cohen_kappa([signal in first[k] for k in keys], [signal in second[k] for k in keys])
        report[f"kappa_{signal}"] = round(kappa, 3)
        kappas.append(kappa)
    report["kappa_mean"] = round(sum(kappas) / len(kappas), 3)
    report["exact_match"] = round(sum(first[k] == second[k] for k in keys) / len(keys), 3)
    return report


def disagreements(first: Labelling, second: Labelling) -> list[Key]:
    """Turns whose two labellings differ."""
    return sorted(k for k in set(first) & set(second) if first[k] != second[k])


def resolve(
    conversations: Sequence[CCConversation],
    first: Labelling,
    second: Labelling,
    resolutions: Mapping[Key, frozenset[str]],
) -> list[CCConversation]:
    """Conversations with every customer turn's final signals; raises when a turn is
    unlabelled by either labeller or a disagreement has no resolution."""
    resolved = []
    for conversation in conversations:
        turns = []
        for index, turn in enumerate(conversation.turns):
            if turn.role != "customer":
                turns.append(turn)
                continue
            key = (conversation.id, index)
            if key not in first or key not in second:
                raise DataError(f"{key}: not labelled by both labellers")
            final = first[key] if first[key] == second[key] else resolutions.get(key)
            if final is None:
                raise DataError(f"{key}: labellers disagree and there is no resolution")
            turns.append(CCTurn(turn.role, turn.text, final))
        resolved.append(replace(conversation, turns=tuple(turns)))
    return resolved
