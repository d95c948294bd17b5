"""Each aggregate of the leaders' insights on a hand-built record, and what is suppressed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.insights_support import AGENT, DAY_S, T0, floor
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.insights.aggregates import (
    NEGATIVE_TURN,
    NOT_ESCALATED,
    TEAMS,
    Window,
    WindowError,
    insights,
    make_window,
    negative_shares,
)
from warmline.record.store import RecordStore, connect


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    conn = connect(floor(tmp_path_factory.mktemp("insights") / "record.sqlite3"), read_only=True)
    yield conn
    conn.close()


def day(conn: sqlite3.Connection, min_group: int = 5, **kw: Any) -> dict[str, Any]:
    return insights(conn, Window("acme", T0, T0 + DAY_S, "hour", min_group, **kw))


def row(rows: list[dict[str, Any]], **keys: Any) -> dict[str, Any]:
    """The one row whose keys are ``keys`` (every key not given is a total: null)."""
    dims = ("bucket", "queue", "reason", "escalated")
    found = [r for r in rows if all(r.get(d) == keys.get(d) for d in dims if d in r)]
    assert len(found) == 1, (keys, found)
    return found[0]


BUCKET = "2026-12-01T10:00:00+00:00"


def test_the_emotional_climate_is_per_queue_and_time_bucket(record: sqlite3.Connection) -> None:
    climate = day(record)["climate"]
    billing = row(climate, bucket=BUCKET, queue="billing")
    assert billing == {
        "bucket": BUCKET, "queue": "billing", "conversations": 6, "turns": 12,
        "negative_share": 0.5, "mean_negativity": 0.5, "mean_distress": 0.2, "suppressed": False,
    }  # fmt: skip
    total = row(climate)
    # 6 billing (12 turns), 2 general (4), 5 never escalated (5); globex is not counted.
    assert (total["conversations"], total["turns"]) == (13, 21)
    assert total["negative_share"] == round(10 / 21, 4)
    assert total["mean_negativity"] == round((6 * 1.0 + 2 * 1.2 + 5 * 0.1) / 21, 4)


def test_a_group_below_the_minimum_shows_no_figure_not_even_its_size(
    record: sqlite3.Connection,
) -> None:
    climate = day(record)["climate"]
    general = row(climate, queue="general")
    assert general["suppressed"] is True
    assert {k for k, v in general.items() if v is not None} == {"queue", "suppressed"}
    # With a minimum of 2 it is shown.
    assert row(day(record, 2)["climate"], queue="general")["conversations"] == 2


def test_the_smallest_group_beside_a_suppressed_one_is_suppressed_too(
    record: sqlite3.Connection,
) -> None:
    # general (2) alone could be worked out from the total (13) minus billing (6) and
    # the never-escalated (5): the smaller of those goes too.
    climate = day(record)["climate"]
    assert row(climate, queue=NOT_ESCALATED)["suppressed"] is True
    assert row(climate, queue="billing")["suppressed"] is False
    assert row(climate)["suppressed"] is False
    # Without a suppressed neighbour nothing more is hidden.
    assert row(day(record, 2)["climate"], queue=NOT_ESCALATED)["suppressed"] is False


def test_escalations_are_counted_by_reason_and_queue_over_time_without_shadows(
    record: sqlite3.Connection,
) -> None:
    escalations = day(record, 2)["escalations"]
    assert (
        row(escalations, bucket=BUCKET, queue="billing", reason="sustained_negativity")[
            "escalations"
        ]
        == 6
    )  # the shadow escalation of a calm conversation is not one of them
    assert row(escalations, queue="general", reason="explicit_request")["escalations"] == 2
    assert row(escalations)["escalations"] == 8
    assert row(day(record)["escalations"], reason="explicit_request")["suppressed"] is True


def test_time_to_claim_and_resolution_are_medians_per_queue(record: sqlite3.Connection) -> None:
    billing = row(day(record, 2)["timings"], queue="billing")
    assert billing["suppressed"] is False
    assert (billing["escalations"], billing["claimed"], billing["claim_s_median"]) == (6, 5, 30.0)
    assert (billing["resolved"], billing["resolve_s_median"], billing["resolve_s_p90"]) == (
        6, 600.0, 600.0,
    )  # fmt: skip
    assert (billing["deescalated"], billing["deescalate_s_median"]) == (0, None)


def test_the_false_alarm_rate_is_per_reason_and_queue(record: sqlite3.Connection) -> None:
    judged = row(day(record)["false_alarms"], queue="billing", reason="sustained_negativity")
    assert (judged["verdicts"], judged["false_alarm_rate"], judged["wrong_queue_rate"]) == (
        6, round(1 / 6, 4), 0.0,
    )  # fmt: skip


def test_csat_after_an_escalation_is_set_beside_csat_without(record: sqlite3.Connection) -> None:
    csat = day(record)["csat"]
    after = row(csat, escalated=True)
    without = row(csat, escalated=False)
    assert (after["responses"], after["mean_csat"], after["satisfied_share"]) == (6, 2.0, 0.0)
    assert (without["responses"], without["mean_csat"], without["satisfied_share"]) == (5, 5.0, 1.0)


def test_a_token_of_some_queues_sees_those_queues_only(record: sqlite3.Connection) -> None:
    report = day(record, queues=frozenset({"billing"}))
    assert report["queues"] == ["billing"]
    for section in ("climate", "escalations", "timings", "false_alarms", "csat"):
        assert {r["queue"] for r in report[section]} <= {"billing", None}, section
    # Its totals are the queue's own: the never-escalated and general are not in them.
    assert row(report["climate"])["conversations"] == 6


def test_overload_alerts_are_counted_per_queue_and_small_groups_suppressed(
    record: sqlite3.Connection,
) -> None:
    shown = day(record, 1)["overload_alerts"]
    assert row(shown, bucket=BUCKET, queue="billing") == {
        "bucket": BUCKET, "queue": "billing", "suppressed": False, "alerts": 6,
        "queue_alerts": 4, "agent_alerts": 2, "team_alerts": 0,
    }  # fmt: skip
    assert row(shown)["alerts"] == 7
    # general's one alert about an agent is hidden, and so is billing beside it,
    # which would give it away from the total.
    overload = day(record)["overload_alerts"]
    general, billing = row(overload, queue="general"), row(overload, queue="billing")
    assert general["suppressed"] and general["alerts"] is None and general["agent_alerts"] is None
    assert billing["suppressed"]
    assert row(overload)["alerts"] == 7


def test_team_alerts_are_counted_together_never_per_team_and_only_for_all_queues(
    tmp_path: Path,
) -> None:
    path = floor(tmp_path / "record.sqlite3")
    with sqlite3.connect(path) as conn:
        for n in range(5):  # team alerts have no queue; two teams' ids among them
            conn.execute(
                "INSERT INTO overload_alerts VALUES ('acme', ?, '', 'team', 'agents_over', "
                "2, 2, 7200, ?)",
                (f"team-{n}", T0 + 600),
            )
    conn = connect(path, read_only=True)
    shown = day(conn, 1)["overload_alerts"]
    assert row(shown, bucket=BUCKET, queue=TEAMS) == {
        "bucket": BUCKET, "queue": TEAMS, "suppressed": False, "alerts": 5,
        "queue_alerts": 0, "agent_alerts": 0, "team_alerts": 5,
    }  # fmt: skip
    assert row(shown)["team_alerts"] == 5 and row(shown)["alerts"] == 12
    # A leader shown some queues only sees no team's alerts: a team spans queues.
    billing = day(conn, 1, queues=frozenset({"billing"}))["overload_alerts"]
    assert all(r["queue"] != TEAMS for r in billing) and row(billing)["team_alerts"] == 0
    conn.close()


def test_the_negative_share_gauge_leaves_out_what_the_insights_suppress(
    record: sqlite3.Connection,
) -> None:
    shares = negative_shares(record, T0, T0 + DAY_S, 5)
    # general (2) is suppressed, and the never-escalated (5) beside it; billing and
    # the total are shown, for each tenant.
    expected = {"billing": 0.5, None: round(10 / 21, 4)}
    assert shares == {(t, q): v for t in ("acme", "globex") for q, v in expected.items()}
    assert negative_shares(record, T0 + DAY_S, T0 + 2 * DAY_S, 5) == {}


def test_no_figure_names_an_agent(record: sqlite3.Connection) -> None:
    assert AGENT not in json.dumps(day(record, 1))


def test_an_empty_window_has_no_group(tmp_path: Path) -> None:
    RecordStore(tmp_path / "r.sqlite3").close()
    conn = connect(tmp_path / "r.sqlite3", read_only=True)
    report = insights(conn, Window("acme", T0, T0 + DAY_S, "hour"))
    sections = ("climate", "escalations", "timings", "false_alarms", "csat", "overload_alerts")
    assert [report[s] for s in sections] == [[], [], [], [], [], []]


def test_the_negative_turn_threshold_is_the_default_policys() -> None:
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    assert policy["thresholds"]["negative_turn_threshold"] == NEGATIVE_TURN


def test_a_window_is_checked_and_defaults_to_the_last_seven_days() -> None:
    window = make_window("acme", None, "2026-12-08", now=0)
    assert (window.start, window.bucket) == (T0 - 10 * 3600, "day")
    assert make_window("acme", "2026-12-01", "2026-12-02", now=0).bucket == "hour"
    for start, end, bucket, field in (
        ("yesterday", None, "auto", "from"),
        ("2026-12-02", "2026-12-01", "auto", "from"),
        ("2026-12-01", "2026-12-02", "minute", "bucket"),
        ("2020-01-01", "2026-12-02", "hour", "bucket"),
    ):
        with pytest.raises(WindowError) as refused:
            make_window("acme", start, end, bucket=bucket, now=T0)
        assert refused.value.field == field


def test_the_cli_writes_the_report_and_prints_the_numbers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from warmline.cli import app

    floor(tmp_path / "record.sqlite3")
    out = tmp_path / "report" / "insights.html"
    common = ["insights", "--tenant", "acme", "--from", "2026-12-01", "--to", "2026-12-02",
              "--data-dir", str(tmp_path)]  # fmt: skip
    written = CliRunner().invoke(app, [*common, "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert str(out) in written.stdout
    page = out.read_text()
    assert page.count("<svg") >= 5 and "suppressed" in page
    assert "Overload alerts to supervisors" in page
    printed = CliRunner().invoke(app, [*common, "--format", "json"])
    assert printed.exit_code == 0, printed.output
    numbers = json.loads(printed.stdout)
    assert row(numbers["climate"], queue="billing")["conversations"] == 6
    missing = CliRunner().invoke(app, [*common[:-1], str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
