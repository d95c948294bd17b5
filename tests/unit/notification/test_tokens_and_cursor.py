"""Agent tokens (scope, clear errors) and resume cursors (round trip, bad input)."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmline.common.credentials import hash_key
from warmline.notification.cursor import CursorError, decode_cursor, encode_cursor, merge
from warmline.notification.tokens import AgentDirectory, AgentTokensError


def entry(token: str, **fields: object) -> dict[str, object]:
    return {
        "token_sha256": hash_key(token),
        "tenant": "acme",
        "agent_id": "alice",
        "queues": ["billing"],
    } | fields


def test_a_token_maps_to_its_tenant_agent_and_queues_only() -> None:
    directory = AgentDirectory.from_mapping(
        {"agents": [entry("t1"), entry("t2", agent_id="gina", tenant="globex", queues=["*"])]}
    )
    alice = directory.scope_for("t1")
    assert alice is not None and (alice.tenant_id, alice.agent_id) == ("acme", "alice")
    assert alice.allows("billing") and not alice.allows("general")
    assert alice.refused(["billing", "general", "abuse"]) == ["abuse", "general"]
    gina = directory.scope_for("t2")
    assert gina is not None and gina.allows("anything")
    assert directory.scope_for("t3") is None
    assert directory.scope_for(hash_key("t1")) is None  # the stored digest is not a token
    assert directory.scope_for(None) is None and directory.scope_for("") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "top-level 'agents' list"),
        ({"agents": ["x"]}, r"agents\[0\]: expected a mapping"),
        ({"agents": [entry("t", token_sha256="abc")]}, r"agents\[0\].token_sha256"),
        ({"agents": [entry("t", tenant="")]}, r"agents\[0\].tenant"),
        ({"agents": [entry("t", agent_id=None)]}, r"agents\[0\].agent_id"),
        ({"agents": [entry("t", queues=[])]}, r"agents\[0\].queues"),
        ({"agents": [entry("t", queues="billing")]}, r"agents\[0\].queues"),
        ({"agents": [entry("t"), entry("t", agent_id="bob")]}, r"agents\[1\]: the same token"),
        ({"agents": [entry("t", supervisor="")]}, r"agents\[0\].supervisor: expected the agent_id"),
        ({"agents": [entry("t", supervisor=["sam"])]}, r"agents\[0\].supervisor: expected"),
        (
            {"agents": [entry("t", supervisor="sam")]},
            r"agents\[0\].supervisor: 'sam' is not an agent of tenant 'acme'",
        ),
        (
            {
                "agents": [
                    entry("t", supervisor="gina"),
                    entry("g", agent_id="gina", tenant="globex"),
                ]
            },
            r"agents\[0\].supervisor: 'gina' is not an agent of tenant 'acme'",
        ),
        ({"agents": [entry("t", supervisor="alice")]}, r"'alice' cannot supervise themselves"),
        (
            {
                "agents": [
                    entry("t", supervisor="sam"),
                    entry("s", agent_id="sam"),
                    entry("u", agent_id="sue"),
                    entry("t2", supervisor="sue"),
                ]
            },
            r"agents\[3\].supervisor: 'alice' has another entry naming supervisor 'sam'",
        ),
    ],
)
def test_a_malformed_tokens_file_names_the_bad_entry(raw: object, message: str) -> None:
    with pytest.raises(AgentTokensError, match=message):
        AgentDirectory.from_mapping(raw)


def test_an_agent_may_name_their_own_supervisor() -> None:
    directory = AgentDirectory.from_mapping(
        {
            "agents": [
                entry("t1", supervisor="sam"),
                entry("t1-phone", supervisor="sam", queues=["general"]),
                entry("t2", agent_id="sam", queues=["supervisor", "billing"]),
                entry("t3", agent_id="bob"),
            ]
        }
    )
    alice = directory.scope_for("t1")
    assert alice is not None and alice.supervisor == "sam"
    assert directory.supervisor_of("acme", "alice") == "sam"
    assert directory.supervisor_of("acme", "bob") is None  # named to no one
    assert directory.supervisor_of("globex", "alice") is None
    assert directory.supervises("acme", "sam") and not directory.supervises("acme", "bob")


def test_an_unreadable_tokens_file_says_which_file(tmp_path: Path) -> None:
    with pytest.raises(AgentTokensError, match=r"missing\.yaml"):
        AgentDirectory.from_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("agents: [unclosed")
    with pytest.raises(AgentTokensError, match=r"broken\.yaml"):
        AgentDirectory.from_file(broken)


def test_a_cursor_round_trips_and_merges_to_the_later_position() -> None:
    positions = {0: 12, 1: 0, 5: 7}
    assert decode_cursor(encode_cursor(positions)) == positions
    assert decode_cursor(encode_cursor({})) == {}
    assert merge({0: 3, 1: 9}, {0: 5, 2: 1}) == {0: 5, 1: 9, 2: 1}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0:1",
        "v2.0:1",
        "v1.0",
        "v1.a:1",
        "v1.0:-1",
        "v1.0:1,,",
        "v1.0:\u00b2",  # a superscript two: str.isdigit() says yes, int() says no
        "v1.\u0661:5",  # an Arabic-Indic one
        "v1.0:" + "9" * 5_000,  # past int()'s digit limit, and past any Kafka offset
        "v1.0:" + "9" * 20,
    ],
)
def test_a_cursor_this_service_did_not_issue_is_refused(bad: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(bad)
