"""The control-plane fixture itself: a real kube-apiserver that stores, versions and admits.

Run with `uv run pytest -m cluster tests/cluster` after `bash scripts/control-plane-toolchain.sh`.
The control plane is the session's (tests/cluster/conftest.py), which other tests prepare as
production: these tests work in namespaces of their own and leave the baseline's alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gh_runner_harness.control_plane import ADMIN_GROUP, ADMIN_USER, ControlPlane, pinned_versions
from runner_k8s.offline.manifest_files import load_manifests

pytestmark = pytest.mark.cluster


@pytest.fixture
def baseline_documents(baseline: Path) -> list[dict[str, Any]]:
    return load_manifests(baseline)


def ok(result: Any) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stderr}"
    return str(result.stdout)


def read(control_plane: ControlPlane, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    scope = ["-n", namespace] if namespace else []
    document: dict[str, Any] = json.loads(
        ok(control_plane.kubectl("get", kind, name, *scope, "-o", "json"))
    )
    return document


def apply(control_plane: ControlPlane, documents: list[dict[str, Any]]) -> str:
    """Apply the documents and return kubectl's stderr, where admission warnings land."""
    result = control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
    ok(result)
    return str(result.stderr)


def namespace(control_plane: ControlPlane, name: str, labels: dict[str, str] | None = None) -> str:
    """Create (or keep) a namespace of this module's own; applying makes reruns harmless."""
    metadata = {"name": name, "labels": labels or {}}
    apply(control_plane, [{"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}])
    return name


def in_namespace(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {**document, "metadata": {**document["metadata"], "namespace": name}}


def test_server_reports_the_pinned_kubernetes_version(control_plane: ControlPlane) -> None:
    pinned = pinned_versions()["KUBERNETES_VERSION"]
    versions = json.loads(ok(control_plane.kubectl("version", "-o", "json")))
    version = versions["serverVersion"]
    assert version["gitVersion"] == pinned
    assert f"v{version['major']}.{version['minor']}." in pinned
    # The toolchain's kubectl, built from the same release, not whichever is on PATH.
    assert versions["clientVersion"]["gitVersion"] == pinned


def test_namespace_configmap_and_pvc_read_back(control_plane: ControlPlane) -> None:
    where = namespace(control_plane, "round-trip")
    config_map: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": where},
        "data": {"config.toml": 'model = "x"\n'},
    }
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "home", "namespace": where},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    apply(control_plane, [config_map, claim])

    assert read(control_plane, "namespace", where)["status"]["phase"] == "Active"
    assert read(control_plane, "configmap", "settings", where)["data"] == config_map["data"]
    stored_claim = read(control_plane, "pvc", "home", where)["spec"]
    assert stored_claim["accessModes"] == claim["spec"]["accessModes"]
    assert stored_claim["resources"] == claim["spec"]["resources"]


def test_baseline_applies_and_reads_back(
    control_plane: ControlPlane, baseline_documents: list[dict[str, Any]]
) -> None:
    # A copy in a namespace of its own: the baseline's namespace is the adoption tests' production.
    where = namespace(control_plane, "baseline-copy")
    apply(control_plane, [in_namespace(doc, where) for doc in baseline_documents])

    for doc in baseline_documents:
        stored = read(control_plane, doc["kind"], doc["metadata"]["name"], where)
        if doc["kind"] == "Deployment":
            assert stored["spec"]["replicas"] == doc["spec"]["replicas"]
            assert [c["image"] for c in stored["spec"]["template"]["spec"]["containers"]] == [
                c["image"] for c in doc["spec"]["template"]["spec"]["containers"]
            ]
        else:
            assert stored["data"] == doc["data"]


def privileged_deployment(where: str) -> dict[str, Any]:
    labels = {"app": "privileged"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "privileged", "namespace": where},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "registry.invalid/never-pulled:1",
                            "securityContext": {"privileged": True},
                        }
                    ]
                },
            },
        },
    }


def test_pod_security_admission_warns_on_a_privileged_deployment(
    control_plane: ControlPlane, baseline_documents: list[dict[str, Any]]
) -> None:
    warn_restricted = {"pod-security.kubernetes.io/warn": "restricted"}
    where = namespace(control_plane, "restricted-warn", warn_restricted)

    warnings = apply(control_plane, [privileged_deployment(where)])
    assert 'would violate PodSecurity "restricted:latest"' in warnings
    assert "privileged" in warnings

    # The warning is about the violation, not every Deployment: the production runners pass.
    baseline = [in_namespace(doc, where) for doc in baseline_documents]
    assert "PodSecurity" not in apply(control_plane, baseline)


def test_kubeconfig_signs_in_as_the_admin_token_user(control_plane: ControlPlane) -> None:
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    assert config["current-context"] == control_plane.context
    assert config["clusters"][0]["cluster"]["server"] == control_plane.server
    # Every kubectl call above verified the serving cert against this CA.
    assert "insecure-skip-tls-verify" not in config["clusters"][0]["cluster"]

    review = json.loads(ok(control_plane.kubectl("auth", "whoami", "-o", "json")))
    assert review["status"]["userInfo"]["username"] == ADMIN_USER
    assert ADMIN_GROUP in review["status"]["userInfo"]["groups"]
