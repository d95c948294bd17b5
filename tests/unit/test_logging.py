"""Structured logs are one JSON object a line, with the context passed as extra."""

from __future__ import annotations

import json
import logging

import pytest

from warmline.common.logging import configure_logging


def test_log_lines_are_json_with_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ingestion", "INFO", "json")
    logging.getLogger("warmline.test").warning(
        "record rejected", extra={"tenant": "acme", "partition": 3}
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["msg"] == "record rejected"
    assert entry["level"] == "WARNING"
    assert entry["service"] == "ingestion"
    assert (entry["tenant"], entry["partition"]) == ("acme", 3)


def test_exceptions_are_kept_in_the_entry(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("scoring", "INFO", "json")
    try:
        raise ValueError("bad batch")
    except ValueError:
        logging.getLogger("warmline.test").exception("batch failed")
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert "ValueError: bad batch" in entry["exc"]
