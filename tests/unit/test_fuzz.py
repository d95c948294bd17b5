"""Fuzzing every reader of outside input: arbitrary bytes, text and JSON either
parse or are refused with the reader's own, specific error, never anything else.

``make fuzz`` runs these with many more cases (``HYPOTHESIS_PROFILE=fuzz``); the
number of cases each target saw is printed at the end of the test run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_counts import count_case
from warmline.decisioning.backtest import BacktestInputError, read_conversations
from warmline.decisioning.policy import PolicyError, parse_policy
from warmline.ingestion.adapters import ADAPTERS
from warmline.ingestion.adapters.base import WebhookRejected
from warmline.ingestion.json_event import parse_event
from warmline.notification.cursor import CursorError, decode_cursor
from warmline.scoring import handler as scoring_handler
from warmline.v1 import events_pb2, ingest_pb2

_FILE_HEALTH = [HealthCheck.function_scoped_fixture]

# Text with lone surrogates too: JSON can escape one ("\ud800"), Unicode has none.
_text = st.text(max_size=20) | st.text(st.characters(categories=["Cs", "Cf", "Zs"]), max_size=3)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)


def _record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t", partition=0, offset=0, timestamp=0, timestamp_type=0, key=b"k",
        value=value, checksum=None, serialized_key_size=1, serialized_value_size=len(value),
        headers=(),
    )  # fmt: skip


@given(value=st.binary(max_size=300))
def test_the_scoring_consumer_decodes_or_poisons_any_record(value: bytes) -> None:
    count_case("scoring record decoder")
    try:
        event = scoring_handler._decode(_record(value), max_bytes=256)
    except scoring_handler._Poison as poison:
        assert poison.reason in ("oversized", "undecodable", "invalid_schema")
    else:
        assert isinstance(event, events_pb2.InteractionEvent) and event.event_id


@given(
    raw=json_values | st.dictionaries(st.sampled_from(["metadata", "text", "channel"]), json_values)
)
def test_the_json_door_parses_or_refuses_any_value(raw: Any) -> None:
    count_case("HTTP event parser")
    result = parse_event(raw)
    if isinstance(result, ingest_pb2.EventAck):
        assert result.field_violations and result.reason == "invalid_argument"
        result.SerializeToString()  # what the door sends back must be encodable


def test_a_parser_message_quoting_a_lone_surrogate_is_still_a_clear_refusal() -> None:
    result = parse_event({"metadata": "\ud800"})
    assert isinstance(result, ingest_pb2.EventAck)
    [violation] = result.field_violations
    assert "metadata" in violation.description and "\\ud800" in violation.description


@pytest.mark.parametrize("platform", sorted(ADAPTERS))
@given(payload=st.dictionaries(st.text(max_size=15), json_values, max_size=8))
def test_webhook_adapters_map_or_reject_any_payload(platform: str, payload: dict[str, Any]) -> None:
    count_case(f"{platform} webhook adapter")
    try:
        events = ADAPTERS[platform].to_events(payload)
    except WebhookRejected as rejected:
        assert rejected.reason and rejected.detail
    else:
        assert isinstance(events, list)


@given(cursor=st.text(max_size=40) | st.from_regex(r"v1\.[0-9:,]{0,30}", fullmatch=True))
def test_resume_cursors_decode_or_are_refused(cursor: str) -> None:
    count_case("resume cursor")
    try:
        positions = decode_cursor(cursor)
    except CursorError:
        return
    assert all(p >= 0 and o >= 0 for p, o in positions.items())


policy_documents = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda body: json.dumps(body),  # JSON is YAML too
        st.dictionaries(
            st.sampled_from(["version", "defaults", "tenants", "thresholds", "routing", "x"]),
            json_values,
            max_size=4,
        ),
    ),
)


@given(document=policy_documents)
def test_the_policy_loader_loads_or_names_the_problem(document: str) -> None:
    count_case("policy loader")
    try:
        parse_policy(document, source="fuzz.yaml")
    except PolicyError as error:
        assert "fuzz.yaml" in str(error)


@settings(suppress_health_check=_FILE_HEALTH)
@given(
    lines=st.lists(st.one_of(st.text(max_size=60), st.builds(json.dumps, json_values)), max_size=5)
)
def test_the_replay_reader_reads_or_names_the_line(tmp_path: Path, lines: list[str]) -> None:
    count_case("replay reader")
    path = tmp_path / "replay.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines))
    try:
        read_conversations(path)
    except BacktestInputError as error:
        assert re.match(rf"{re.escape(str(path))}:\d+: ", str(error)), error
