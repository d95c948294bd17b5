"""The Helm chart renders valid Kubernetes objects that agree with the settings model.

Two value sets are rendered with ``helm template``: the defaults and
``ci/all-features-values.yaml`` (secured Kafka, KEDA, ServiceMonitors, the
PrometheusRule, dashboards, Ingresses). Built-in kinds are checked against the
Kubernetes 1.30 schemas (``kubernetes_validate``, strict: unknown fields fail);
custom resources (Prometheus Operator, KEDA) against their CRDs' schemas, exported
from PyPI packages into tests/fixtures/crd_schemas/ (``make chart-crd-schemas``)
and closed to unknown fields the same way.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from warmline.common.settings import ServicePorts, WarmlineSettings
from warmline.services import SERVICES

Manifest = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "warmline"
ALL_FEATURES = CHART / "ci" / "all-features-values.yaml"
CRD_SCHEMAS = ROOT / "tests" / "fixtures" / "crd_schemas"
KUBE_VERSION = "1.30"
RELEASE = "wl"
# Custom resources the Kubernetes schema bundle does not know: kind -> apiVersion.
CRD_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
}
# deploy/ holds the alert rules and dashboards; the chart carries copies (make chart-files).
SYNCED_FILES = {
    ROOT / "deploy" / "prometheus" / "rules": (CHART / "files" / "prometheus", "*.rules.yml"),
    ROOT / "deploy" / "grafana" / "dashboards": (CHART / "files" / "dashboards", "*.json"),
}
SECRETS_DIR = "/var/run/secrets/warmline/"
KEDA_ON = (
    "--set",
    "services.scoring.keda.enabled=true",
    "--set",
    "services.decisioning.keda.enabled=true",
)
# Which topic and group each KEDA-scaled service consumes, in settings terms.
KEDA_SOURCES: dict[str, tuple[str, Callable[[WarmlineSettings], str]]] = {
    "scoring": ("interactions", lambda s: s.scoring.consumer_group),
    "decisioning": ("scored", lambda s: s.decisioning.app_id),
}


def _helm() -> str | None:
    configured = os.environ.get("WARMLINE_HELM")
    if configured and Path(configured).is_file():
        return configured
    return shutil.which("helm")


HELM = _helm()
pytestmark = pytest.mark.skipif(
    HELM is None, reason="helm not found: set WARMLINE_HELM or put helm on PATH (make chart)"
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm on the chart; the caller checks the outcome."""
    assert HELM is not None
    return subprocess.run([HELM, *args], capture_output=True, text=True, check=False)


def render(*values: str) -> list[Manifest]:
    """The chart's manifests for the given ``--set`` arguments."""
    # The chart needs a kube version with gRPC probes; pin the one we validate against.
    done = helm("template", RELEASE, str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *values)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    """Manifests of one kind by component name."""
    return {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in docs if d["kind"] == kind
    }


def container(deployment: Manifest) -> Manifest:
    """The one container of a component's pod."""
    containers: list[Manifest] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(deployment: Manifest) -> dict[str, str]:
    """The plain-value environment of a component's container."""
    return {e["name"]: e["value"] for e in container(deployment).get("env", []) if "value" in e}


def settings_services() -> set[str]:
    """Service names as the settings model knows them (sections with ports)."""
    return {
        name
        for name, field in WarmlineSettings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, ServicePorts)
    }


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


@pytest.fixture(scope="module")
def default_docs() -> list[Manifest]:
    return render()


@pytest.fixture(scope="module")
def keda_docs() -> list[Manifest]:
    return render(*KEDA_ON)


@pytest.fixture(scope="module")
def all_docs() -> list[Manifest]:
    return render("--values", str(ALL_FEATURES))


@pytest.fixture(scope="module")
def all_values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ALL_FEATURES.read_text())
    return loaded


@pytest.fixture(scope="module")
def defaults() -> Iterator[WarmlineSettings]:
    # Defaults only: a developer's WARMLINE_* variables must not leak in.
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
            mp.delenv(key)
        yield WarmlineSettings()


@functools.cache
def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    """A validator for one custom resource kind, from its exported CRD schema."""
    schema = json.loads((CRD_SCHEMAS / f"{kind.lower()}.json").read_text())
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema)
    return validator


def assert_valid(docs: list[Manifest]) -> None:
    assert docs
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in CRD_KINDS:
            assert doc["apiVersion"] == CRD_KINDS[doc["kind"]], where
            error = jsonschema.exceptions.best_match(crd_validator(doc["kind"]).iter_errors(doc))
            if error is not None:
                path = ".".join(str(p) for p in error.absolute_path)
                pytest.fail(f"{where}: {path}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{where}: {path}: {e.message}")


@pytest.mark.parametrize("values_file", [None, ALL_FEATURES], ids=["defaults", "all-features"])
def test_chart_lints(values_file: Path | None) -> None:
    extra = ("--values", str(values_file)) if values_file else ()
    done = helm("lint", "--strict", str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *extra)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_chart_renders_without_flags() -> None:
    done = helm("template", RELEASE, str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kind: Deployment" in done.stdout


def test_default_manifests_validate(default_docs: list[Manifest]) -> None:
    assert_valid(default_docs)


def test_keda_manifests_validate(keda_docs: list[Manifest]) -> None:
    assert_valid(keda_docs)


def test_all_features_manifests_validate(all_docs: list[Manifest]) -> None:
    assert_valid(all_docs)
    # The value set really switches every optional object on.
    assert {d["kind"] for d in all_docs} >= {
        "ConfigMap",
        "Ingress",
        "PrometheusRule",
        "ScaledObject",
        "ServiceMonitor",
        "TriggerAuthentication",
    }


def test_optional_objects_are_off_by_default(default_docs: list[Manifest]) -> None:
    assert {d["kind"] for d in default_docs} == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "HorizontalPodAutoscaler",
    }


def test_a_crd_schema_refuses_an_unknown_field() -> None:
    # Guards the guard: the exported schemas must be closed, or the checks above pass anything.
    monitor = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "x"},
        "spec": {"selector": {}, "endpoints": [{"port": "metrics", "intervall": "30s"}]},
    }
    errors = list(crd_validator("ServiceMonitor").iter_errors(monitor))
    assert any("intervall" in e.message for e in errors), errors


def process_of(values: dict[str, Any], component: str) -> str:
    """The service a component runs (``settings``, else its own name)."""
    return str(values["services"][component].get("settings", component))


def test_values_cover_every_service(values: dict[str, Any]) -> None:
    assert {process_of(values, name) for name in values["services"]} == settings_services()
    assert set(SERVICES) <= set(values["services"])


def test_every_service_gets_its_objects(
    values: dict[str, Any], default_docs: list[Manifest]
) -> None:
    enabled = {n for n, svc in values["services"].items() if svc.get("enabled", True)}
    assert enabled == set(values["services"]) - {"decisioning-shadow"}
    for kind in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"):
        assert set(of_kind(default_docs, kind)) == enabled, kind


def test_containers_are_hardened(default_docs: list[Manifest], keda_docs: list[Manifest]) -> None:
    for name, deployment in (
        of_kind(default_docs, "Deployment") | of_kind(keda_docs, "Deployment")
    ).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        # Kubernetes service links would add WARMLINE_*-prefixed variables.
        assert pod["enableServiceLinks"] is False, name
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in sc["capabilities"], name
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_ports_equal_settings_defaults(
    default_docs: list[Manifest], defaults: WarmlineSettings
) -> None:
    services = of_kind(default_docs, "Service")
    for name, deployment in of_kind(default_docs, "Deployment").items():
        section: ServicePorts = getattr(defaults, name)
        expected = {
            port: number
            for port, number in (
                ("grpc", section.grpc_port),
                ("http", section.http_port),
                ("metrics", section.metrics_port),
            )
            if number  # 0: no such listener, so nothing to expose
        }
        exposed = {p["name"]: p["containerPort"] for p in container(deployment)["ports"]}
        assert exposed == expected, name
        assert {p["name"]: p["port"] for p in services[name]["spec"]["ports"]} == expected, name
        env = env_of(deployment)
        prefix = f"WARMLINE_{name.upper()}__"
        assert int(env[f"{prefix}GRPC_PORT"]) == section.grpc_port, name
        assert int(env[f"{prefix}HTTP_PORT"]) == section.http_port, name
        assert int(env[f"{prefix}METRICS_PORT"]) == section.metrics_port, name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(section.metrics_port), name
        assert annotations["prometheus.io/path"] == "/metrics", name


def test_probes(default_docs: list[Manifest], defaults: WarmlineSettings) -> None:
    for name, deployment in of_kind(default_docs, "Deployment").items():
        section: ServicePorts = getattr(defaults, name)
        c = container(deployment)
        if section.grpc_port:
            assert c["readinessProbe"]["grpc"] == {"port": section.grpc_port}, name
        else:
            assert c["readinessProbe"]["httpGet"] == {
                "path": "/readyz",
                "port": section.metrics_port,
            }, name
        for probe in ("livenessProbe", "startupProbe"):
            assert c[probe]["httpGet"] == {"path": "/healthz", "port": section.metrics_port}, name


def test_decisioning_is_probed_over_http(default_docs: list[Manifest]) -> None:
    probe = container(of_kind(default_docs, "Deployment")["decisioning"])["readinessProbe"]
    assert probe["httpGet"] == {"path": "/readyz", "port": 9103}


def test_two_images_one_command(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    images = {name: container(d)["image"] for name, d in deployments.items()}
    # Scoring runs its own image (no torch); every other service shares the lean one.
    scoring = images.pop("scoring")
    assert scoring.startswith("ghcr.io/warmline/warmline-scoring:")
    assert len(set(images.values())) == 1
    assert scoring.split(":")[1] == next(iter(images.values())).split(":")[1]
    for name, deployment in deployments.items():
        c = container(deployment)
        assert c["command"] + c["args"] == ["warmline", "serve", name]


def secret_of_file(deployment: Manifest, path: str) -> tuple[str, str]:
    """The Secret and key a file in the pod comes from; its mount must be read-only."""
    pod = deployment["spec"]["template"]["spec"]
    directory, _, file = path.rpartition("/")
    (mount,) = [m for m in container(deployment)["volumeMounts"] if m["mountPath"] == directory]
    assert mount["readOnly"] is True, path
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = [i for i in volume["secret"]["items"] if i["path"] == file]
    return volume["secret"]["secretName"], item["key"]


def test_secret_files_are_mounted_read_only(
    default_docs: list[Manifest], all_docs: list[Manifest]
) -> None:
    for docs in (default_docs, all_docs):
        for deployment in of_kind(docs, "Deployment").values():
            for value in env_of(deployment).values():
                if value.startswith(SECRETS_DIR):
                    secret_of_file(deployment, value)
    deployments = of_kind(default_docs, "Deployment")
    for name, variable, secret in (
        ("ingestion", "WARMLINE_INGESTION__API_KEYS_FILE", "warmline-ingestion-api-keys"),
        # Score takes the same tenants' keys.
        ("scoring", "WARMLINE_SCORING__API_KEYS_FILE", "warmline-ingestion-api-keys"),
        (
            "notification",
            "WARMLINE_NOTIFICATION__AGENT_TOKENS_FILE",
            "warmline-notification-agent-tokens",
        ),
    ):
        path = env_of(deployments[name])[variable]
        assert secret_of_file(deployments[name], path)[0] == secret


def settings_from(
    deployment: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> WarmlineSettings:
    """The settings the container would load, with stand-ins for what Kubernetes supplies.

    Mounted files become temporary files (the settings check that they exist) and
    variables read from a Secret hold "<secret>/<key>"; other references (a
    ConfigMap of the operator's) are left to the settings' defaults.
    """
    for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
        monkeypatch.delenv(key)
    for entry in container(deployment)["env"]:
        if "value" in entry:
            value = entry["value"]
            if value.startswith(SECRETS_DIR):
                stand_in = tmp_path / value.removeprefix(SECRETS_DIR)
                stand_in.parent.mkdir(parents=True, exist_ok=True)
                stand_in.write_text(f"contents of {value}\n")
                value = str(stand_in)
            monkeypatch.setenv(entry["name"], value)
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            monkeypatch.setenv(entry["name"], f"{ref['name']}/{ref['key']}")
    try:
        return WarmlineSettings()
    except ValidationError as e:
        pytest.fail(f"the chart sets variables the settings model refuses:\n{e}")


@pytest.mark.parametrize("docs_fixture", ["default_docs", "all_docs"])
def test_rendered_environment_parses_into_settings(
    docs_fixture: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs: list[Manifest] = request.getfixturevalue(docs_fixture)
    for deployment in of_kind(docs, "Deployment").values():
        settings = settings_from(deployment, tmp_path, monkeypatch)
        process = container(deployment)["args"][1]
        section: ServicePorts = getattr(settings, process)
        assert section.metrics_port == int(
            env_of(deployment)[f"WARMLINE_{process.upper()}__METRICS_PORT"]
        )


def test_the_chart_creates_topics_for_a_production_cluster(
    default_docs: list[Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The settings' defaults (1 and 1) suit one local broker; the chart's are production's.
    for name, deployment in of_kind(default_docs, "Deployment").items():
        topics = settings_from(deployment, tmp_path, monkeypatch).topics
        assert (topics.replication_factor, topics.min_insync_replicas) == (3, 2), name


# --- Kafka security: Secrets mounted as files, the WARMLINE_KAFKA__* settings pointing at them


def test_kafka_credentials_and_certificates_come_from_secrets(
    all_docs: list[Manifest],
    all_values: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sasl, tls = all_values["kafka"]["sasl"], all_values["kafka"]["tls"]
    for name, deployment in of_kind(all_docs, "Deployment").items():
        env = env_of(deployment)
        files = {
            variable: secret_of_file(deployment, env[f"WARMLINE_KAFKA__{variable}"])
            for variable in ("SASL_PASSWORD_FILE", "SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE")
        }
        assert files == {
            "SASL_PASSWORD_FILE": (sasl["secretName"], "password"),
            "SSL_CAFILE": (tls["caSecretName"], "ca.crt"),
            "SSL_CERTFILE": (tls["clientSecretName"], "tls.crt"),
            "SSL_KEYFILE": (tls["clientSecretName"], "tls.key"),
        }, name
        variables = {e["name"]: e for e in container(deployment)["env"]}
        assert variables["WARMLINE_KAFKA__SASL_USERNAME"]["valueFrom"] == {
            "secretKeyRef": {"name": sasl["secretName"], "key": "username"}
        }, name
        # The password itself never appears in the pod spec.
        assert "WARMLINE_KAFKA__SASL_PASSWORD" not in variables, name

        kafka = settings_from(deployment, tmp_path, monkeypatch).kafka
        assert kafka.security_protocol == "SASL_SSL", name
        assert kafka.sasl_mechanism == sasl["mechanism"], name
        assert kafka.sasl_username == f"{sasl['secretName']}/username", name
        assert kafka.password() == f"contents of {SECRETS_DIR}kafka-sasl/password", name
        assert kafka.ssl_check_hostname is tls["checkHostname"] is False, name


def test_tls_with_the_system_trust_store_needs_no_secret() -> None:
    docs = render(*KEDA_ON, "--set", "kafka.securityProtocol=SSL")
    assert_valid(docs)
    for name, deployment in of_kind(docs, "Deployment").items():
        env = env_of(deployment)
        assert env["WARMLINE_KAFKA__SECURITY_PROTOCOL"] == "SSL", name
        assert env["WARMLINE_KAFKA__SSL_CHECK_HOSTNAME"] == "true", name
        kafka_files = {"SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE", "SASL_PASSWORD_FILE"}
        assert not {f"WARMLINE_KAFKA__{v}" for v in kafka_files} & env.keys(), name
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert not [v for v in volumes if v["name"].startswith("kafka-")], name
    assert not [d for d in docs if d["kind"] == "TriggerAuthentication"]
    for name, scaled in of_kind(docs, "ScaledObject").items():
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["tls"] == "enable", name
        assert "sasl" not in trigger["metadata"], name
        assert "authenticationRef" not in trigger, name


def test_keda_reads_the_lag_with_the_same_secrets(
    all_docs: list[Manifest], all_values: dict[str, Any]
) -> None:
    (auth,) = [d for d in all_docs if d["kind"] == "TriggerAuthentication"]
    params = {p["parameter"]: (p["name"], p["key"]) for p in auth["spec"]["secretTargetRef"]}
    deployment = of_kind(all_docs, "Deployment")["scoring"]
    env = env_of(deployment)
    assert params == {
        "username": (all_values["kafka"]["sasl"]["secretName"], "username"),
        "password": secret_of_file(deployment, env["WARMLINE_KAFKA__SASL_PASSWORD_FILE"]),
        "ca": secret_of_file(deployment, env["WARMLINE_KAFKA__SSL_CAFILE"]),
        "cert": secret_of_file(deployment, env["WARMLINE_KAFKA__SSL_CERTFILE"]),
        "key": secret_of_file(deployment, env["WARMLINE_KAFKA__SSL_KEYFILE"]),
    }
    scaled = of_kind(all_docs, "ScaledObject")
    assert set(scaled) == {"scoring", "decisioning"}
    for name, so in scaled.items():
        (trigger,) = so["spec"]["triggers"]
        # KEDA's spelling of SCRAM-SHA-512 over TLS.
        assert trigger["metadata"]["sasl"] == "scram_sha512", name
        assert trigger["metadata"]["tls"] == "enable", name
        assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}, name


def test_a_services_own_keda_authentication_wins() -> None:
    own = ("--set", "services.scoring.keda.authenticationRef.name=scoring-kafka")
    docs = render("--values", str(ALL_FEATURES), *own)
    refs = {
        name: so["spec"]["triggers"][0]["authenticationRef"]["name"]
        for name, so in of_kind(docs, "ScaledObject").items()
    }
    assert refs == {"scoring": "scoring-kafka", "decisioning": f"{RELEASE}-warmline-kafka"}
    docs = render(
        "--values",
        str(ALL_FEATURES),
        *own,
        "--set",
        "services.decisioning.keda.authenticationRef.name=decisioning-kafka",
    )
    assert not [d for d in docs if d["kind"] == "TriggerAuthentication"]


def test_autoscaling_defaults(default_docs: list[Manifest]) -> None:
    assert set(of_kind(default_docs, "HorizontalPodAutoscaler")) == {"ingestion", "notification"}
    assert of_kind(default_docs, "ScaledObject") == {}
    for name, deployment in of_kind(default_docs, "Deployment").items():
        # The autoscaler owns the replica count; a fixed one would fight it.
        scaled = name in {"ingestion", "notification"}
        assert ("replicas" in deployment["spec"]) != scaled, name


def test_hpa_targets_cpu(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    for name, hpa in of_kind(default_docs, "HorizontalPodAutoscaler").items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["name"] == deployments[name]["metadata"]["name"]
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
        assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]


def test_scaled_objects(keda_docs: list[Manifest], defaults: WarmlineSettings) -> None:
    scaled = of_kind(keda_docs, "ScaledObject")
    deployments = of_kind(keda_docs, "Deployment")
    assert set(scaled) == set(KEDA_SOURCES)
    for name, so in scaled.items():
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        spec = so["spec"]
        assert spec["scaleTargetRef"]["name"] == deployments[name]["metadata"]["name"]
        assert "replicas" not in deployments[name]["spec"]
        assert spec["minReplicaCount"] >= 1
        # More consumers than partitions would sit idle.
        assert spec["minReplicaCount"] <= spec["maxReplicaCount"] <= defaults.topics.partitions
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        topic, group = KEDA_SOURCES[name]
        assert (
            meta["bootstrapServers"]
            == env_of(deployments[name])["WARMLINE_KAFKA__BOOTSTRAP_SERVERS"]
        )
        assert meta["consumerGroup"] == group(defaults)
        assert meta["topic"] == defaults.topics.name(topic)
        # KEDA reads trigger metadata as strings.
        assert isinstance(meta["lagThreshold"], str)
        assert int(meta["lagThreshold"]) > 0
    assert set(of_kind(keda_docs, "HorizontalPodAutoscaler")).isdisjoint(scaled)


def test_keda_topic_carries_the_prefix() -> None:
    docs = render(*KEDA_ON, "--set", "env.WARMLINE_TOPICS__PREFIX=prod.")
    topics = {
        name: so["spec"]["triggers"][0]["metadata"]["topic"]
        for name, so in of_kind(docs, "ScaledObject").items()
    }
    assert topics == {
        "scoring": "prod.warmline.interactions.v1",
        "decisioning": "prod.warmline.scored.v1",
    }


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        (("services.ingestion.keda.enabled=true",), "not both"),
        (
            ("services.scoring.keda.enabled=true", "services.scoring.keda.minReplicaCount=0"),
            "at '/services/scoring/keda/minReplicaCount': minimum: got 0, want 1",
        ),
        (
            ("services.fake.ports.grpc=50099",),
            "at '/services/fake/ports': missing property 'metrics'",
        ),
        (
            ("kafka.securityProtocol=SASL_SSL",),
            "kafka.securityProtocol=SASL_SSL needs kafka.sasl.secretName: a Secret holding "
            "the keys username and password",
        ),
        (
            ("kafka.tls.caSecretName=kafka-ca",),
            "kafka.tls.caSecretName/clientSecretName are set but "
            "kafka.securityProtocol=PLAINTEXT uses no TLS",
        ),
        (
            ("kafka.securityProtocol=SSL", "kafka.sasl.secretName=kafka-credentials"),
            "kafka.sasl.secretName is set but kafka.securityProtocol=SSL uses no SASL",
        ),
        (
            ("env.WARMLINE_KAFKA__SASL_PASSWORD=hunter2",),
            "env: WARMLINE_KAFKA__SASL_PASSWORD is set by the chart from the kafka block",
        ),
        (
            ("services.scoring.env.WARMLINE_KAFKA__SSL_CAFILE=/ca.pem",),
            "services.scoring.env: WARMLINE_KAFKA__SSL_CAFILE is set by the chart",
        ),
        (
            ("services.scoring.ingress.http.enabled=true",),
            "services.scoring.ingress.http: the service has no http port",
        ),
        (
            ("services.ingestion.ingress.grpc.enabled=true",),
            "services.ingestion.ingress.grpc.host is required when the Ingress is enabled",
        ),
        (
            ("services.record.database.existingSecret=pg-password",),
            "services.record.database.existingSecret is set without database.url",
        ),
    ],
)
def test_invalid_values_are_refused(settings: tuple[str, ...], error: str) -> None:
    args = [arg for s in settings for arg in ("--set", s)]
    done = helm("template", RELEASE, str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *args)
    assert done.returncode != 0
    assert error in done.stderr


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A values.schema.json node with its $ref and allOf parts merged in."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        node = {**schema["definitions"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    for part in node.get("allOf", []):
        node = {**resolve(schema, part), **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def uncovered(schema: dict[str, Any], node: dict[str, Any], value: Any, path: str) -> list[str]:
    """Paths in ``value`` that the schema does not describe by name or by a map's value type."""
    node = resolve(schema, node)
    missing: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in node.get("properties", {}):
                child = node["properties"][key]
            elif isinstance(node.get("additionalProperties"), dict):
                child = node["additionalProperties"]
            elif node.get("type") == "object" and "properties" not in node:
                continue  # a Kubernetes object passed through whole (securityContext, ...)
            else:
                missing.append(f"{path}{key}")
                continue
            missing += uncovered(schema, child, item, f"{path}{key}.")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for item in value:
            missing += uncovered(schema, node["items"], item, f"{path}[].")
    return missing


def closed_objects(node: Any, path: str = "") -> list[str]:
    """Schema nodes that name properties but leave others open."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in closed_objects(item, f"{path}/{i}")]
    if not isinstance(node, dict):
        return []
    found = [path] if "properties" in node and node.get("additionalProperties") is not False else []
    return found + [p for k, v in node.items() for p in closed_objects(v, f"{path}/{k}")]


def test_values_schema_covers_every_value(
    values: dict[str, Any], all_values: dict[str, Any]
) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert uncovered(schema, schema, values, "") == []
    assert uncovered(schema, schema, all_values, "") == []
    # Every block that lists its keys refuses the others, so a typo fails.
    assert closed_objects(schema) == []


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        ("kafka.securityProtocl=SASL_SSL", "at '/kafka': additional properties 'securityProtocl'"),
        (
            "kafka.securityProtocol=SASL_TLS",
            "at '/kafka/securityProtocol': value must be one of 'PLAINTEXT', 'SSL', "
            "'SASL_PLAINTEXT', 'SASL_SSL'",
        ),
        ("kafka.sasl.mechanism=SCRAM", "at '/kafka/sasl/mechanism': value must be one of"),
        ("services.ingestion.replicas=two", "at '/services/ingestion/replicas': got string"),
        (
            "services.scoring.keda.lagTreshold=50",
            "at '/services/scoring/keda': additional properties 'lagTreshold'",
        ),
        (
            "monitoring.serviceMonitor.interval=30",
            "at '/monitoring/serviceMonitor/interval': got number, want string",
        ),
        ("dashboards.enable=true", "at '/dashboards': additional properties 'enable'"),
        (
            "services.record.database.url=postgresql://warmline:hunter2@pg:5432/warmline",
            "at '/services/record/database/url'",
        ),
        (
            "services.notification.ingress.grpc.tls=x",
            "at '/services/notification/ingress/grpc': additional properties 'tls'",
        ),
    ],
)
def test_a_wrong_value_is_refused_by_the_schema(setting: str, error: str) -> None:
    done = helm(
        "template", RELEASE, str(CHART), "--kube-version", f"{KUBE_VERSION}.0", "--set", setting
    )
    assert done.returncode != 0
    assert error in done.stderr


def test_lint_refuses_a_misspelled_value() -> None:
    done = helm("lint", str(CHART), "--set", "monitoring.serviceMonitor.enabeld=true")
    assert done.returncode != 0
    assert "at '/monitoring/serviceMonitor': additional properties 'enabeld'" in done.stdout


def test_network_policies_cover_every_port(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    for name, policy in of_kind(default_docs, "NetworkPolicy").items():
        spec = policy["spec"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items(), name
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}, name
        allowed = {p["port"] for rule in spec["ingress"] for p in rule["ports"]}
        assert allowed == {p["containerPort"] for p in container(deployments[name])["ports"]}, name


def broker_ports(policy: Manifest) -> set[int]:
    """Ports of the brokers' egress rule (the chart writes it after the DNS rule)."""
    dns, brokers = policy["spec"]["egress"][:2]
    assert {p["port"] for p in dns["ports"]} == {53}
    return {p["port"] for p in brokers["ports"]}


def test_kafka_egress_follows_the_bootstrap_servers(
    default_docs: list[Manifest], all_docs: list[Manifest]
) -> None:
    # kafka:9092 by default; the managed cluster of all-features listens on 9096.
    for docs, ports in ((default_docs, {9092}), (all_docs, {9096})):
        for name, policy in of_kind(docs, "NetworkPolicy").items():
            assert broker_ports(policy) == ports, name
    docs = render(
        "--set",
        "env.WARMLINE_KAFKA__BOOTSTRAP_SERVERS=b-1.msk:9096\\,b-2.msk:9096\\,kafka1",
        "--set",
        "services.scoring.env.WARMLINE_KAFKA__BOOTSTRAP_SERVERS=other:9094",
    )
    policies = of_kind(docs, "NetworkPolicy")
    assert broker_ports(policies["ingestion"]) == {9096, 9092}
    assert broker_ports(policies["scoring"]) == {9094}
    docs = render("--set", "networkPolicy.kafka.ports={9093}")
    assert {broker_ports(p) == {9093} for p in of_kind(docs, "NetworkPolicy").values()} == {True}


def test_a_new_service_is_a_values_change() -> None:
    docs = render(
        "--set",
        "services.fake.ports.grpc=50099",
        "--set",
        "services.fake.ports.metrics=9199",
        "--set",
        "services.fake.keda.enabled=true",
        "--set",
        "services.fake.keda.consumerGroup=warmline-fake",
        "--set",
        "services.fake.keda.topic=warmline.fake.v1",
        "--set",
        "services.fake.keda.maxReplicaCount=3",
    )
    assert_valid(docs)
    for kind in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget", "ScaledObject"):
        assert "fake" in of_kind(docs, kind), kind
    fake = container(of_kind(docs, "Deployment")["fake"])
    assert fake["args"] == ["serve", "fake"]
    assert fake["readinessProbe"]["grpc"] == {"port": 50099}


def test_a_service_can_be_switched_off() -> None:
    docs = render("--set", "services.scoring.enabled=false")
    assert "scoring" not in of_kind(docs, "Deployment")
    assert "ingestion" in of_kind(docs, "Deployment")


# --- Monitoring: ServiceMonitors, the PrometheusRule, dashboards; deploy/ is the source


def test_the_chart_carries_deploys_rules_and_dashboards() -> None:
    for source, (chart_copy, pattern) in SYNCED_FILES.items():
        originals = {p.name: p.read_bytes() for p in source.glob(pattern)}
        assert originals, f"nothing matches {pattern} in {source.relative_to(ROOT)}"
        copies = {p.name: p.read_bytes() for p in chart_copy.glob(pattern)}
        stale = sorted(
            n for n in originals.keys() | copies.keys() if originals.get(n) != copies.get(n)
        )
        assert stale == [], (
            f"{chart_copy.relative_to(ROOT)} differs from {source.relative_to(ROOT)} in {stale}: "
            "run make chart-files"
        )


def test_every_service_is_scraped_by_a_service_monitor(all_docs: list[Manifest]) -> None:
    monitors = of_kind(all_docs, "ServiceMonitor")
    services = of_kind(all_docs, "Service")
    assert set(monitors) == set(services)
    for name, monitor in monitors.items():
        spec = monitor["spec"]
        selector = spec["selector"]["matchLabels"].items()
        selected = [n for n, s in services.items() if selector <= s["metadata"]["labels"].items()]
        assert selected == [name]
        (endpoint,) = spec["endpoints"]
        assert endpoint["port"] == "metrics"
        assert "metrics" in {p["name"] for p in services[name]["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("15s", "5s")
        # The alert rules select job="<service>".
        assert services[name]["metadata"]["labels"][spec["jobLabel"]] == name
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def deploy_rule_groups() -> list[dict[str, Any]]:
    """The groups of deploy/'s rule files, in file name order (as Helm reads them)."""
    files = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.rules.yml"))
    return [group for f in files for group in yaml.safe_load(f.read_text())["groups"]]


def test_the_rules_select_the_services_by_job(values: dict[str, Any]) -> None:
    exprs = [rule["expr"] for group in deploy_rule_groups() for rule in group["rules"]]
    jobs = {
        job
        for expr in exprs
        for selector in re.findall(r'job=~?"([^"]+)"', expr)
        for job in selector.split("|")
    }
    assert jobs
    assert jobs <= set(values["services"])


def test_the_prometheus_rule_carries_deploys_rules(
    all_docs: list[Manifest], all_values: dict[str, Any]
) -> None:
    (rule,) = [d for d in all_docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    extra = all_values["monitoring"]["prometheusRule"]["additionalRuleLabels"]
    expected = copy.deepcopy(deploy_rule_groups())
    for group in expected:
        for r in group["rules"]:
            if "alert" in r:
                r["labels"] = {**extra, **r.get("labels", {})}
    assert rule["spec"]["groups"] == expected


def test_dashboards_are_config_maps_for_grafanas_sidecar(
    all_docs: list[Manifest], all_values: dict[str, Any]
) -> None:
    sources = {
        p.name: json.loads(p.read_text())
        for p in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")
    }
    maps = [d for d in all_docs if d["kind"] == "ConfigMap"]
    assert sorted(file for m in maps for file in m["data"]) == sorted(sources)
    settings = all_values["dashboards"]
    for m in maps:
        meta = m["metadata"]
        assert meta["labels"]["grafana_dashboard"] == "1"
        assert meta["namespace"] == settings["namespace"]
        assert meta["annotations"] == settings["annotations"]
        ((file, text),) = m["data"].items()
        assert json.loads(text) == sources[file]
        # A ConfigMap holds at most 1 MiB.
        assert len(text.encode()) < 1 << 20


def test_the_sidecars_label_is_configurable() -> None:
    docs = render(
        "--set",
        "dashboards.enabled=true",
        "--set",
        "dashboards.label=warmline_dashboard",
        "--set",
        "dashboards.labelValue=yes",
    )
    maps = [d for d in docs if d["kind"] == "ConfigMap"]
    assert maps
    for m in maps:
        assert m["metadata"]["labels"]["warmline_dashboard"] == "yes"
        assert "grafana_dashboard" not in m["metadata"]["labels"]
        assert "namespace" not in m["metadata"]


# --- Ingress: ingestion and notification, HTTP and gRPC; the record's pages over HTTP


def test_ingresses_route_to_the_services_ports(
    all_docs: list[Manifest], all_values: dict[str, Any]
) -> None:
    services = of_kind(all_docs, "Service")
    policies = of_kind(all_docs, "NetworkPolicy")
    routed = set()
    for ingress in (d for d in all_docs if d["kind"] == "Ingress"):
        name = ingress["metadata"]["labels"]["app.kubernetes.io/component"]
        spec = ingress["spec"]
        (rule,) = spec["rules"]
        (path,) = rule["http"]["paths"]
        backend = path["backend"]["service"]
        assert backend["name"] == services[name]["metadata"]["name"]
        port = backend["port"]["name"]
        number = next(p["port"] for p in services[name]["spec"]["ports"] if p["name"] == port)
        configured = all_values["services"][name]["ingress"][port]
        assert rule["host"] == configured["host"]
        assert spec["tls"] == [
            {"hosts": [configured["host"]], "secretName": configured["tlsSecretName"]}
        ]
        assert spec["ingressClassName"] == "nginx"
        annotations = ingress["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
        grpc = annotations.get("nginx.ingress.kubernetes.io/backend-protocol") == "GRPC"
        assert grpc == (port == "grpc"), ingress["metadata"]["name"]
        # The controller's pods may reach the port: the NetworkPolicy admits anyone there.
        assert any(
            "from" not in r and number in {p["port"] for p in r["ports"]}
            for r in policies[name]["spec"]["ingress"]
        )
        routed.add((name, port))
    both = {(s, p) for s in ("ingestion", "notification") for p in ("http", "grpc")}
    assert routed == both | {("record", "http")}
    console = next(
        d
        for d in all_docs
        if d["kind"] == "Ingress" and d["metadata"]["name"].endswith("notification-http")
    )
    assert (
        console["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]
        == "3600"
    )


def test_another_controllers_grpc_annotation_replaces_nginxs() -> None:
    alb = "alb.ingress.kubernetes.io/backend-protocol-version"
    docs = render(
        "--set",
        "services.ingestion.ingress.grpc.enabled=true",
        "--set",
        "services.ingestion.ingress.grpc.host=grpc.example.com",
        "--set-json",
        f'ingress.grpcAnnotations={{"nginx.ingress.kubernetes.io/backend-protocol": null, "{alb}": "GRPC"}}',
    )
    assert_valid(docs)
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"] == {alb: "GRPC"}
    assert "ingressClassName" not in ingress["spec"]
    assert "tls" not in ingress["spec"]


def install_examples(readme: Path) -> list[list[str]]:
    """The arguments of each `helm install` in a README's shell blocks."""
    examples = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", readme.read_text(), re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("helm install "):
                examples.append(shlex.split(line)[2:])
    return examples


@pytest.mark.parametrize(
    "readme", [ROOT / "README.md", CHART / "README.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_readmes_install_examples_render(readme: Path) -> None:
    examples = install_examples(readme)
    assert examples
    for release, chart, *args in examples:
        assert (ROOT / chart).resolve() == CHART
        done = helm("template", release, str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *args)
        assert done.returncode == 0, f"{readme.name}: {args}: {done.stderr}"
        assert_valid([doc for doc in yaml.safe_load_all(done.stdout) if doc])


def test_persistent_decisioning_is_a_stateful_set_with_a_volume_and_static_membership(
    all_docs: list[Manifest], keda_docs: list[Manifest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert "decisioning" in of_kind(keda_docs, "Deployment")  # off by default
    assert "decisioning" not in of_kind(all_docs, "Deployment")
    stateful = of_kind(all_docs, "StatefulSet")["decisioning"]
    spec = stateful["spec"]
    [claim] = spec["volumeClaimTemplates"]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    mounts = {m["name"]: m["mountPath"] for m in container(stateful)["volumeMounts"]}
    settings = settings_from(stateful, tmp_path, monkeypatch)
    assert str(settings.decisioning.data_dir) == mounts[claim["metadata"]["name"]]
    assert settings.decisioning.store == "sqlite"
    [pod_name] = [e for e in container(stateful)["env"] if "fieldRef" in e.get("valueFrom", {})]
    assert pod_name["name"] == "WARMLINE_DECISIONING__GROUP_INSTANCE_ID"
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # KEDA scales the StatefulSet.
    target = of_kind(all_docs, "ScaledObject")["decisioning"]["spec"]["scaleTargetRef"]
    assert target == {"kind": "StatefulSet", "name": stateful["metadata"]["name"]}


def test_the_record_writes_into_postgresql_with_its_password_from_a_secret(
    all_docs: list[Manifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = of_kind(all_docs, "Deployment")["record"]
    env = env_of(record)
    url = "postgresql://warmline@pg.example.net:6432/warmline?sslmode=verify-full"
    assert env["WARMLINE_RECORD__DATABASE_URL"] == url
    password_file = env["WARMLINE_RECORD__DATABASE_PASSWORD_FILE"]
    assert secret_of_file(record, password_file) == ("warmline-record-database", "password")
    # The password is a file, never a variable; the agent tokens are still mounted.
    assert "WARMLINE_RECORD__DATABASE_PASSWORD" not in env
    assert "WARMLINE_RECORD__AGENT_TOKENS_FILE" in env
    settings = settings_from(record, tmp_path, monkeypatch).record
    assert settings.database_url == url and settings.database_password_file is not None
    egress = of_kind(all_docs, "NetworkPolicy")["record"]["spec"]["egress"]
    assert {
        "ports": [{"port": 6432, "protocol": "TCP"}],
        "to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
    } in egress


def test_the_record_is_sqlite_by_default_and_reaches_postgresql_on_5432(
    default_docs: list[Manifest],
) -> None:
    record = of_kind(default_docs, "Deployment")["record"]
    assert not {k for k in env_of(record) if "DATABASE" in k}
    docs = render("--set", "services.record.database.url=postgresql://warmline@pg/warmline")
    egress = of_kind(docs, "NetworkPolicy")["record"]["spec"]["egress"]
    assert {"ports": [{"port": 5432, "protocol": "TCP"}]} in egress
    assert "WARMLINE_RECORD__DATABASE_PASSWORD_FILE" not in env_of(
        of_kind(docs, "Deployment")["record"]
    )


def test_the_shadow_worker_is_decisioning_with_shadow_policies_under_its_own_job(
    default_docs: list[Manifest], all_docs: list[Manifest], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    assert "decisioning-shadow" not in of_kind(default_docs, "Deployment")
    shadow = of_kind(all_docs, "Deployment")["decisioning-shadow"]
    c = container(shadow)
    assert c["command"] + c["args"] == ["warmline", "serve", "decisioning", "--shadow"]
    folder = env_of(shadow)["WARMLINE_DECISIONING__SHADOW_POLICY_DIR"]
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == folder]
    assert mount["readOnly"] is True
    (volume,) = [
        v for v in shadow["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    ]
    assert volume["configMap"]["name"] == "warmline-shadow-policies"
    assert settings_from(shadow, tmp_path, monkeypatch).decisioning.shadow_policy_dir == Path(
        folder
    )
    # Scraped as job="decisioning-shadow": the alerts on job="decisioning" leave it out.
    monitors = of_kind(all_docs, "ServiceMonitor")
    assert monitors["decisioning-shadow"]["spec"]["jobLabel"] == "app.kubernetes.io/component"
    selects = monitors["decisioning-shadow"]["spec"]["selector"]["matchLabels"]
    assert selects["app.kubernetes.io/component"] == "decisioning-shadow"
    assert shadow["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == (
        "decisioning-shadow"
    )
    live = of_kind(all_docs, "StatefulSet")["decisioning"]
    assert live["spec"]["selector"] != shadow["spec"]["selector"]
