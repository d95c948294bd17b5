"""A shadow worker beside the live one on the real broker: the same scored events,
a stricter proposal for acme; the record keeps both; `policy compare` reports
where they part; no shadow decision is on the topic consoles read."""

from __future__ import annotations

import asyncio
import json
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.integration.decisioning.test_decisioning_stream import Hosted
from tests.integration.record.conftest import (
    publish,
    reader,
    record_settings,
    start,
    wait_consumed,
)
from tests.support import read_topic, unique
from warmline.cli import app
from warmline.common.keys import conversation_key
from warmline.common.pipeline import Output
from warmline.common.settings import DecisioningSettings, WarmlineSettings
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.shadow import VERSION_MARK, write_override
from warmline.decisioning.tune import override_yaml
from warmline.localkafka import LocalKafka
from warmline.v1 import escalation_pb2, events_pb2, feedback_pb2, scoring_pb2
from warmline.v1.deadletter_pb2 import DeadLetter

pytestmark = pytest.mark.integration

#: acme's live thresholds, set here so the test does not lean on the packaged defaults.
LIVE_ACME = {"negative_turn_threshold": 0.4, "streak_length": 2, "negativity_threshold": 0.55}
#: The proposal run in the shadow: a turn is negative only from 0.6.
PROPOSED = {"negative_turn_threshold": 0.6}
WORDS = ("my parcel is late", "nobody told me why", "what happens now then")
#: Customer negativity per turn: both escalate "upset" at turn 2; only the live
#: policy escalates "grumble" (a false alarm, say agents); the shadow escalates
#: "slow-burn" a turn later (useful, say agents); nobody escalates "calm".
CONVERSATIONS = {
    ("acme", "upset"): (0.8, 0.8, 0.8),
    ("acme", "grumble"): (0.5, 0.5, 0.1),
    ("acme", "slow-burn"): (0.5, 0.7, 0.7),
    ("acme", "calm"): (0.1, 0.1),
    ("globex", "grumble"): (0.8, 0.8),
}

LIVE_ESCALATED = {
    ("acme", "upset"),
    ("acme", "grumble"),
    ("acme", "slow-burn"),
    ("globex", "grumble"),
}
SHADOW_ESCALATED = {("acme", "upset"), ("acme", "slow-burn")}


def scored_events(topic: str, at: datetime) -> list[Output]:
    """The conversations' customer turns, a second apart, as the scoring service writes them."""
    outputs = []
    for (tenant, conversation), levels in CONVERSATIONS.items():
        for n, (text, level) in enumerate(zip(WORDS, levels, strict=False)):
            event = events_pb2.InteractionEvent(
                event_id=f"{conversation}-{n}", tenant_id=tenant, conversation_id=conversation,
                customer_id=f"cust-{conversation}", channel=events_pb2.CHANNEL_CHAT,
                role=events_pb2.ROLE_CUSTOMER, kind=events_pb2.EVENT_KIND_MESSAGE, text=text,
                language="en",
            )  # fmt: skip
            event.occurred_at.FromDatetime(at + timedelta(seconds=n))
            scored = scoring_pb2.ScoredEvent(
                event=event,
                scores=scoring_pb2.EmotionScores(
                    status=scoring_pb2.SCORE_STATUS_SCORED,
                    signals=scoring_pb2.Signals(
                        negativity=level, frustration=level, anger=0.1, neutral=1 - level
                    ),
                    model_version="test-model",
                ),
            )
            key = conversation_key(tenant, conversation)
            outputs.append(Output(topic, key, scored.SerializeToString()))
    return outputs


def verdict(
    settings: WarmlineSettings, decision: escalation_pb2.EscalationDecision,
    said: feedback_pb2.Verdict.ValueType,
) -> Output:  # fmt: skip
    """An agent's verdict on a live decision, as the notification service writes it."""
    feedback = feedback_pb2.Feedback(
        feedback_id=unique("fb"), tenant_id=decision.tenant_id,
        conversation_id=decision.conversation_id, decision_id=decision.decision_id,
        agent_id="agent-1", verdict=said, customer_id=decision.customer_id,
    )  # fmt: skip
    feedback.submitted_at.FromDatetime(datetime.now(UTC))
    return Output(
        settings.topics.name("feedback"),
        conversation_key(decision.tenant_id, decision.conversation_id),
        feedback.SerializeToString(),
    )


Decision = escalation_pb2.EscalationDecision


def first_escalations(found: list[Decision]) -> dict[tuple[str, str], Decision]:
    """Each conversation's first escalation, by (tenant, conversation)."""
    first: dict[tuple[str, str], Decision] = {}
    for d in found:
        if d.action == escalation_pb2.DECISION_ACTION_ESCALATE:
            first.setdefault((d.tenant_id, d.conversation_id), d)
    return first


def decisions(
    settings: WarmlineSettings, topic: str, escalated: set[tuple[str, str]]
) -> list[Decision]:
    """Every decision on ``topic`` once each of ``escalated`` has its escalation there
    (and a few quiet seconds have passed)."""
    name = settings.topics.name(topic)
    for _ in range(30):
        records = asyncio.run(
            read_topic(settings.kafka.bootstrap_servers, name, len(escalated), within_s=90,
                       settle=3.0)
        )  # fmt: skip
        found = [Decision.FromString(r.value or b"") for r in records]
        if escalated <= set(first_escalations(found)):
            return found
    raise AssertionError(f"{name} never escalated all of {sorted(escalated)}")


def test_the_shadow_decides_beside_the_live_policy_and_compare_reports_where_they_part(
    kafka_broker: LocalKafka, tmp_path: Path
) -> None:
    base = record_settings(kafka_broker.bootstrap_servers, tmp_path / "record")
    policy = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    policy["tenants"] = {"acme": {"thresholds": LIVE_ACME}}
    live_policy = tmp_path / "live" / "policy.yaml"
    live_policy.parent.mkdir()
    live_policy.write_text(yaml.safe_dump(policy, sort_keys=False))
    # What `warmline policy tune --shadow` writes: acme's whole entry, the proposal over it.
    shadow_dir = tmp_path / "shadow-policies"
    write_override(shadow_dir, "acme", override_yaml(live_policy.read_text(), "acme", PROPOSED))

    def worker(name: str, **shadow: object) -> WarmlineSettings:
        section = DecisioningSettings(
            host="127.0.0.1", metrics_port=0, app_id=unique("decisioning"),
            data_dir=tmp_path / name, shutdown_grace_s=10, policy_file=live_policy, **shadow,
        )  # fmt: skip
        return base.model_copy(update={"decisioning": section})

    record = start(base)
    live = Hosted(worker("live"))
    shadow = Hosted(worker("shadow", shadow=True, shadow_policy_dir=shadow_dir))
    began = datetime.now(UTC)
    try:
        scored = base.topics.name("scored")
        poison = Output(scored, b"acme/bad", b"\xff\xfe not a protobuf")
        asyncio.run(publish(base, [*scored_events(scored, began), poison]))
        live_out = decisions(base, "escalations", LIVE_ESCALATED)
        shadow_out = decisions(base, "shadow_escalations", SHADOW_ESCALATED)
        judged = first_escalations(live_out)
        asyncio.run(publish(base, [
            verdict(base, judged["acme", "grumble"], feedback_pb2.VERDICT_FALSE_ALARM),
            verdict(base, judged["acme", "slow-burn"], feedback_pb2.VERDICT_USEFUL),
        ]))  # fmt: skip
        wait_consumed(base, base.record.consumer_group, timeout=90)
        letters = asyncio.run(
            read_topic(base.kafka.bootstrap_servers, base.topics.name("deadletter"), 3, within_s=60)
        )
    finally:
        shadow.stop()
        live.stop()
        record.stop()

    # Consoles read the escalations topic: not one shadow decision is there.
    assert set(first_escalations(live_out)) == LIVE_ESCALATED
    assert not any(d.shadow or VERSION_MARK in d.policy_version for d in live_out)
    # Both workers park the poison record, each under its own name (and so does the record).
    assert {DeadLetter.FromString(r.value or b"").consumer for r in letters} == {
        "decisioning", "decisioning-shadow", "record",
    }  # fmt: skip
    # The shadow decided acme only, flagged and versioned as the shadow.
    assert set(first_escalations(shadow_out)) == SHADOW_ESCALATED
    assert all(d.shadow and VERSION_MARK in d.policy_version for d in shadow_out)
    with closing(reader(tmp_path / "record")) as conn:
        kept = dict(
            conn.execute(
                "SELECT shadow, COUNT(*) FROM decisions WHERE tenant_id = 'acme' GROUP BY shadow"
            ).fetchall()
        )
    assert kept == {0: len([d for d in live_out if d.tenant_id == "acme"]), 1: len(shadow_out)}

    window = [(began - timedelta(hours=1)).isoformat(), (began + timedelta(hours=1)).isoformat()]
    result = CliRunner().invoke(app, [
        "policy", "compare", "--tenant", "acme", "--from", window[0], "--to", window[1],
        "--data-dir", str(tmp_path / "record"), "--format", "json",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["shadow_version"] == shadow_out[0].policy_version
    assert found["conversations"] == 4
    assert (found["escalated_live"], found["escalated_shadow"], found["escalated_both"]) == (
        3,
        2,
        2,
    )
    assert found["differences"]["only_live"] == 1 and found["differences"]["later"] == 1
    assert found["against_verdicts"]["avoids_false_alarm"] == 1
    assert found["against_verdicts"]["keeps_needed"] == 1 and found["needed_but_later"] == 1
    by_id = {c["conversation_id"]: c for c in found["differing"]}
    assert by_id["grumble"]["outcome"] == "avoids_false_alarm"
    assert (by_id["slow-burn"]["live"]["turn"], by_id["slow-burn"]["shadow"]["turn"]) == (2, 3)
    assert "upset" not in by_id and "calm" not in by_id
