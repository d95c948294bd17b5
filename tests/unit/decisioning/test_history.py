"""The shared customer history's entries and the per-customer index built from them."""

from __future__ import annotations

from warmline.decisioning.history import (
    ESCALATION,
    FALSE_ALARM,
    HistoryEntry,
    HistoryIndex,
    escalation_entry,
    false_alarm_entry,
)
from warmline.decisioning.state import CustomerHistory
from warmline.v1 import escalation_pb2, feedback_pb2

from .support import T0

NOW = T0.timestamp()


def escalation(
    conversation: str, decision_id: str, at: float, customer: str = "u/1"
) -> tuple[bytes, HistoryEntry]:
    record = escalation_entry(
        escalation_pb2.EscalationDecision(
            tenant_id="acme", customer_id=customer, conversation_id=conversation,
            decision_id=decision_id,
        ),
        at,
    )  # fmt: skip
    assert record is not None
    return record


def test_entries_round_trip_through_key_and_value_whatever_the_customer_id() -> None:
    key, entry = escalation("c1", "d1", NOW, customer="odd/\x1fid")
    assert entry == HistoryEntry("acme/odd/\x1fid", ESCALATION, NOW, "c1")
    assert HistoryEntry.decode(key, entry.encode()) == entry


def test_only_false_alarm_verdicts_with_a_customer_make_an_entry() -> None:
    feedback = feedback_pb2.Feedback(
        feedback_id="f1", tenant_id="acme", conversation_id="c1", decision_id="d1",
        customer_id="u1", verdict=feedback_pb2.VERDICT_FALSE_ALARM,
    )  # fmt: skip
    feedback.submitted_at.FromDatetime(T0)
    record = false_alarm_entry(feedback)
    assert record is not None
    assert record[1] == HistoryEntry("acme/u1", FALSE_ALARM, NOW, "c1")
    # Keyed by the decision: another agent's verdict on it is the same false alarm.
    other_agent = feedback_pb2.Feedback()
    other_agent.CopyFrom(feedback)
    other_agent.feedback_id = "f2"
    assert false_alarm_entry(other_agent) == record

    useful = feedback_pb2.Feedback()
    useful.CopyFrom(feedback)
    useful.verdict = feedback_pb2.VERDICT_USEFUL
    anonymous = feedback_pb2.Feedback()
    anonymous.CopyFrom(feedback)
    anonymous.customer_id = ""
    assert false_alarm_entry(useful) is None and false_alarm_entry(anonymous) is None
    assert escalation_entry(escalation_pb2.EscalationDecision(decision_id="d"), NOW) is None


def test_the_index_groups_entries_by_customer_and_follows_puts_and_tombstones() -> None:
    index = HistoryIndex()
    first, second, other = (
        escalation("c1", "d1", NOW - 10),
        escalation("c2", "d2", NOW - 5),
        escalation("c9", "d9", NOW, customer="u2"),
    )
    for key, entry in (first, second, second, other):  # a record read twice counts once
        index.apply(key, entry.encode())
    index.apply(b"acme/u/1\x1fescalation\x1fbad", b"not json")  # skipped, not fatal
    index.apply(b"acme/u/1\x1fnonsense\x1fd3", second[1].encode())

    assert index.history("acme", "u/1") == CustomerHistory(escalations=[NOW - 10, NOW - 5])
    assert index.history("acme", "u2") == CustomerHistory(escalations=[NOW])
    assert index.history("acme", "") == CustomerHistory()
    assert first[0] in index and len(index) == 3

    index.apply(first[0], None)
    assert index.history("acme", "u/1") == CustomerHistory(escalations=[NOW - 5])
    index.rebuild([(other[0], other[1].encode())])
    assert index.history("acme", "u/1") == CustomerHistory() and len(index) == 1


def test_entries_expire_by_their_tenants_window() -> None:
    index = HistoryIndex()
    old, recent = escalation("c1", "d1", NOW - 10 * 86400), escalation("c2", "d2", NOW - 86400)
    index.add(*old)
    index.add(*recent)
    assert index.expired(NOW, lambda tenant: 30) == []
    assert index.expired(NOW, lambda tenant: 7 if tenant == "acme" else 30) == [old[0]]
