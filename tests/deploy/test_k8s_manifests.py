"""deploy/k8s/: the Kubernetes manifests, checked against the code without a cluster.

Every manifest is one object of a kind and API version we know; the kustomization lists
exactly the manifests; every ``ESB_*`` name a pod gets is a setting (the same check as
``tests/test_deploy_files.py``); the probes ask routes that :func:`bus.api.create_app`
serves, on the port the settings give, and pass the API's authentication; Services, PDBs
and the HPA select pods that exist; what must run once runs once; the RabbitMQ resources
agree with ``deploy/rabbitmq``.
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

import httpx
import kubernetes_validate
import pytest
import yaml

from bus.adapters import discover
from bus.api.app import create_app
from bus.api.auth_credentials import hash_api_key
from bus.api.auth_policy import ADMIN
from bus.app import Bus
from bus.settings import DeliverySettings, Settings
from tests.test_deploy_files import (
    EXPORTED,
    UPGRADE,
    adapter_setting_exists,
    process_variables,
    setting_exists,
)

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"

KNOWN_KINDS = {
    "Kustomization": "kustomize.config.k8s.io/v1beta1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "Service": "v1",
    "ServiceAccount": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "RabbitmqCluster": "rabbitmq.com/v1beta1",
    "Vhost": "rabbitmq.com/v1beta1",
    "User": "rabbitmq.com/v1beta1",
    "Permission": "rabbitmq.com/v1beta1",
    "Policy": "rabbitmq.com/v1beta1",
}
OPERATOR_KINDS = frozenset({"Kustomization", "RabbitmqCluster", "Vhost", "User", "Permission",
                            "Policy"})
"""Custom resources: no schema ships with Kubernetes; their fields are checked below."""
KUBERNETES_VERSION = "1.30.0"
"""The oldest Kubernetes the manifests are written for."""
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    assert isinstance(document, dict), f"{path.name}: not one object"
    return document


MANIFEST_FILES = sorted(K8S.rglob("*.yaml"))
KUSTOMIZATION = load(K8S / "kustomization.yaml")
APPLIED = [load(K8S / name) for name in KUSTOMIZATION["resources"]]
EXAMPLES = [load(path) for path in sorted((K8S / "examples").glob("*.yaml"))]


def objects(kind: str, among: list[dict[str, Any]] = APPLIED) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in among if o["kind"] == kind}


WORKLOADS = {name: o for kind in WORKLOAD_KINDS for name, o in objects(kind).items()}
CONFIG_MAPS = objects("ConfigMap")
SECRETS = objects("Secret", EXAMPLES)


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return found


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def pod_env(workload: dict[str, Any]) -> dict[str, str]:
    """What ``esb run`` in this workload's pod sees: envFrom sources, then its own ``env``."""
    (container,) = containers(workload)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(CONFIG_MAPS[source["configMapRef"]["name"]]["data"])
        else:
            env.update(SECRETS[source["secretRef"]["name"]]["stringData"])
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A process environment with no ``ESB_*`` variable but the ones a test sets."""
    for name in [name for name in os.environ if name.startswith("ESB_")]:
        monkeypatch.delenv(name)
    yield monkeypatch


# -- the files ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_is_one_object_of_a_known_kind_and_version(path: Path) -> None:
    manifest = load(path)
    kind = manifest.get("kind")
    assert kind in KNOWN_KINDS, f"{path.name}: unknown kind {kind!r}"
    assert manifest.get("apiVersion") == KNOWN_KINDS[kind], f"{path.name}: {kind} version"
    if kind != "Kustomization":
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", manifest["metadata"]["name"])


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: str(p.relative_to(K8S)))
def test_every_kubernetes_object_matches_the_kubernetes_schema(path: Path) -> None:
    manifest = load(path)
    if manifest["kind"] in OPERATOR_KINDS:
        return
    try:  # strict: an unknown field (a typo such as readinesProbe) is an error too
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{path.name}: {error.message}")


def test_the_schema_check_rejects_a_misspelt_probe() -> None:
    worker = load(K8S / "worker-deployment.yaml")
    container = worker["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_applies_every_manifest_but_the_examples() -> None:
    listed = set(KUSTOMIZATION["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    assert {o["kind"] for o in EXAMPLES} == {"Secret", "HorizontalPodAutoscaler"}
    assert "Secret" not in {o["kind"] for o in APPLIED}, "secrets belong to the operator"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_the_manifests_into_one_namespace() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                           timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    rendered = [o for o in yaml.safe_load_all(built.stdout) if o]
    assert sorted((o["kind"], o["metadata"]["name"]) for o in rendered) == sorted(
        (o["kind"], o["metadata"]["name"]) for o in APPLIED)
    assert {o["metadata"]["namespace"] for o in rendered} == {KUSTOMIZATION["namespace"]}


def test_there_is_a_worker_pool_an_api_and_a_singleton() -> None:
    assert objects("Deployment").keys() == {"esb-worker", "esb-api"}
    assert objects("StatefulSet").keys() == {"esb-singleton"}
    assert objects("RabbitmqCluster").keys() == {"esb-rabbitmq"}


# -- settings -----------------------------------------------------------------------------


def esb_names() -> list[tuple[str, str]]:
    """(where, name) of every ``ESB_*`` variable a pod gets, from any source."""
    found = [(f"ConfigMap {name}", key) for name, config in CONFIG_MAPS.items()
             for key in config["data"]]
    found += [(f"Secret {name}", key) for name, secret in SECRETS.items()
              for key in secret["stringData"] if key.startswith("ESB_")]
    found += [(f"{name} env", item["name"]) for name, workload in WORKLOADS.items()
              for container in containers(workload) for item in container.get("env", [])]
    return found


@pytest.mark.parametrize(("where", "name"), esb_names())
def test_every_variable_a_pod_gets_is_a_setting(where: str, name: str) -> None:
    assert name.startswith("ESB_"), f"{where}: {name} is not read by the bus"
    assert (setting_exists(name) or name in process_variables()
            or adapter_setting_exists(name)), f"{where}: {name} is no setting of the bus"


def test_pods_read_only_config_maps_and_secrets_that_are_defined() -> None:
    for name, workload in WORKLOADS.items():
        for source in containers(workload)[0].get("envFrom", []):
            if "configMapRef" in source:
                assert source["configMapRef"]["name"] in CONFIG_MAPS, name
            else:
                assert source["secretRef"]["name"] in SECRETS, name
        assert "ESB_INSTANCE" not in pod_env(workload), f"{name}: replicas would share it"


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_each_pod_has_valid_settings_for_rabbitmq_and_postgresql(
    name: str, environment: pytest.MonkeyPatch
) -> None:
    for key, value in pod_env(WORKLOADS[name]).items():
        environment.setenv(key, value)
    settings = Settings()
    assert settings.broker.startswith("amqp://") and settings.broker.endswith("/esb?heartbeat=30")
    assert settings.database.startswith("postgresql+psycopg://")
    assert settings.delivery.quorum_queues
    assert settings.api.host == "0.0.0.0", "Services and Prometheus could not reach it"
    rabbitmq_service = next(iter(objects("RabbitmqCluster")))
    assert f"@{rabbitmq_service}:5672/" in settings.broker


# -- what runs where ----------------------------------------------------------------------


def adapter_states(workload: dict[str, Any], environment: pytest.MonkeyPatch) -> dict[str, Any]:
    """Each discovered adapter's settings as this workload's pod reads them."""
    env = pod_env(workload)
    env.update(ESB_BILLING__URL="http://billing:34012", ESB_DOCFLOW__URL="http://cmis:8080",
               ESB_CRM__URL="http://crm:8080", ESB_PBX__AMI_HOST="pbx")  # all configured
    for key, value in env.items():
        environment.setenv(key, value)
    return {loaded.name: loaded.adapter_class.manifest.settings()
            for loaded in discover() if loaded.adapter_class is not None}


def test_what_must_run_once_runs_in_one_pod_only(environment: pytest.MonkeyPatch) -> None:
    singleton = objects("StatefulSet")["esb-singleton"]
    assert singleton["spec"]["replicas"] == 1
    assert singleton["spec"]["serviceName"] in objects("Service")
    for name, workload in WORKLOADS.items():
        states = adapter_states(workload, environment)
        once = name == "esb-singleton"
        assert states["pbx"].enabled is once, f"{name}: the PBX AMI session"
        assert states["billing"].feed is once, f"{name}: the billing change feed"
        assert states["docflow"].feed is once, f"{name}: the docflow change feed"
        assert states["billing"].enabled and states["crm"].enabled, f"{name}: handlers"


def test_faces_with_per_process_state_run_in_the_one_api_pod(
    environment: pytest.MonkeyPatch,
) -> None:
    api = objects("Deployment")["esb-api"]
    assert api["spec"]["replicas"] == 1
    assert adapter_states(api, environment)["window"].enabled
    assert adapter_states(api, environment)["console"].enabled
    for name in ("esb-worker", "esb-singleton"):
        states = adapter_states(WORKLOADS[name], environment)
        assert not states["window"].enabled and not states["console"].enabled, name


def test_workers_scale_and_survive_drains() -> None:
    worker = objects("Deployment")["esb-worker"]
    assert worker["spec"]["replicas"] >= 2
    (hpa,) = objects("HorizontalPodAutoscaler").values()
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "esb-worker")
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    cpu = hpa["spec"]["metrics"][0]["resource"]
    assert cpu["name"] == "cpu"
    assert containers(worker)[0]["resources"]["requests"]["cpu"], "CPU utilization needs it"
    for name, budget in objects("PodDisruptionBudget").items():
        selector = budget["spec"]["selector"]["matchLabels"]
        pods = [w for w in WORKLOADS.values() if selects(selector, pod_labels(w))]
        cluster = objects("RabbitmqCluster").get(selector.get("app.kubernetes.io/name", ""))
        assert pods or cluster, f"PDB {name} selects nothing"
        assert budget["spec"].get("maxUnavailable") == 1, name


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_pod_has_resources_and_time_to_stop(name: str) -> None:
    workload = WORKLOADS[name]
    assert workload["spec"]["selector"]["matchLabels"].items() <= pod_labels(workload).items()
    pod = workload["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 30, "the journal flush on SIGTERM"
    (container,) = containers(workload)
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys(), f"{name}: {kind}"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_pod_upgrades_the_schema_before_the_bus_starts(name: str) -> None:
    pod = WORKLOADS[name]["spec"]["template"]["spec"]
    (upgrade,) = pod["initContainers"]
    (container,) = pod["containers"]
    assert upgrade["command"] == ["esb", "db", *UPGRADE]
    assert upgrade["image"] == container["image"]
    assert upgrade["envFrom"] == container["envFrom"], "the database the bus will use"
    assert {"cpu", "memory"} <= upgrade["resources"]["limits"].keys()
    assert upgrade["securityContext"] == container["securityContext"]


# -- probes and ports ---------------------------------------------------------------------


async def statuses(paths: set[str], tmp_path: Path) -> dict[str, int]:
    """What :func:`bus.api.create_app` answers on each path (404: no such route)."""
    bus = Bus(Settings(broker_url="memory://k8s-manifests",
                       database_url=f"sqlite:///{tmp_path}/paths.db",
                       telemetry={"exporter": "none"}, api={"host": "127.0.0.1"}))
    transport = httpx.ASGITransport(app=create_app(bus))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://pod") as client:
            return {path: (await client.get(path)).status_code for path in paths}
    finally:
        bus.close()


@pytest.mark.parametrize("name", sorted(WORKLOADS))
async def test_probes_ask_health_and_ready_on_the_port_the_api_listens_on(
    name: str, environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workload = WORKLOADS[name]
    (container,) = containers(workload)
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    paths = {container[probe]["httpGet"]["path"] for probe in PROBES}
    served = await statuses({*paths, annotations["prometheus.io/path"], "/nowhere"}, tmp_path)
    assert served.pop("/nowhere") == 404
    assert all(status != 404 for status in served.values()), served
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"

    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for key, value in pod_env(workload).items():
        environment.setenv(key, value)
    assert ports["http"] == Settings().api.port
    for probe in PROBES:
        assert container[probe]["httpGet"]["port"] == "http", f"{name} {probe}"
    assert int(annotations["prometheus.io/port"]) == ports["http"]


async def test_probes_and_scrapes_pass_the_api_authentication_in_a_pod(
    environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in pod_env(WORKLOADS["esb-api"]).items():
        environment.setenv(key, value)
    environment.setenv("ESB_API__AUTH__API_KEYS__OPS", f"{ADMIN}:{hash_api_key('k')}")
    pod = Settings()
    bus = Bus(Settings(broker_url="memory://k8s-auth", database_url=f"sqlite:///{tmp_path}/s.db",
                       api=pod.api, telemetry={"exporter": "none"}))
    transport = httpx.ASGITransport(app=create_app(bus))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://pod") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).status_code == 503  # the bus is not started
            assert (await client.get("/metrics")).status_code == 200
            assert (await client.get("/v1/messages")).status_code == 401  # auth is on
    finally:
        bus.close()


def test_services_send_to_named_ports_of_pods_that_exist() -> None:
    for name, service in objects("Service").items():
        selector = service["spec"]["selector"]
        pods = [w for w in WORKLOADS.values() if selects(selector, pod_labels(w))]
        assert pods, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            for workload in pods:
                names = {p["name"] for p in containers(workload)[0]["ports"]}
                assert port["targetPort"] in names, f"Service {name}: {port['targetPort']}"


# -- RabbitMQ -----------------------------------------------------------------------------


def test_rabbitmq_cluster_keeps_a_majority_and_takes_the_largest_message() -> None:
    (cluster,) = objects("RabbitmqCluster").values()
    replicas = cluster["spec"]["replicas"]
    assert replicas >= 3 and replicas % 2 == 1, "quorum queues need a majority"
    conf = cluster["spec"]["rabbitmq"]["additionalConfig"]
    match = re.search(r"^max_message_size\s*=\s*(\d+)\s*$", conf, flags=re.MULTILINE)
    assert match is not None
    assert int(match.group(1)) > DeliverySettings.model_fields["max_message_bytes"].default
    for kind in ("Vhost", "User", "Permission", "Policy"):
        for name, resource in objects(kind).items():
            reference = resource["spec"]["rabbitmqClusterReference"]["name"]
            assert reference == cluster["metadata"]["name"], f"{kind} {name}"


def test_rabbitmq_topology_is_the_one_of_the_definitions_file() -> None:
    definitions = json.loads(DEFINITIONS.read_text())
    (vhost,) = objects("Vhost").values()
    assert vhost["spec"]["name"] in {v["name"] for v in definitions["vhosts"]}
    (permission,) = objects("Permission").values()
    wanted = {(p["user"], p["vhost"]) for p in definitions["permissions"]}
    assert (permission["spec"]["user"], permission["spec"]["vhost"]) in wanted
    by_name = {p["name"]: p for p in definitions["policies"]}
    for policy in objects("Policy").values():
        spec = policy["spec"]
        original = by_name[spec["name"]]
        assert (spec["vhost"], spec["pattern"], spec["applyTo"], spec["priority"]) == (
            original["vhost"], original["pattern"], original["apply-to"], original["priority"])
        assert spec["definition"] == original["definition"]


def test_the_queue_depth_autoscaler_reads_a_metric_the_bus_exports() -> None:
    (hpa,) = objects("HorizontalPodAutoscaler", EXAMPLES).values()
    metric = hpa["spec"]["metrics"][0]["external"]["metric"]
    assert metric["name"] in EXPORTED
    assert set(metric["selector"]["matchLabels"]) <= EXPORTED[metric["name"]]
    queue = metric["selector"]["matchLabels"]["queue"]
    assert queue.startswith(f"{Settings().queue_prefix}."), "the bus's own queue names"
