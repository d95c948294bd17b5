"""Dashboards, alert rules and runbooks name only what the code exports and what exists.

Every metric an alert rule or a dashboard panel queries must be one the services
really export (read from the Prometheus registry after importing the module that
declares them all), every alert must carry a severity, a summary, a description and a
runbook_url whose anchor is an entry of docs/runbooks.md, and the scrape configuration
must reach every service on its metrics port. With promtool (``make rules-check``, or
``WARMLINE_PROMTOOL`` as ``make test`` sets it) the rules are also checked and their
unit tests run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import warmline.common.metrics
import warmline.common.ops_http  # the page serving the registry: what it imports counts
from warmline.common.settings import WarmlineSettings
from warmline.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "warmline.rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
CHART = ROOT / "charts" / "warmline" / "Chart.yaml"

# Series Prometheus writes itself for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
SEVERITIES = {"critical", "warning"}

# PromQL words that are not metric names: keywords, and label lists of by/without/on/...
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}
_NUMBER = re.compile(r"(?<![\w$])\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_IDENTIFIER = re.compile(r"(?<![\w$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and labels left out).

    Grafana's ``$__rate_interval``-style variables only appear in ranges, which go first.
    """
    text = _STRINGS.sub('""', expr)
    while _MATCHERS.search(text):
        text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    return {
        name
        for name, call in _IDENTIFIER.findall(text)
        if not call and name.lower() not in _KEYWORDS
    }


def exported_series() -> set[str]:
    """Every series name the services' registry can expose, suffixes included."""
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
        "stateset": ("",),
        "unknown": ("",),
    }
    return {
        family.name + suffix for family in REGISTRY.collect() for suffix in suffixes[family.type]
    }


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, those inside rows included."""
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def dashboards() -> dict[str, dict[str, Any]]:
    loaded = {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}
    assert loaded, f"no dashboards in {DASHBOARDS}"
    return loaded


def dashboard_exprs() -> list[tuple[str, str, str]]:
    """(file, panel title, expression) of every query of every dashboard."""
    return [
        (name, panel["title"], target["expr"])
        for name, board in dashboards().items()
        for panel in panels(board["panels"])
        for target in panel.get("targets", [])
    ]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> list[str]:
    return [
        github_anchor(m) for m in re.findall(r"^#{2,3} (.+)$", RUNBOOKS.read_text(), re.MULTILINE)
    ]


def runbook_base() -> str:
    home = yaml.safe_load(CHART.read_text())["home"]
    return f"{home}/blob/main/docs/runbooks.md"


# --- the extractor itself -------------------------------------------------------


def test_metric_names_are_found_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, api) (rate(warmline_ingest_ack_seconds_bucket{api="http"}'
        "[$__rate_interval]))) > 1e3\n"
        "and on (instance) group_left warmline_ready == bool 0"
        ' or absent(up{job="scoring"}) or vector(0)'
    )
    assert metric_names(expr) == {"warmline_ingest_ack_seconds_bucket", "warmline_ready", "up"}
    assert metric_names('label_replace(x, "dst", "$1", "src", "(.*)")') == {"x"}


def test_the_registry_knows_the_suffixed_names() -> None:
    series = exported_series()
    assert {
        "warmline_dead_letters_total",
        "warmline_notification_end_to_end_seconds_bucket",
        "warmline_scoring_batch_size_sum",
        "warmline_model_info",
        "warmline_ready",
        "warmline_ready_condition",
    } <= series
    assert "warmline_dead_letters" not in series  # a counter is read as _total


def test_every_metric_is_declared_where_the_registry_sees_it() -> None:
    # The registry above holds what common.metrics declares; a metric declared in
    # another module would be missing from it, so none may be.
    declaring = re.compile(r"\b(?:Counter|Gauge|Histogram|Summary|Info|Enum)\(\s*\n?\s*\"")
    elsewhere = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "services" / "warmline").rglob("*.py")
        if path != Path(warmline.common.metrics.__file__)
        and "prometheus_client" in path.read_text()
        and declaring.search(path.read_text())
    ]
    assert elsewhere == []


# --- alert rules ----------------------------------------------------------------


def test_rules_name_only_exported_metrics() -> None:
    known = exported_series() | PROMETHEUS_SERIES
    named = {
        rule.get("alert") or rule["record"]: metric_names(rule["expr"]) for rule in load_rules()
    }
    assert all(named.values()), "a rule names no metric: the extractor missed it"
    unknown = {name: sorted(m - known) for name, m in named.items() if m - known}
    assert unknown == {}


def test_the_issue_asks_for_these_alerts() -> None:
    names = {alert["alert"] for alert in alerts()}
    assert {
        "WarmlineScoringLagGrowing",
        "WarmlineDecisioningLagGrowing",
        "WarmlineIngestErrors",
        "WarmlineDeadLetters",
        "WarmlineEndToEndLatencyHigh",
        "WarmlineNoConsumer",
        "WarmlineModelNotReady",
        "WarmlineKafkaUnreachable",
    } <= names
    assert len(names) == len(alerts()), "an alert name is used twice"


def test_every_alert_has_severity_summary_description_and_runbook() -> None:
    for alert in alerts():
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert annotations["summary"].strip() and annotations["description"].strip(), name


def test_every_runbook_url_points_at_its_entry_in_runbooks_md() -> None:
    anchors = runbook_anchors()
    for alert in alerts():
        name = alert["alert"]
        url = alert["annotations"]["runbook_url"]
        assert url == f"{runbook_base()}#{github_anchor(name)}", name
        assert github_anchor(name) in anchors, f"docs/runbooks.md has no entry for {name}"


def test_every_runbook_entry_is_an_alert_and_its_links_resolve() -> None:
    text = RUNBOOKS.read_text()
    entries = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert sorted(entries) == sorted(alert["alert"] for alert in alerts())
    for anchor in re.findall(r"\]\(#([^)]+)\)", text):
        assert anchor in runbook_anchors(), anchor


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["tests"]:
            for case in group.get("alert_rule_test", []):
                (fired if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - fired == set(), "never seen firing"
    assert names - quiet == set(), "never seen quiet"


# --- dashboards -----------------------------------------------------------------


def test_dashboards_name_only_exported_metrics() -> None:
    known = exported_series() | PROMETHEUS_SERIES
    unknown = [
        (name, title, sorted(metric_names(expr) - known))
        for name, title, expr in dashboard_exprs()
        if metric_names(expr) - known
    ]
    assert unknown == []
    assert all(metric_names(expr) for _, _, expr in dashboard_exprs())


def test_dashboards_cover_what_the_issue_lists() -> None:
    queried = {
        name: set().union(*(metric_names(e) for n, _, e in dashboard_exprs() if n == name))
        for name in dashboards()
    }
    assert {
        "warmline_ingest_events_total",
        "warmline_ingest_rejected_total",
        "warmline_scoring_messages_total",
        "warmline_pipeline_batch_seconds_bucket",
        "warmline_scoring_consumer_lag",
        "warmline_decisions_total",
        "warmline_decision_reasons_total",
        "warmline_notification_end_to_end_seconds_bucket",
        "warmline_notification_consoles",
        "warmline_notification_deliveries_total",
        "warmline_dead_letters_total",
        "warmline_ingest_redactions_total",
    } <= queried["warmline-pipeline.json"]
    assert {
        "warmline_notification_claims_total",
        "warmline_notification_claim_seconds_bucket",
        "warmline_notification_deliveries_total",
        "warmline_notification_high_intensity_claims_total",
        "warmline_notification_exposed_agents",
        "warmline_notification_feedback_total",
    } <= queried["warmline-agents.json"]


def test_dashboards_are_portable_and_distinct() -> None:
    boards = dashboards()
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        # The datasource is picked by variable, so the same JSON works in any Grafana.
        assert variables["datasource"]["type"] == "datasource", name
        # One Prometheus may watch several releases; "All" also matches no namespace label.
        assert variables["namespace"]["allValue"] == ".*", name
        ids = [panel["id"] for panel in panels(board["panels"])]
        assert len(set(ids)) == len(ids), name
        for panel in panels(board["panels"]):
            assert panel["title"], name
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
                assert panel["targets"], (name, panel["title"])
    for name, title, expr in dashboard_exprs():
        selectors = re.findall(r"\bwarmline_[a-z_]+(\{[^}]*\})?", expr)
        unscoped = [s for s in selectors if 'namespace=~"$namespace"' not in s]
        assert unscoped == [], (name, title, expr)


# --- scrape configuration -------------------------------------------------------


def test_prometheus_scrapes_every_service_on_its_metrics_port() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    defaults = WarmlineSettings()
    for service in SERVICES:
        # The job label is the service name: the alert rules select on it.
        targets = [t for c in jobs[service]["static_configs"] for t in c["targets"]]
        assert targets == [f"{service}:{getattr(defaults, service).metrics_port}"], service
    rule_files = [PROMETHEUS_CONFIG.parent / f for f in config["rule_files"]]
    assert rule_files == [RULES]


def test_rules_select_only_jobs_the_scrape_configuration_has() -> None:
    jobs = {j["job_name"] for j in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]}
    for rule in load_rules():
        for selector in re.findall(r'job=~?"([^"]+)"', rule["expr"]):
            named = set(selector.split("|"))
            assert named <= jobs, (rule.get("alert"), named - jobs)


# --- promtool -------------------------------------------------------------------


def _promtool() -> str | None:
    configured = os.environ.get("WARMLINE_PROMTOOL")
    if configured and Path(configured).is_file():
        return configured
    return shutil.which("promtool")


PROMTOOL = _promtool()
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not found: set WARMLINE_PROMTOOL (make rules-check builds it)",
)


@needs_promtool
@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", str(PROMETHEUS_CONFIG)),
        ("check", "rules", str(RULES)),
        ("test", "rules", *map(str, sorted(RULE_TESTS.glob("*.yml")))),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: tuple[str, ...]) -> None:
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    # Each panel query as a recording rule, so promtool parses it; Grafana's range
    # variables become fixed ranges.
    grafana_ranges = {
        "$__rate_interval": "5m",
        "$__range": "1h",
        "$__interval": "1m",
        "$namespace": ".*",
    }
    rules = []
    for number, (_, _, expr) in enumerate(dashboard_exprs()):
        for variable, value in grafana_ranges.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, expr
        rules.append({"record": f"dashboard:query_{number}", "expr": expr})
    rule_file = tmp_path / "dashboards.rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "rules", "--lint=none", str(rule_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
