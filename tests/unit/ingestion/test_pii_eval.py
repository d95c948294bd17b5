"""The redactor measured on the project's labelled set, and the set's reader."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from warmline.ingestion.pii_eval import PiiSetError, evaluate, part_of, read_set
from warmline.ingestion.redaction import PII_KINDS


def write(path: Path, *rows: object) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_recall_and_precision_are_counted_per_kind(tmp_path: Path) -> None:
    data = write(
        tmp_path / "set.jsonl",
        {
            "id": "a",
            "text": "mail jane@example.com",
            "pii": [{"kind": "EMAIL", "text": "jane@example.com"}],
        },
        # A name with no cue at all is missed; the order number is rightly kept.
        {
            "id": "b",
            "text": "Priyanka has order 123456789",
            "pii": [{"kind": "NAME", "text": "Priyanka"}],
        },
        {"id": "c", "text": "nothing here", "pii": []},
    )
    result = evaluate(read_set(data)).as_json(details=True)
    assert result["kinds"]["EMAIL"] == {
        "labelled": 1,
        "recall": 1.0,
        "redacted": 1,
        "precision": 1.0,
    }
    assert result["kinds"]["NAME"] == {
        "labelled": 1,
        "recall": 0.0,
        "redacted": 0,
        "precision": None,
    }
    assert result["overall"] == {"labelled": 2, "recall": 0.5, "redacted": 1, "precision": 1.0}
    assert result["missed"] == [{"id": "b", "kind": "NAME", "text": "Priyanka"}]
    assert result["messages"] == 3


def test_a_wrong_redaction_lowers_precision(tmp_path: Path) -> None:
    # "Galaxy Tab" is no person, but follows a cue the name rules read.
    data = write(tmp_path / "set.jsonl", {"id": "a", "text": "I spoke to Galaxy Tab", "pii": []})
    result = evaluate(read_set(data)).as_json(details=True)
    assert result["overall"] == {"labelled": 0, "recall": None, "redacted": 1, "precision": 0.0}
    assert result["wrongly_redacted"] == [{"id": "a", "kind": "NAME", "text": "Galaxy Tab"}]


def test_a_repeated_span_takes_the_next_occurrence(tmp_path: Path) -> None:
    text = "Aoife Byrne here, Aoife is fine"
    data = write(
        tmp_path / "set.jsonl",
        {
            "id": "a",
            "text": text,
            "pii": [{"kind": "NAME", "text": "Aoife Byrne"}, {"kind": "NAME", "text": "Aoife"}],
        },
    )
    [message] = read_set(data)
    assert [text[s.start : s.end] for s in message.gold] == ["Aoife Byrne", "Aoife"]
    assert message.gold[1].start == text.index("Aoife is")


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"id": "a", "text": "hi"}, "expected JSON with id, text and pii"),
        ({"id": "a", "text": "hi", "pii": [{"kind": "NAME", "text": "Bob"}]}, "'Bob' is not"),
        ({"id": "a", "text": "hi Bob", "pii": [{"kind": "HAT", "text": "Bob"}]}, "bad label"),
    ],
)
def test_a_malformed_set_is_refused_naming_the_line(tmp_path: Path, row: object, says: str) -> None:
    data = write(tmp_path / "set.jsonl", {"id": "ok", "text": "x", "pii": []}, row)
    with pytest.raises(PiiSetError, match=rf"set\.jsonl:2: .*{re.escape(says)}"):
        read_set(data)


def test_the_parts_split_by_id_and_never_overlap() -> None:
    dev, test = read_set(part="dev"), read_set(part="test")
    assert {m.id for m in dev}.isdisjoint(m.id for m in test)
    assert all(part_of(m.id) == "test" for m in test)
    assert len(dev) + len(test) == len(read_set())


def test_the_shipped_set_is_redacted_with_the_reported_quality() -> None:
    """A regression guard on the whole set: README reports the test part's figures."""
    result = evaluate(read_set()).as_json(details=False)
    assert result["overall"]["precision"] >= 0.95
    assert result["overall"]["recall"] >= 0.75
    for kind in PII_KINDS:
        if kind in result["kinds"] and result["kinds"][kind]["labelled"]:
            assert result["kinds"][kind]["recall"] >= 0.5, kind
