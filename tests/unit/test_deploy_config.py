"""docker-compose.yml and .env agree with the settings model and the service registry.

There is no Docker engine in CI, so compose is checked by reading it: it is valid
against the Compose Specification's JSON schema, every service runs, every ``${VAR}``
it uses is defined in .env, .env holds the same ports and topic names as
:class:`WarmlineSettings` defaults, and Prometheus and Grafana get their
configuration, rules and dashboards from deploy/.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from warmline.common.settings import (
    NotificationSettings,
    RecordSettings,
    ServicePorts,
    WarmlineSettings,
)
from warmline.common.tenants import TenantDirectory
from warmline.notification.tokens import AgentDirectory
from warmline.record.database import RecordDatabase
from warmline.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_FILE = ROOT / ".env"
# Vendored with its licence and source: tests/fixtures/compose-spec/README.md.
COMPOSE_SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"
MAKEFILE = ROOT / "Makefile"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
# ${NAME}, ${NAME:?message}, ${NAME:-default} and the other compose forms.
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}")
PORT_FIELDS = ("grpc_port", "http_port", "metrics_port")
TOPIC_FIELDS = (
    "prefix",
    "interactions",
    "scored",
    "escalations",
    "feedback",
    "deadletter",
    "agent_actions",
    "overload_alerts",
)


def read_env_file() -> dict[str, str]:
    """KEY=VALUE lines of .env (compose's syntax, minus quoting, which .env does not use)."""
    variables: dict[str, str] = {}
    for number, line in enumerate(ENV_FILE.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f".env:{number}: not KEY=VALUE: {line!r}"
        assert key not in variables, f".env:{number}: {key} defined twice"
        variables[key] = value
    return variables


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR...}`` substitution, for the variables .env defines."""
    return COMPOSE_VARIABLE.sub(lambda m: variables[m.group(1)], text)


def settings_services() -> list[str]:
    """Service names as the settings model knows them (sections with ports)."""
    return [
        name
        for name, field in WarmlineSettings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, ServicePorts)
    ]


def env_name(*parts: str) -> str:
    """The variable that sets a nested setting, e.g. WARMLINE_KAFKA__BOOTSTRAP_SERVERS."""
    return "WARMLINE_" + "__".join(p.upper() for p in parts)


def settings_with(variables: dict[str, str]) -> WarmlineSettings:
    """Settings built from exactly these WARMLINE_* variables; the environment is restored."""
    with pytest.MonkeyPatch.context() as mp:
        # A developer's own WARMLINE_* variables must not leak into these checks.
        for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
            mp.delenv(key)
        for key, value in variables.items():
            mp.setenv(key, value)
        return WarmlineSettings()


@pytest.fixture(scope="module")
def defaults() -> WarmlineSettings:
    return settings_with({})


@pytest.fixture(scope="module")
def from_env_file() -> WarmlineSettings:
    return settings_with(read_env_file())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), read_env_file()))
    return loaded


def test_env_file_only_sets_warmline_variables() -> None:
    assert all(key.startswith("WARMLINE_") for key in read_env_file())


def test_env_file_parses_into_settings(from_env_file: WarmlineSettings) -> None:
    assert (
        from_env_file.kafka.bootstrap_servers
        == read_env_file()[env_name("kafka", "bootstrap_servers")]
    )


def test_env_file_holds_every_port_and_topic(defaults: WarmlineSettings) -> None:
    variables = read_env_file()
    for service in settings_services():
        for field in PORT_FIELDS:
            assert env_name(service, field) in variables
    for field in TOPIC_FIELDS:
        assert env_name("topics", field) in variables


def test_env_file_equals_settings_defaults(
    from_env_file: WarmlineSettings, defaults: WarmlineSettings
) -> None:
    # Only the broker address differs: it names the compose service.
    assert from_env_file.model_dump(exclude={"kafka"}) == defaults.model_dump(exclude={"kafka"})
    for service in settings_services():
        for field in PORT_FIELDS:
            assert getattr(getattr(from_env_file, service), field) == getattr(
                getattr(defaults, service), field
            ), f"{service}.{field}"
    for field in TOPIC_FIELDS:
        assert getattr(from_env_file.topics, field) == getattr(defaults.topics, field), field


def test_bootstrap_points_at_compose_kafka(
    compose: dict[str, Any], from_env_file: WarmlineSettings
) -> None:
    host, _, port = from_env_file.kafka.bootstrap_servers.partition(":")
    kafka = compose["services"][host]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"]), kafka["image"]
    environment = kafka["environment"]
    assert environment["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert f"//{host}:{port}" in environment["KAFKA_ADVERTISED_LISTENERS"]


def test_every_service_runs_in_compose(compose: dict[str, Any]) -> None:
    names = set(SERVICES) | set(settings_services())
    services = compose["services"]
    for name in names:
        assert name in services, f"{name} has no compose service"
        service = services[name]
        assert service["command"] == ["serve", name]
        # The scoring image runs the model without torch; the others share the lean one.
        target = "scoring" if name == "scoring" else "services"
        assert service["build"] == {"context": ".", "target": target}
        assert f" AS {target}\n" in DOCKERFILE.read_text()
        assert service["env_file"] == ".env"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]


def test_compose_reads_only_variables_from_env_file() -> None:
    used = set(COMPOSE_VARIABLE.findall(COMPOSE.read_text()))
    assert used
    assert used <= set(read_env_file())


def test_published_ports_equal_settings(
    compose: dict[str, Any], defaults: WarmlineSettings
) -> None:
    for name in settings_services():
        section: ServicePorts = getattr(defaults, name)
        expected = {getattr(section, field) for field in PORT_FIELDS} - {0}
        published = compose["services"][name]["ports"]
        assert {int(p.rpartition(":")[2]) for p in published} == expected, name
        assert all(p.split(":")[0] == p.split(":")[1] for p in published), name


def test_the_compose_console_links_to_the_records_published_pages(
    compose: dict[str, Any], defaults: WarmlineSettings
) -> None:
    environment = compose["services"]["notification"]["environment"]
    url = environment["WARMLINE_NOTIFICATION__RECORD_URL"]
    port = defaults.record.http_port
    assert url == f"http://localhost:{port}"
    assert f"{port}:{port}" in compose["services"]["record"]["ports"]
    assert NotificationSettings(record_url=url).record_url == url  # a valid setting
    # ...and the record's pages take the agent's token from that console only.
    console = compose["services"]["record"]["environment"]["WARMLINE_RECORD__CONSOLE_URL"]
    console_port = defaults.notification.http_port
    assert console == f"http://localhost:{console_port}"
    assert f"{console_port}:{console_port}" in compose["services"]["notification"]["ports"]
    assert RecordSettings(console_url=console).console_url == console


def test_compose_mounts_the_credentials_each_service_requires(compose: dict[str, Any]) -> None:
    # Without them `serve ingestion` and `serve notification` refuse to start, and
    # scoring's Score refuses every call.
    loaders = {
        "ingestion": ("WARMLINE_INGESTION__API_KEYS_FILE", TenantDirectory.from_file),
        "scoring": ("WARMLINE_SCORING__API_KEYS_FILE", TenantDirectory.from_file),
        "notification": ("WARMLINE_NOTIFICATION__AGENT_TOKENS_FILE", AgentDirectory.from_file),
    }
    for name, (variable, load) in loaders.items():
        service = compose["services"][name]
        inside = service["environment"][variable]
        mounts = dict(v.rsplit(":", 1)[0].split(":", 1)[::-1] for v in service["volumes"])
        assert inside in mounts, f"{name}: {inside} is not mounted"
        load(ROOT / mounts[inside])  # parses with the service's own loader


def test_the_record_writes_into_the_postgres_profiles_database_when_told(
    compose: dict[str, Any],
) -> None:
    record, postgres = compose["services"]["record"], compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    # Without the two variables in the shell the record stays on SQLite.
    environment = record["environment"]
    assert environment["WARMLINE_RECORD__DATABASE_URL"] is None
    assert environment["WARMLINE_RECORD__DATABASE_PASSWORD_FILE"] is None
    assert record["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert record["depends_on"]["postgres"] == {"condition": "service_healthy", "required": False}
    # The command in the compose file's comment: its URL names the postgres service,
    # user and database, and its password file is the secret both mount.
    given = dict(re.findall(r"(WARMLINE_RECORD__DATABASE_\w+)=(\S+)", COMPOSE.read_text()))
    secret = "record-database-password"
    assert secret in record["secrets"] and secret in postgres["secrets"]
    inside = f"/run/secrets/{secret}"
    assert given["WARMLINE_RECORD__DATABASE_PASSWORD_FILE"] == inside
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == inside
    settings = RecordSettings(
        database_url=given["WARMLINE_RECORD__DATABASE_URL"],
        database_password_file=ROOT / compose["secrets"][secret]["file"],
    )
    database = RecordDatabase.from_settings(settings)
    assert database.url == (
        f"postgresql://{postgres['environment']['POSTGRES_USER']}@postgres:5432/"
        f"{postgres['environment']['POSTGRES_DB']}"
    )
    assert (ROOT / compose["secrets"][secret]["file"]).read_text().strip()


def compose_schema_errors(document: dict[str, Any]) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_schema_errors(compose) == []


def test_the_schema_check_catches_a_misspelt_key(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["prometheus"]["volume"] = broken["services"]["prometheus"].pop("volumes")
    assert compose_schema_errors(broken)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (or volume name) of a service's short-syntax volumes."""
    pairs = (v.removesuffix(":ro").split(":", 1) for v in service["volumes"])
    return {inside: source for source, inside in pairs}


def test_prometheus_reads_its_config_and_rules_from_deploy(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert all(v.endswith(":ro") for v in prometheus["volumes"] if v.startswith("./"))
    # Every scrape target is a compose service.
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    hosts = {
        target.rpartition(":")[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert hosts - {"localhost"} <= set(compose["services"])


def test_prometheus_image_is_the_release_of_make_rules_check_promtool(
    compose: dict[str, Any],
) -> None:
    # The prometheus Go module's v0.3XX.Y is Prometheus 3.XX.Y.
    found = re.search(r"^PROMTOOL_VERSION \?= v0\.3(\d\d)\.(\d+)$", MAKEFILE.read_text(), re.M)
    assert found, "PROMTOOL_VERSION not found in the Makefile"
    minor, patch = int(found.group(1)), int(found.group(2))
    assert compose["services"]["prometheus"]["image"] == f"prom/prometheus:v3.{minor}.{patch}"


def test_grafana_is_provisioned_from_deploy_for_anonymous_viewers(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    environment = grafana["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert all(p.startswith("127.0.0.1:") for p in grafana["ports"])
    mounted = mounts(grafana)
    for kind in ("datasources", "dashboards"):
        source = mounted[f"/etc/grafana/provisioning/{kind}"]
        assert (ROOT / source).resolve() == GRAFANA / "provisioning" / kind
    # The dashboards provider reads the folder the JSON files are mounted at.
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "warmline.yml").read_text()
    )
    inside = provider["providers"][0]["options"]["path"]
    assert (ROOT / mounted[inside]).resolve() == GRAFANA / "dashboards"
    home = environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(inside + "/")
    assert (GRAFANA / "dashboards" / home.removeprefix(inside + "/")).is_file()
    # The datasource is the compose Prometheus, on the port it listens on.
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert [d["url"] for d in datasources] == ["http://prometheus:9090"]
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"
