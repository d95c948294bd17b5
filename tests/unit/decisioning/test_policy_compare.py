"""``warmline policy compare``: the live and a shadow policy on the same recorded
conversations, by customer turn, and against the agents' verdicts."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.insights_support import T0, Floor
from warmline.cli import app
from warmline.decisioning.compare import Escalation, PairedConversation, as_text
from warmline.record.shadow_comparison import NothingToCompare, read_comparison
from warmline.record.store import RecordStore, connect, database_path

LIVE = "2026-12-04.2"
SHADOW = "2026-12-04.2+shadow.0a1b2c3d"
OLDER_SHADOW = "2026-12-04.2+shadow.99999999"
WINDOW = ("--from", "2026-12-01", "--to", "2026-12-02")
STREAK = ("negative_streak",)


class Conversations:
    """Customer turns a minute apart, and decisions on them of either policy."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor

    def turns(self, name: str, count: int, at: float = T0 + 60) -> list[str]:
        return [self.floor.turn(name, at + 60 * n, 0.6) for n in range(count)]

    def escalate(
        self,
        name: str,
        trigger: str,
        at: float,
        *,
        shadow: str | None = None,
        queue: str = "billing",
        priority: str = "high",
        reasons: tuple[str, ...] = STREAK,
    ) -> str:
        return self.floor.decision(
            name, at, queue, reasons=reasons, shadow=shadow is not None,
            policy_version=shadow or LIVE, priority=priority, trigger=trigger,
        )  # fmt: skip


def compared_floor(path: Path) -> Path:
    """Eight conversations of acme where the shadow (:data:`SHADOW`) and the live
    policy agree, part ways, or face a verdict; and what no acme figure may count."""
    store = RecordStore(path)
    try:
        acme = Conversations(Floor(store.conn, "acme"))
        late = T0 + 7_200  # the shadow worker read the topic two hours later
        t = acme.turns("same", 3)
        d = acme.escalate("same", t[1], T0 + 200)
        acme.floor.verdict(d, "same", "useful", T0 + 300)
        acme.escalate("same", t[1], late, shadow=SHADOW)

        t = acme.turns("grumble", 3)
        d = acme.escalate("grumble", t[1], T0 + 200)
        acme.floor.verdict(d, "grumble", "false_alarm", T0 + 300)

        t = acme.turns("missed", 3)
        d = acme.escalate("missed", t[1], T0 + 200)
        acme.floor.verdict(d, "missed", "useful", T0 + 300)
        acme.floor.verdict(d, "missed", "wrong_queue", T0 + 301)

        t = acme.turns("later", 3)
        d = acme.escalate("later", t[0], T0 + 100)
        acme.floor.verdict(d, "later", "useful", T0 + 300)
        acme.escalate("later", t[2], late, shadow=SHADOW)

        t = acme.turns("rerouted", 3)
        acme.escalate("rerouted", t[1], T0 + 200)
        # Triggered by a bot turn the record does not hold: placed by time, at turn 2.
        acme.escalate("rerouted", "bot-turn", T0 + 60 + 90, shadow=SHADOW, queue="complaints",
                      priority="urgent", reasons=("peak_anger", "negative_streak"))  # fmt: skip

        t = acme.turns("sooner", 3)
        acme.escalate("sooner", t[2], T0 + 250)
        acme.escalate("sooner", t[0], late, shadow=SHADOW)

        t = acme.turns("shadow-only", 2)
        acme.escalate("shadow-only", t[0], late, shadow=SHADOW)

        t = acme.turns("calm", 2)
        acme.escalate("calm", t[0], T0 + 100, shadow=OLDER_SHADOW)

        acme.turns("quiet-early", 2, at=T0 - 2 * 86_400)
        t = acme.turns("before-window", 2, at=T0 - 86_400)
        acme.escalate("before-window", t[0], T0 - 86_000, shadow=SHADOW)
        globex = Conversations(Floor(store.conn, "globex"))
        t = globex.turns("grumble", 2)
        globex.escalate("grumble", t[0], late, shadow=SHADOW)
    finally:
        store.close()
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    compared_floor(database_path(tmp_path / "record"))
    return tmp_path / "record"


def run(data_dir: Path, *args: str, tenant: str = "acme") -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["policy", "compare", "--tenant", tenant, *WINDOW, "--data-dir", str(data_dir), *args],
    )
    return result.exit_code, result.stdout, result.stderr


def by_conversation(found: dict[str, object]) -> dict[str, dict[str, object]]:
    return {c["conversation_id"]: c for c in found["differing"]}  # type: ignore[attr-defined,index]


def test_each_way_the_shadow_parts_from_the_live_policy_is_named_by_customer_turn(
    data_dir: Path,
) -> None:
    code, out, err = run(data_dir, "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert found["shadow_version"] == SHADOW and found["live_versions"] == [LIVE]
    assert found["other_shadow_versions"] == [OLDER_SHADOW]
    assert found["conversations"] == 8
    assert (found["escalated_live"], found["escalated_shadow"], found["escalated_both"]) == (
        6, 5, 4,
    )  # fmt: skip
    assert found["differences"] == {
        "only_live": 2, "only_shadow": 1, "earlier": 1, "later": 1,
        "queue": 1, "priority": 1, "reasons": 1,
    }  # fmt: skip
    differing = by_conversation(found)
    assert set(differing) == {"same", "grumble", "missed", "later", "rerouted", "sooner",
                              "shadow-only"}  # fmt: skip
    assert differing["later"]["live"]["turn"] == 1  # type: ignore[index]
    assert differing["later"]["shadow"]["turn"] == 3  # type: ignore[index]
    # Decided two hours later by the shadow worker, but on the first turn: sooner.
    assert differing["sooner"]["differences"] == ["earlier"]
    assert differing["rerouted"]["shadow"] == {
        "turn": 2, "queue": "complaints", "priority": "urgent",
        "reasons": ["negative_streak", "peak_anger"],
    }  # fmt: skip
    assert differing["rerouted"]["differences"] == ["queue", "priority", "reasons"]


def test_against_the_verdicts_it_names_false_alarms_avoided_and_needed_escalations_missed(
    data_dir: Path,
) -> None:
    code, out, _ = run(data_dir, "--format", "json")
    assert code == 0
    found = json.loads(out)
    assert found["against_verdicts"] == {
        "avoids_false_alarm": 1, "keeps_false_alarm": 0, "misses_needed": 1, "keeps_needed": 2,
    }  # fmt: skip
    assert found["needed_but_later"] == 1
    assert found["live_escalations_without_verdict"] == 2  # rerouted, sooner
    differing = by_conversation(found)
    assert differing["grumble"]["outcome"] == "avoids_false_alarm"
    assert differing["missed"]["verdict"] == "needed"  # useful and wrong queue both say so
    assert differing["missed"]["outcome"] == "misses_needed"
    assert differing["shadow-only"]["verdict"] == "none"
    assert differing["shadow-only"]["outcome"] is None


def test_the_text_report_counts_and_lists_each_differing_conversation(data_dir: Path) -> None:
    code, out, _ = run(data_dir)
    assert code == 0
    assert f"shadow policy {SHADOW}" in out
    assert "escalated by the live policy 6, by the shadow 5, by both 4" in out
    row = next(line for line in out.splitlines() if line.startswith("false alarms the shadow "
                                                                     "would have avoided"))  # fmt: skip
    assert row.split()[-1] == "1"
    assert (
        "grumble: live turn 2 billing/high negative_streak | shadow not escalated  "
        "[only_live]  verdict false_alarm (avoids false alarm)"
    ) in out
    assert f"other shadow versions in the window (--shadow-version): {OLDER_SHADOW}" in out


def test_an_older_shadow_version_is_compared_when_asked_for(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "--format", "json", "--shadow-version", OLDER_SHADOW)
    assert code == 0
    found = json.loads(out)
    assert found["shadow_version"] == OLDER_SHADOW and found["escalated_shadow"] == 1
    assert by_conversation(found)["calm"]["differences"] == ["only_shadow"]


def test_without_data_dir_it_reads_the_settings_database(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As audit, insights and tune do: WARMLINE_RECORD__DATABASE_URL before the data dir.
    monkeypatch.setenv("WARMLINE_RECORD__DATABASE_URL", f"sqlite:///{database_path(data_dir)}")
    monkeypatch.setenv("WARMLINE_RECORD__DATA_DIR", str(tmp_path / "elsewhere"))
    compare = ["policy", "compare", "--tenant", "acme", *WINDOW, "--format", "json"]
    result = CliRunner().invoke(app, compare)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["escalated_shadow"] > 0


def test_with_no_shadow_decision_it_says_so_and_exits_1(data_dir: Path) -> None:
    code, _, err = run(data_dir, "--shadow-version", "nope")
    assert code == 1 and "no shadow decision of version nope for tenant acme" in err
    code, _, err = run(data_dir, tenant="initech")
    assert code == 1 and "shadow versions there: none" in err
    with (
        closing(connect(database_path(data_dir), read_only=True)) as conn,
        pytest.raises(NothingToCompare),
    ):
        read_comparison(conn, "acme", T0 + 86_400, T0 + 2 * 86_400)


def test_other_tenants_and_conversations_begun_before_the_window_are_left_out(
    data_dir: Path,
) -> None:
    with closing(connect(database_path(data_dir), read_only=True)) as conn:
        acme = read_comparison(conn, "acme", T0, T0 + 86_400)
        globex = read_comparison(conn, "globex", T0, T0 + 86_400)
    assert "before-window" not in {c.conversation_id for c in acme.conversations}
    assert [c.conversation_id for c in globex.conversations] == ["grumble"]
    assert globex.summary()["differences"]["only_shadow"] == 1


def test_two_policies_that_agree_show_no_difference() -> None:
    same = Escalation(2, "billing", "high", STREAK)
    pair = PairedConversation("c", same, same, "none")
    assert pair.differences() == [] and pair.outcome() is None
    assert PairedConversation("c", None, None).differences() == []
    judged = PairedConversation("c", same, same, "false_alarm")
    assert judged.outcome() == "keeps_false_alarm"


def test_conversations_begun_before_the_shadow_escalated_anything_are_pointed_out(
    data_dir: Path,
) -> None:
    with closing(connect(database_path(data_dir), read_only=True)) as conn:
        within = read_comparison(conn, "acme", T0, T0 + 86_400)
        earlier = read_comparison(conn, "acme", T0 - 10 * 86_400, T0 + 86_400)
    assert within.began_before_shadow == 0 and "note:" not in as_text(within)
    assert earlier.began_before_shadow == 1  # quiet-early, before before-window's turn
    assert "note: 1 conversation(s) began before the shadow's earliest escalation" in as_text(
        earlier
    )
