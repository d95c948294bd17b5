"""The replica's board: escalation episodes, first claim wins, exposure, timeouts, bounds."""

from __future__ import annotations

import random

from tests.unit.notification.support import NOW, claim, decision
from warmline.notification.board import Board
from warmline.v1 import escalation_pb2

ESCALATE = escalation_pb2.DECISION_ACTION_ESCALATE
UPDATE = escalation_pb2.DECISION_ACTION_UPDATE
RESOLVED = escalation_pb2.DECISION_ACTION_RESOLVED
EVERY_QUEUE = frozenset({"billing", "general", "supervisor"})


def board(**kw: float) -> Board:
    return Board(max_records=int(kw.get("max_records", 1000)), exposure_window_s=3600)


def test_updates_belong_to_their_escalation_and_a_resolution_closes_it() -> None:
    b = board()
    b.apply_decision(0, 0, decision("c1", "d1"))
    b.apply_decision(
        0, 1, decision("c1", "d2", action=UPDATE, priority=escalation_pb2.PRIORITY_HIGH)
    )
    escalation = b.escalation("acme", "d2")
    assert escalation is not None and escalation.escalation_id == "d1"
    assert escalation.latest.decision.decision_id == "d2" and escalation.open
    b.apply_decision(0, 2, decision("c1", "d3", action=RESOLVED))
    assert not escalation.open and b.open_count == 0
    assert b.positions == {0: 3}
    # A later escalation of the same conversation is a new one.
    b.apply_decision(0, 3, decision("c1", "d4"))
    again = b.escalation("acme", "d4")
    assert again is not None and again.escalation_id == "d4" and again.open


def test_the_first_claim_in_the_log_holds_and_later_ones_are_told_who() -> None:
    b = board()
    b.apply_decision(0, 0, decision("c1", "d1"))
    won = b.apply_claim(claim("d1", "alice"))
    assert won is not None and won.agent_id == "alice"
    assert b.apply_claim(claim("d1", "bob")) is None
    assert b.holder("d1") == "alice"


def test_another_tenants_decision_looks_unknown() -> None:
    b = board()
    b.apply_decision(0, 0, decision("c1", "d1", tenant="globex"))
    assert b.escalation("acme", "d1") is None
    assert b.escalation("globex", "d1") is not None


def test_shadow_decisions_move_the_position_but_are_never_shown() -> None:
    b = board()
    assert b.apply_decision(2, 40, decision("c1", "d1", shadow=True)) is None
    assert b.positions == {2: 41} and b.open_count == 0


def test_the_unmasked_text_is_kept_aside_and_stripped_from_what_consoles_get() -> None:
    b = board()
    record = b.apply_decision(
        0,
        0,
        decision("c1", "d1", abusive=True, last_customer_text="**", unmasked_customer_text="damn"),
    )
    assert record is not None and record.decision.unmasked_customer_text == ""
    escalation = b.escalation("acme", "d1")
    assert escalation is not None and escalation.unmasked_text == "damn"


def test_exposure_counts_high_intensity_claims_within_the_window_only() -> None:
    b = board()
    b.apply_claim(claim("d1", "alice", high_intensity=True, at=NOW - 4000))
    b.apply_claim(claim("d2", "alice", high_intensity=True, at=NOW - 100))
    b.apply_claim(claim("d3", "alice", high_intensity=False, at=NOW - 50))
    assert b.exposure("acme", "alice", NOW) == 1
    assert b.exposure("acme", "bob", NOW) == 0
    assert b.exposure("globex", "alice", NOW) == 0


def test_since_returns_the_tenants_records_of_its_queues_after_a_position() -> None:
    b = board()
    b.apply_decision(0, 0, decision("a", "d1"))
    b.apply_decision(1, 0, decision("b", "d2", queue="general"))
    b.apply_decision(0, 1, decision("c", "d3"))
    b.apply_decision(1, 1, decision("d", "d4", tenant="globex"))
    found = b.since("acme", frozenset({"billing"}), {0: 1})
    assert [r.decision.decision_id for r in found] == ["d3"]
    found = b.since("acme", EVERY_QUEUE, {})
    assert [r.decision.decision_id for r in found] == ["d1", "d2", "d3"]


def test_open_escalations_exclude_those_held_by_others_and_include_raised_ones_for_supervisors() -> (
    None
):
    b = board()
    b.apply_decision(0, 0, decision("mine", "d1", at=NOW))
    b.apply_decision(0, 1, decision("theirs", "d2", at=NOW))
    b.apply_decision(0, 2, decision("old", "d3", queue="general", at=NOW - 500))
    b.apply_claim(claim("d1", "alice"))
    b.apply_claim(claim("d2", "bob"))
    billing = frozenset({"billing"})
    assert [r.escalation_id for r in b.open_for("acme", billing, "alice", "supervisor")] == ["d1"]
    assert list(b.due(NOW, reoffer_after_s=60, supervisor_after_s=180)) == [
        (b.escalation("acme", "d3"), True)
    ]
    supervisor = frozenset({"supervisor"})
    assert [r.escalation_id for r in b.open_for("acme", supervisor, "sam", "supervisor")] == ["d3"]


def test_each_timeout_fires_once_and_claimed_escalations_never_time_out() -> None:
    b = board()
    b.apply_decision(0, 0, decision("slow", "d1", at=NOW))
    b.apply_decision(0, 1, decision("taken", "d2", at=NOW))
    b.apply_claim(claim("d2", "alice"))
    assert list(b.due(NOW + 30, 60, 180)) == []
    fired = list(b.due(NOW + 61, 60, 180))
    assert [(e.escalation_id, up) for e, up in fired] == [("d1", False)]
    assert list(b.due(NOW + 62, 60, 180)) == []
    assert [(e.escalation_id, up) for e, up in b.due(NOW + 181, 60, 180)] == [("d1", True)]
    assert list(b.due(NOW + 500, 60, 180)) == []


def test_a_restarted_replica_settles_old_timeouts_instead_of_firing_them_all() -> None:
    b = board()
    for n in range(5):
        b.apply_decision(0, n, decision(f"c{n}", f"d{n}", at=NOW - 1000))
    assert b.settle_timeouts(NOW, 60, 180) == 5
    assert list(b.due(NOW + 1, 60, 180)) == []


def test_the_board_stays_bounded_and_forgets_the_oldest() -> None:
    b = board(max_records=100)
    for n in range(250):
        b.apply_decision(n % 3, n, decision(f"c{n}", f"d{n}", action=ESCALATE))
        b.apply_decision(n % 3, n, decision(f"c{n}", f"r{n}", action=RESOLVED))
    assert len(b.since("acme", EVERY_QUEUE, {})) == 100
    assert b.escalation("acme", "d0") is None
    assert b.escalation("acme", "r249") is not None


def test_acks_keep_the_furthest_position_per_partition() -> None:
    b = board()
    assert b.acked("acme", "alice") is None
    b.apply_ack("acme", "alice", {0: 5, 1: 2})
    b.apply_ack("acme", "alice", {0: 3, 1: 4})
    assert b.acked("acme", "alice") == {0: 5, 1: 4}
    assert b.acked("globex", "alice") is None


def test_resuming_finds_exactly_what_a_full_scan_would() -> None:
    rng = random.Random(7)
    b = Board(max_records=400, exposure_window_s=3600)
    offsets = dict.fromkeys(range(4), 0)
    everything = []
    for n in range(1000):
        partition = rng.randrange(4)
        tenant = rng.choice(["acme", "globex"])
        queue = rng.choice(["billing", "general"])
        record = b.apply_decision(
            partition, offsets[partition], decision(f"c{n}", f"d{n}", tenant=tenant, queue=queue)
        )
        offsets[partition] += 1
        everything.append(record)
    retained = everything[-400:]
    for _ in range(50):
        start = {p: rng.randrange(0, offsets[p] + 1) for p in range(4) if rng.random() < 0.9}
        queues = frozenset(rng.sample(["billing", "general"], rng.randint(1, 2)))
        expected = [
            r.decision.decision_id
            for r in retained
            if r is not None
            and r.decision.tenant_id == "acme"
            and r.decision.queue in queues
            and r.offset >= start.get(r.partition, 0)
        ]
        found = [r.decision.decision_id for r in b.since("acme", queues, start)]
        assert found == expected
