"""A hand-built record for ``warmline policy tune``: verdicts that make one better
threshold plain (rows written straight into the tables, like
:mod:`tests.insights_support`).

:func:`verdict_floor` writes, for tenant ``acme`` in the hour from
:data:`~tests.insights_support.T0`:

- 12 ``upset-N``: customer negativity 0.7 on three turns, escalated for
  ``negative_streak`` after the second turn (turn 1), judged useful;
- 12 ``grumble-N``: negativity 0.55, 0.55, 0.1, escalated for ``negative_streak``
  after the second turn, judged false alarms: a negative-turn threshold of 0.6
  instead of the default 0.5 keeps every useful escalation and none of these;
- 1 ``asked``: calm turns, escalated for ``explicit_request`` (words the record
  does not keep) after the first turn, judged useful: pinned;
- 10 ``calm-N``: two calm turns, never escalated, no verdict.

And for ``globex``, a few conversations no acme figure may include.
"""

from __future__ import annotations

from pathlib import Path

from tests.insights_support import T0, Floor
from warmline.record.store import RecordStore

#: Conversations of acme with verdicts in :func:`verdict_floor`.
WITH_VERDICTS = 25
#: The window of :func:`verdict_floor` for the command line.
WINDOW = ("--from", "2026-12-01", "--to", "2026-12-02")


def conversation(
    f: Floor,
    name: str,
    at: float,
    negativity: tuple[float, ...],
    *,
    escalated_after: int | None = None,
    reason: str = "negative_streak",
    verdicts: tuple[str, ...] = (),
) -> None:
    """Customer turns 60 s apart; an escalation after turn ``escalated_after`` (0-based)
    with ``reason``, and ``verdicts`` on it."""
    for n, level in enumerate(negativity):
        f.turn(name, at + 60 * n, level)
    if escalated_after is None:
        return
    decided = at + 60 * escalated_after + 30
    decision_id = f.decision(name, decided, "billing", reasons=(reason,))
    for n, verdict in enumerate(verdicts):
        f.verdict(decision_id, name, verdict, decided + 100 + n)


def verdict_floor(path: Path, t0: float = T0) -> Path:
    """The record described in the module's docstring, at ``path``."""
    store = RecordStore(path)
    try:
        acme, globex = Floor(store.conn, "acme"), Floor(store.conn, "globex")
        at = t0 + 60
        for n in range(12):
            conversation(acme, f"upset-{n}", at, (0.7, 0.7, 0.7), escalated_after=1,
                         verdicts=("useful",))  # fmt: skip
            conversation(acme, f"grumble-{n}", at, (0.55, 0.55, 0.1), escalated_after=1,
                         verdicts=("false_alarm",))  # fmt: skip
        conversation(acme, "asked", at, (0.1, 0.1), escalated_after=0, reason="explicit_request",
                     verdicts=("useful",))  # fmt: skip
        for n in range(10):
            conversation(acme, f"calm-{n}", at, (0.1, 0.1))
        for n in range(5):
            conversation(globex, f"grumble-{n}", at, (0.55, 0.55), escalated_after=1,
                         verdicts=("useful",))  # fmt: skip
    finally:
        store.close()
    return path
