"""The local database of the worker's tables: the overlay of unacknowledged writes,
what reaches the file and when, offsets, and the indexed reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmline.decisioning import state_database
from warmline.decisioning.state_database import StateDatabase, TableRows


def stamp(key: bytes, value: bytes) -> float:
    """Test rows carry their stamp as their value."""
    return float(value.decode().split(":")[-1])


@pytest.fixture
def database(tmp_path: Path) -> StateDatabase:
    return StateDatabase(tmp_path / "state.sqlite3", cache_mib=4)


def reopened(database: StateDatabase, name: str = "t") -> TableRows:
    """The table as another process would find the file now (committed rows only)."""
    return StateDatabase(database.path, cache_mib=4).rows(name, stamp)


def test_a_write_is_read_at_once_but_reaches_the_file_only_when_acknowledged(
    database: StateDatabase,
) -> None:
    rows = database.rows("t", stamp)
    rows[b"k"] = b"v:1"
    assert rows[b"k"] == b"v:1" and b"k" in rows and len(rows) == 1
    database.commit()
    assert b"k" not in reopened(database)

    rows.acknowledged(3, [(b"k", b"v:1")], last_offset=41)
    database.commit()
    again = reopened(database)
    assert again[b"k"] == b"v:1"
    assert again.offset(3) == 41 and again.offset(0) is None


def test_the_newest_write_wins_while_older_ones_are_acknowledged(database: StateDatabase) -> None:
    rows = database.rows("t", stamp)
    rows[b"k"] = b"first:1"
    rows[b"k"] = b"second:2"
    rows.acknowledged(0, [(b"k", b"first:1")], last_offset=0)
    assert rows[b"k"] == b"second:2"  # still in the overlay: one write unacknowledged
    database.commit()
    assert reopened(database)[b"k"] == b"first:1"

    del rows[b"k"]
    rows.acknowledged(0, [(b"k", b"second:2"), (b"k", None)], last_offset=2)
    assert b"k" not in rows and len(rows) == 0
    with pytest.raises(KeyError):
        rows[b"k"]
    database.commit()
    assert b"k" not in reopened(database)


def test_rows_and_their_offset_are_committed_together_or_not_at_all(
    database: StateDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_database, "COMMIT_EVERY_S", 3600.0)
    rows = database.rows("t", stamp)
    rows.read(0, [(b"a", b"a:1")], offset=7)
    database.commit()
    rows.read(0, [(b"b", b"b:1")], offset=8)  # not committed yet: a crash here loses both
    found = reopened(database)
    assert b"a" in found and b"b" not in found and found.offset(0) == 7

    monkeypatch.setattr(state_database, "COMMIT_EVERY_WRITES", 2)
    rows.read(0, [(b"c", b"c:1")], offset=9)  # enough writes: committed with its offset
    found = reopened(database)
    assert b"c" in found and found.offset(0) == 9


def test_an_offset_never_moves_back(database: StateDatabase) -> None:
    rows = database.rows("t", stamp)
    rows.read(0, [(b"a", b"a:1")], offset=9)
    rows.read(0, [(b"a", b"a:1")], offset=4)  # a record read again after a seek
    assert rows.offset(0) == 9


def test_counts_and_scans_see_owned_partitions_and_point_reads_see_all(
    database: StateDatabase,
) -> None:
    rows = database.rows("t", stamp)
    rows.read(0, [(b"old", b"x:10"), (b"older", b"x:5")], offset=1)
    rows.read(1, [(b"moved-away", b"x:1")], offset=0)
    rows.partitions = frozenset({0})
    assert len(rows) == 2 and set(rows) == {b"old", b"older"}
    assert b"moved-away" in rows
    rows[b"old"] = b"x:99"  # written again, not acknowledged: not idle whatever is stored
    assert list(rows.stamped_before(50.0)) == [(b"older", 5.0)]


def test_a_prefix_is_one_range_of_keys_with_the_overlay_on_top(database: StateDatabase) -> None:
    rows = database.rows("t", stamp)
    rows.read(0, [(b"c1\x1fa", b"x:1"), (b"c1\x1fb", b"x:2"), (b"c10\x1fa", b"x:3")], offset=2)
    rows[b"c1\x1fc"] = b"x:4"
    del rows[b"c1\x1fa"]
    assert sorted(rows.prefixed(b"c1\x1f")) == [(b"c1\x1fb", b"x:2"), (b"c1\x1fc", b"x:4")]


def test_a_wiped_partition_loses_its_rows_and_offset_only(database: StateDatabase) -> None:
    rows = database.rows("t", stamp)
    other = database.rows("other", stamp)
    rows.read(0, [(b"a", b"a:1")], offset=5)
    rows.read(1, [(b"b", b"b:1")], offset=6)
    other.read(0, [(b"a", b"a:1")], offset=7)
    rows.wipe(0)
    assert b"a" not in rows and rows.offset(0) is None
    assert rows[b"b"] == b"b:1" and rows.offset(1) == 6
    assert other[b"a"] == b"a:1" and other.offset(0) == 7
    found = reopened(database)  # a wipe is committed at once
    assert b"a" not in found and found.offset(0) is None


def test_a_table_name_that_is_no_identifier_is_refused(database: StateDatabase) -> None:
    with pytest.raises(ValueError, match="not a table name"):
        database.rows("t; DROP TABLE offsets", stamp)
