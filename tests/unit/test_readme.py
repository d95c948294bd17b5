"""The README documents every setting and every metric, and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel

from warmline.common import metrics
from warmline.common.settings import WarmlineSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def env_names(model: BaseModel, prefix: str = "WARMLINE_") -> set[str]:
    names = set()
    for field in type(model).model_fields:
        value = getattr(model, field)
        if isinstance(value, BaseModel):
            names |= env_names(value, f"{prefix}{field.upper()}__")
        else:
            names.add(f"{prefix}{field.upper()}")
    return names


def declared_metric_names() -> set[str]:
    """Exposed names of the metrics declared in warmline.common.metrics."""
    suffix = {"counter": "_total", "info": "_info"}
    return {
        metric._name + suffix.get(metric._type, "")
        for metric in vars(metrics).values()
        if isinstance(metric, MetricWrapperBase)
    }


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `(WARMLINE_[A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == env_names(WarmlineSettings())


def test_the_metrics_table_matches_the_declared_metrics() -> None:
    documented = set(re.findall(r"^\| `(warmline_[a-z_]+)` \|", README, re.MULTILINE))
    assert documented == declared_metric_names()
