"""The live diff: what only the cluster has is a hand edit unless the server or a tool wrote it;
every pod-template change restarts the pods; a Secret compared by value, never shown."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from runner_k8s.kube.defaults import with_server_defaults
from runner_k8s.kube.markers import DEPLOY_TIME_MARKER, SECRET_MARKER
from runner_k8s.offline.drift import compare

RENDER: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "ns", "labels": {"app": "d"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {
                "containers": [
                    {
                        "name": "runner",
                        "image": "ghcr.io/o/runner:1.0",
                        "env": [
                            {
                                "name": "GITHUB_PAT",
                                "valueFrom": {
                                    "secretKeyRef": {"name": "github-runner-config", "key": "pat"}
                                },
                            }
                        ],
                        "volumeMounts": [{"name": "work", "mountPath": "/work"}],
                    }
                ],
                "volumes": [
                    {"name": "work", "emptyDir": {}},
                    {"name": "config", "configMap": {"name": "c"}},
                ],
            },
        },
    },
}


def live_of(render: dict[str, Any]) -> dict[str, Any]:
    """``render`` as the cluster shows it after `kubectl apply`: defaults, server metadata,
    status, kubectl's and the controller's annotations."""
    live = with_server_defaults(render)
    live["metadata"] |= {
        "uid": "0c4f",
        "resourceVersion": "812",
        "generation": 1,
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}],
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
            "deployment.kubernetes.io/revision": "3",
        },
    }
    if "template" in live.get("spec", {}):
        live["spec"]["template"]["metadata"]["creationTimestamp"] = None
    live["status"] = {"observedGeneration": 1, "replicas": 2}
    return live


def report_of(live: dict[str, Any], render: dict[str, Any] = RENDER) -> list[str]:
    return compare([render], [live], live=True).report().splitlines()[1:]


def pod_spec(obj: dict[str, Any]) -> Any:
    return obj["spec"]["template"]["spec"]


def test_what_the_server_and_the_tools_add_is_no_drift() -> None:
    live = live_of(RENDER)
    assert pod_spec(live)["dnsPolicy"] == "ClusterFirst"  # the table did fill defaults in
    assert compare([RENDER], [live], live=True).clean
    # Not against a file: there the same fields are differences.
    assert not compare([RENDER], [live]).clean


@pytest.mark.parametrize(
    ("edit", "line"),
    [
        (
            lambda o: pod_spec(o)["containers"][0]["env"].append({"name": "DEBUG", "value": "1"}),
            "  ! spec.template.spec.containers.runner.env.DEBUG: {'name': 'DEBUG', 'value': '1'}",
        ),
        (
            lambda o: pod_spec(o).update(hostNetwork=True),
            "  ! spec.template.spec.hostNetwork: True",
        ),
        (
            lambda o: pod_spec(o).update(nodeSelector={"pool": "big"}),
            "  ! spec.template.spec.nodeSelector: {'pool': 'big'}",
        ),
        (
            lambda o: o["metadata"]["annotations"].update(owner="me"),
            "  ! metadata.annotations: {'owner': 'me'}",
        ),
        (
            # A field that has a default, set by hand to another value.
            lambda o: pod_spec(o).update(dnsPolicy="ClusterFirstWithHostNet"),
            "  ! spec.template.spec.dnsPolicy: 'ClusterFirstWithHostNet'",
        ),
    ],
)
def test_every_hand_edit_is_seen(edit: Any, line: str) -> None:
    live = live_of(RENDER)
    edit(live)
    [reported] = report_of(live)
    assert reported.startswith(line + "   (set in the cluster, not in config"), reported
    # Removing it (the next update does) changes the pod template: a new ReplicaSet.
    assert reported.endswith("   (restarts the pods)") == (".template." in line), reported


def test_a_scale_is_a_change_that_restarts_nothing() -> None:
    live = live_of(RENDER)
    live["spec"]["replicas"] = 5
    assert report_of(live) == ["  ~ spec.replicas: 5 -> 2"]


def test_every_change_under_the_pod_template_restarts_the_pods() -> None:
    live = live_of(RENDER)
    env = pod_spec(live)["containers"][0]["env"][0]
    env["valueFrom"]["secretKeyRef"]["name"] = "gh-runner-github-token"
    pod_spec(live)["volumes"].reverse()
    del pod_spec(live)["containers"][0]["volumeMounts"]
    assert sorted(report_of(live)) == sorted(
        [
            "  ~ spec.template.spec.containers.runner.env.GITHUB_PAT.valueFrom.secretKeyRef.name:"
            " 'gh-runner-github-token' -> 'github-runner-config'   (restarts the pods)",
            "  ~ spec.template.spec.volumes: reordered [config, work] -> [work, config]"
            "   (restarts the pods)",
            "  + spec.template.spec.containers.runner.volumeMounts:"
            " [{'name': 'work', 'mountPath': '/work'}]   (only in the render)"
            "   (restarts the pods)",
        ]
    )


def test_the_servers_own_answer_explains_what_no_table_knows() -> None:
    # A mutating webhook (GKE's, say) adds resources: only the server's dry-run knows.
    live = live_of(RENDER)
    pod_spec(live)["containers"][0]["resources"] = {"requests": {"cpu": "500m"}}
    assert not compare([RENDER], [live], live=True).clean
    stored = copy.deepcopy(live)
    stored["metadata"] = {"name": "d-x7k2p", "namespace": "ns", "labels": {"app": "d"}}
    assert compare([RENDER], [live], live=True, as_stored={"Deployment ns/d": stored}).clean


SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "s", "namespace": "ns"},
    "type": "Opaque",
    "stringData": {"github-pat": "ghp_one"},
}


def live_secret(value: str) -> dict[str, Any]:
    return {
        **{k: v for k, v in SECRET.items() if k != "stringData"},
        "metadata": {**SECRET["metadata"], "uid": "u", "resourceVersion": "1"},
        "data": {"github-pat": base64.b64encode(value.encode()).decode()},
    }


def test_a_secret_is_compared_by_value_and_never_shown() -> None:
    assert compare([SECRET], [live_secret("ghp_one")], live=True).clean
    report = compare([SECRET], [live_secret("ghp_two")], live=True).report()
    assert report.splitlines()[1:] == [
        "  ~ data.github-pat: changed   (a Secret's values are not shown)"
    ]
    for value in ("ghp_one", "ghp_two", base64.b64encode(b"ghp_two").decode()):
        assert value not in report


def test_a_value_the_render_never_knows_is_noted_not_drift() -> None:
    secret = {**SECRET, "stringData": {"github-pat": SECRET_MARKER}}
    deployment = copy.deepcopy(RENDER)
    digest = "gh-runner/config-digest"
    deployment["spec"]["template"]["metadata"]["annotations"] = {digest: DEPLOY_TIME_MARKER}
    live = live_of(deployment)
    live["spec"]["template"]["metadata"]["annotations"][digest] = "sha256:1f2e"
    drift = compare([secret, deployment], [live_secret("ghp_two"), live], live=True)
    assert drift.clean, drift.report()
    assert drift.notes() == [
        "Secret ns/s: data.github-pat not compared (a secret config value, never decrypted "
        "offline)",
        f"Deployment ns/d: spec.template.metadata.annotations.{digest} not compared "
        "(computed at deploy time)",
    ]
