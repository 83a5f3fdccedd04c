"""Kubernetes manifests (deploy/k8s/): valid against Kubernetes' own schemas (offline, with
kubernetes-validate), consistent with each other and with rtq's settings. Their commands are
started for real in test_deploy_commands.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cryptography.fernet import Fernet

from worker.core.settings import Settings
from worker.domain.lanes import all_lanes

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
# The oldest Kubernetes still commonly run, and the newest the package knows.
VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]
# KEDA's and the Prometheus Operator's kinds: no schema ships; checked below instead
CRDS = {"keda.sh/v1alpha1", "monitoring.coreos.com/v1"}


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open() as stream:
            found += [document for document in yaml.safe_load_all(stream) if document]
    return found


def find(kind: str, name: str) -> dict[str, Any]:
    (document,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def pod(deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = find("Deployment", deployment)["spec"]["template"]["spec"]
    return spec


def container(deployment: str) -> dict[str, Any]:
    (only,) = pod(deployment)["containers"]
    assert isinstance(only, dict)
    return only


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_matches_the_kubernetes_schema(version: str) -> None:
    """Strict validation: a misspelt or misplaced field fails, as `kubectl apply` would."""
    checked = 0
    for document in documents():
        if document["apiVersion"] in CRDS:
            continue
        kubernetes_validate.validate(document, version, strict=True)
        checked += 1
    assert checked >= 11


def test_everything_lives_in_the_namespace_the_manifests_create() -> None:
    """Every object names the rtq namespace, which namespace.yaml defines."""
    assert find("Namespace", "rtq")
    for document in documents():
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "rtq", document["metadata"]["name"]


def test_worker_grace_period_outlasts_a_running_job() -> None:
    """SIGKILL comes only after the task's hard time limit (itself above connect + read
    timeouts), so a warm shutdown lets every running job finish."""
    settings = Settings()
    grace = pod("rtq-worker")["terminationGracePeriodSeconds"]
    assert settings.http_connect_timeout + settings.http_read_timeout < settings.task_time_limit
    assert grace == 40 and grace >= settings.task_time_limit + 10


def test_worker_has_resources_probes_and_no_fixed_replica_count() -> None:
    """Requests let the scheduler place workers; a startup and a liveness probe ping the
    worker's own node; KEDA, not `kubectl apply`, owns the replica count."""
    worker = container("rtq-worker")
    assert {"cpu", "memory"} <= set(worker["resources"]["requests"])
    assert "memory" in worker["resources"]["limits"]
    for probe in ("startupProbe", "livenessProbe"):
        command = " ".join(worker[probe]["exec"]["command"])
        assert 'inspect ping --destination "celery@$HOSTNAME"' in command
        assert worker[probe]["timeoutSeconds"] > 10  # above the ping's own --timeout 10
    assert "replicas" not in find("Deployment", "rtq-worker")["spec"]


def test_disruption_budget_and_scaler_target_the_worker_pods() -> None:
    """The PodDisruptionBudget selects exactly the worker pods and lets one go at a time."""
    labels = find("Deployment", "rtq-worker")["spec"]["template"]["metadata"]["labels"]
    budget = find("PodDisruptionBudget", "rtq-worker")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    flower_labels = find("Deployment", "rtq-flower")["spec"]["template"]["metadata"]["labels"]
    assert not budget["selector"]["matchLabels"].items() <= flower_labels.items()
    assert budget["maxUnavailable"] == 1


def test_keda_scales_workers_on_the_queue_they_consume() -> None:
    """The redis triggers watch every list of the queue RTQ_QUEUE (with RTQ_KEY_PREFIX) names,
    its fair lanes included, never scale to zero (workers run the mover), and authenticate
    with a defined secret."""
    scaled = find("ScaledObject", "rtq-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "rtq-worker"
    assert scaled["minReplicaCount"] >= 1
    assert scaled["maxReplicaCount"] > scaled["minReplicaCount"]
    triggers = scaled["triggers"]
    settings = Settings.from_env(find("ConfigMap", "rtq")["data"])
    assert settings.queue_key == "rtq"
    assert [t["metadata"]["listName"] for t in triggers] == all_lanes(settings.queue_key)
    for trigger in triggers:
        assert trigger["type"] == "redis"
        assert int(trigger["metadata"]["listLength"]) > 0
        auth = find("TriggerAuthentication", trigger["authenticationRef"]["name"])["spec"]
        (password,) = auth["secretTargetRef"]
        assert password["parameter"] == "password"
        assert password["key"] in find("Secret", password["name"])["stringData"]
    assert len({(t["metadata"]["address"], t["metadata"]["databaseIndex"])
                for t in triggers}) == 1


def secret_and_config_references() -> list[tuple[str, str, str | None]]:
    """(kind, name, key or None) of every ConfigMap and Secret the pods read."""
    found: list[tuple[str, str, str | None]] = []
    for name in ("rtq-worker", "rtq-flower", "rtq-metrics"):
        spec = container(name)
        for source in spec.get("envFrom", []):
            for kind, ref in source.items():
                found.append(("ConfigMap" if kind == "configMapRef" else "Secret",
                              ref["name"], None))
        for item in spec.get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.append(("Secret", ref["name"], ref["key"]))
    return found


def test_every_referenced_secret_and_key_is_in_the_templates() -> None:
    """Pods read only Secrets and keys that secret.example.yaml and config.yaml define, and
    the worker's settings validate once its secrets are filled in."""
    for kind, name, key in secret_and_config_references():
        document = find(kind, name)
        if key is not None:
            assert key in document["stringData"], (name, key)
    values = {**find("ConfigMap", "rtq")["data"], **find("Secret", "rtq")["stringData"],
              "RTQ_SECRET_KEY": Fernet.generate_key().decode()}
    settings = Settings.from_env(values)
    assert settings.log_format == "json" and settings.queue == "rtq"


def test_flower_gets_its_login_and_redis_but_no_worker_secret() -> None:
    """Flower's pod sees RTQ_REDIS_URL and FLOWER_BASIC_AUTH, never the Fernet or X keys."""
    flower = container("rtq-flower")
    assert {item["name"] for item in flower["env"]} == {"RTQ_REDIS_URL", "FLOWER_BASIC_AUTH"}
    assert all("secretRef" not in source for source in flower.get("envFrom", []))
    assert any("secretRef" in source for source in container("rtq-worker")["envFrom"])


def test_flower_service_reaches_the_flower_pod() -> None:
    """The Service selects the Flower pod and forwards to a port its container declares."""
    service = find("Service", "rtq-flower")["spec"]
    labels = find("Deployment", "rtq-flower")["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    (port,) = service["ports"]
    assert port["targetPort"] in [p["name"] for p in container("rtq-flower")["ports"]]


@pytest.mark.parametrize("deployment", ["rtq-worker", "rtq-flower", "rtq-metrics"])
def test_pods_meet_the_restricted_pod_security_standard(deployment: str) -> None:
    """The namespace enforces `restricted`: non-root (the image's uid), no privilege
    escalation, no capabilities, the runtime's seccomp profile; read-only root filesystem."""
    assert find("Namespace", "rtq")["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"] == "restricted"
    security = pod(deployment)["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 10001
    assert security["seccompProfile"]["type"] == "RuntimeDefault"
    own = container(deployment)["securityContext"]
    assert own["allowPrivilegeEscalation"] is False and own["capabilities"]["drop"] == ["ALL"]
    assert own["readOnlyRootFilesystem"] is True
    assert pod(deployment)["automountServiceAccountToken"] is False


def test_the_exporter_reads_redis_and_settings_only_and_runs_once() -> None:
    """`rtq metrics` on every interface of its pod, one replica (it covers every worker),
    RTQ_REDIS_URL its only secret, the ConfigMap's prefix and queue (the workers'), and cheap
    probes on the port it declares."""
    metrics = container("rtq-metrics")
    assert metrics["command"] == ["rtq", "metrics", "--host", "0.0.0.0", "--port", "9540"]
    assert find("Deployment", "rtq-metrics")["spec"]["replicas"] == 1
    assert {item["name"] for item in metrics["env"]} == {"RTQ_REDIS_URL"}
    assert metrics["envFrom"] == [{"configMapRef": {"name": "rtq"}}]
    settings = Settings.from_env(find("ConfigMap", "rtq")["data"])
    assert settings.metrics.per_account == "auto" and settings.metrics.account_limit == 100
    (port,) = metrics["ports"]
    assert port == {"name": "metrics", "containerPort": 9540}
    for probe in ("readinessProbe", "livenessProbe"):
        assert metrics[probe]["tcpSocket"]["port"] == "metrics"
    assert {"cpu", "memory"} <= set(metrics["resources"]["requests"])


def test_the_service_monitor_scrapes_the_exporter_through_its_service() -> None:
    """The ServiceMonitor (a CRD: its shape checked here) selects the rtq-metrics Service in
    rtq's namespace, which selects the exporter's pod, on a named port that forwards to the
    container's; the scrape timeout fits in the interval."""
    monitor = find("ServiceMonitor", "rtq")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(monitor) == {"apiVersion", "kind", "metadata", "spec"}
    spec = monitor["spec"]
    assert set(spec) <= {"selector", "namespaceSelector", "endpoints", "jobLabel"}
    service = find("Service", "rtq-metrics")
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": [service["metadata"]["namespace"]]}
    pod_labels = find("Deployment", "rtq-metrics")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}
    (port,) = service["spec"]["ports"]
    assert endpoint["port"] == port["name"] and endpoint["path"] == "/metrics"
    assert port["targetPort"] in [p["name"] for p in container("rtq-metrics")["ports"]]
    seconds = {key: int(endpoint[key].removesuffix("s")) for key in ("interval", "scrapeTimeout")}
    assert 0 < seconds["scrapeTimeout"] <= seconds["interval"]
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port["port"])
