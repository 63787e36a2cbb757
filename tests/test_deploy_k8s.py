"""deploy/k8s: rendered with Kustomize (kubectl) and validated offline against the Kubernetes
schemas shipped by `kubernetes-validate`, then checked for what production needs."""
from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
# the oldest Kubernetes the manifests support (the preStop sleep action is GA in 1.30) and the newest
# the validator knows
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
PORT = 8080


def _load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return _load_all(result.stdout)
    # without kubectl: the same resources, unpatched (the kustomization only sets namespace/labels/image)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in _load_all((K8S / name).read_text())]


def one(rendered, kind: str) -> dict:
    found = [d for d in rendered if d["kind"] == kind]
    assert len(found) >= 1, kind
    return found[0]


def test_every_manifest_file_is_listed_in_the_kustomization():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_validates_against_the_kubernetes_schemas(rendered, version):
    assert len(rendered) >= 9
    for doc in rendered:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_does_reject_a_wrong_manifest(rendered):
    broken = copy.deepcopy(one(rendered, "Deployment"))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    typo = copy.deepcopy(one(rendered, "Deployment"))
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, VERSIONS[-1], strict=True)


def test_deployment_is_replicated_probed_sized_and_locked_down(rendered):
    deployment = one(rendered, "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["replicas"] >= 2
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][kind].keys()
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"].startswith("/readyz")
    assert container["ports"][0]["containerPort"] == PORT


def test_writable_places_are_empty_dirs_for_tmp_and_the_metrics(rendered):
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]


def test_clients_file_and_database_url_come_from_a_configmap_and_a_secret(rendered):
    pod = one(rendered, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}

    def source(path: str) -> dict:
        directory, name = path.rsplit("/", 1)
        return volumes[mounts[directory]], name

    clients_volume, clients_key = source(env["KNEE_CDS_CLIENTS"])
    configmaps = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "ConfigMap"}
    assert clients_key in configmaps[clients_volume["configMap"]["name"]]["data"]
    secret_volume, url_key = source(env["KNEE_CDS_DATABASE_URL_FILE"])
    secret = one(rendered, "Secret")
    assert secret_volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert url_key in secret["stringData"] and secret["stringData"][url_key].startswith("postgresql+psycopg://")
    assert "KNEE_CDS_DATABASE_URL" not in env


def test_service_hpa_and_pdb_select_the_deployments_pods(rendered):
    labels = one(rendered, "Deployment")["spec"]["template"]["metadata"]["labels"]
    selects = lambda selector: all(labels.get(k) == v for k, v in selector.items())  # noqa: E731
    assert selects(one(rendered, "Service")["spec"]["selector"])
    assert selects(one(rendered, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    hpa = one(rendered, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"]["name"] == one(rendered, "Deployment")["metadata"]["name"]
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]
    assert one(rendered, "PodDisruptionBudget")["spec"]["minAvailable"] >= 1


def test_network_policy_admits_the_ehr_namespace_only_and_lets_out_dns_database_and_fhir(rendered):
    policy = one(rendered, "NetworkPolicy")["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (ingress,) = policy["ingress"]
    (peer,) = ingress["from"]
    assert set(peer) == {"namespaceSelector"}
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 5432, 443} <= egress_ports


def test_the_rendered_resources_live_in_one_namespace(rendered):
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (kustomize) not installed: the namespace is set at render time")
    namespaced = [d for d in rendered if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"knee-cds"}
