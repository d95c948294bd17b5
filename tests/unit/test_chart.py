"""The Helm chart renders valid Kubernetes objects that agree with the settings model.

Every manifest is rendered with ``helm template`` and checked against the
Kubernetes 1.30 schemas (``kubernetes_validate``, strict: unknown fields fail);
KEDA's ScaledObject has no schema there, so its required fields are asserted here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from warmline.common.settings import ServicePorts, WarmlineSettings
from warmline.services import SERVICES

Manifest = dict[str, Any]

CHART = Path(__file__).resolve().parents[2] / "charts" / "warmline"
KUBE_VERSION = "1.30"
RELEASE = "wl"
# Custom resources the schema bundle does not know; their fields are asserted below.
CRD_KINDS = frozenset({"ScaledObject"})
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
def defaults() -> Iterator[WarmlineSettings]:
    # Defaults only: a developer's WARMLINE_* variables must not leak in.
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
            mp.delenv(key)
        yield WarmlineSettings()


def assert_valid(docs: list[Manifest]) -> None:
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {e.message}")


def test_chart_lints() -> None:
    done = helm("lint", str(CHART), "--kube-version", f"{KUBE_VERSION}.0")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_chart_renders_without_flags() -> None:
    done = helm("template", RELEASE, str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "kind: Deployment" in done.stdout


def test_default_manifests_validate(default_docs: list[Manifest]) -> None:
    assert_valid(default_docs)


def test_keda_manifests_validate(keda_docs: list[Manifest]) -> None:
    assert_valid(keda_docs)


def test_values_cover_every_service(values: dict[str, Any]) -> None:
    assert set(values["services"]) == settings_services()
    assert set(SERVICES) <= set(values["services"])


def test_every_service_gets_its_objects(
    values: dict[str, Any], default_docs: list[Manifest]
) -> None:
    for kind in ("Deployment", "Service", "NetworkPolicy", "PodDisruptionBudget"):
        assert set(of_kind(default_docs, kind)) == set(values["services"]), kind


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


def test_one_image_one_command(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    assert len({container(d)["image"] for d in deployments.values()}) == 1
    for name, deployment in deployments.items():
        c = container(deployment)
        assert c["command"] + c["args"] == ["warmline", "serve", name]


def test_secret_files_are_mounted_read_only(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    for name, variable in (
        ("ingestion", "WARMLINE_INGESTION__API_KEYS_FILE"),
        ("notification", "WARMLINE_NOTIFICATION__AGENT_TOKENS_FILE"),
    ):
        pod = deployments[name]["spec"]["template"]["spec"]
        path = Path(env_of(deployments[name])[variable])
        mount = next(
            m
            for m in container(deployments[name])["volumeMounts"]
            if m["mountPath"] == str(path.parent)
        )
        assert mount["readOnly"] is True
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["items"] == [{"key": path.name, "path": path.name}]


def test_rendered_environment_parses_into_settings(
    default_docs: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, deployment in of_kind(default_docs, "Deployment").items():
        for key in [k for k in os.environ if k.startswith("WARMLINE_")]:
            monkeypatch.delenv(key)
        for key, value in env_of(deployment).items():
            monkeypatch.setenv(key, value)
        try:
            settings = WarmlineSettings()
        except ValidationError as e:
            pytest.fail(f"{name}: the chart sets variables the settings model refuses:\n{e}")
        section: ServicePorts = getattr(settings, name)
        assert section.metrics_port == int(
            env_of(deployment)[f"WARMLINE_{name.upper()}__METRICS_PORT"]
        )


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
    ],
)
def test_invalid_values_are_refused(settings: tuple[str, ...], error: str) -> None:
    args = [arg for s in settings for arg in ("--set", s)]
    done = helm("template", RELEASE, str(CHART), "--kube-version", f"{KUBE_VERSION}.0", *args)
    assert done.returncode != 0
    assert error in done.stderr


def test_network_policies_cover_every_port(default_docs: list[Manifest]) -> None:
    deployments = of_kind(default_docs, "Deployment")
    for name, policy in of_kind(default_docs, "NetworkPolicy").items():
        spec = policy["spec"]
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items(), name
        assert set(spec["policyTypes"]) == {"Ingress", "Egress"}, name
        allowed = {p["port"] for rule in spec["ingress"] for p in rule["ports"]}
        assert allowed == {p["containerPort"] for p in container(deployments[name])["ports"]}, name


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
