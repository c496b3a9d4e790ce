"""The semantic diff behind `gh-runner diff`."""

from __future__ import annotations

import copy
from typing import Any

from runner_k8s.drift import compare

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "namespace": "ns"},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "runner",
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "x"}],
                        "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}},
                    }
                ],
                "volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}],
            }
        },
    },
}


def variant() -> dict[str, Any]:
    return copy.deepcopy(DEPLOYMENT)


def test_equal_when_only_spelling_and_key_order_differ() -> None:
    other = variant()
    spec = other["spec"]["template"]["spec"]
    container = spec["containers"][0]
    container["env"][0]["value"] = 1  # unquoted in YAML
    container["env"][0] = dict(reversed(list(container["env"][0].items())))
    container["resources"]["requests"]["cpu"] = "500m"
    container["resources"]["requests"]["memory"] = str(2**30)
    other["spec"] = dict(reversed(list(other["spec"].items())))
    assert compare([DEPLOYMENT], [other]).clean


def test_changed_fields_are_reported_by_path() -> None:
    other = variant()
    other["spec"]["replicas"] = 3
    other["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "0"
    other["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1"
    drift = compare([DEPLOYMENT], [other])
    assert not drift.clean
    report = drift.report()
    assert "Deployment ns/d: 3 field(s) differ" in report
    assert "~ spec.replicas: 3 -> 2" in report
    assert "~ spec.template.spec.containers.runner.env.A.value: '0' -> '1'" in report
    assert "~ spec.template.spec.containers.runner.resources.requests.cpu: '1' -> '0.5'" in report


def test_missing_and_extra_fields_and_objects() -> None:
    other = variant()
    del other["spec"]["replicas"]
    other["spec"]["paused"] = True
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    drift = compare([DEPLOYMENT, config_map], [other, {**config_map, "kind": "Secret"}])
    report = drift.report()
    assert "+ spec.replicas: 2   (only in the render)" in report
    assert "- spec.paused: True   (only in the file)" in report
    assert "ConfigMap c: only in the render" in report
    assert "Secret c: only in the file" in report


def test_unkeyed_lists_compare_in_order() -> None:
    a = {"kind": "X", "metadata": {"name": "x"}, "args": ["a", "b"]}
    b = {"kind": "X", "metadata": {"name": "x"}, "args": ["b", "a"]}
    assert not compare([a], [b]).clean


def test_live_objects_ignore_what_only_the_server_adds() -> None:
    live = variant()
    live["status"] = {"readyReplicas": 2}
    live["metadata"]["uid"] = "1234"
    live["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    assert not compare([DEPLOYMENT], [live]).clean
    assert compare([DEPLOYMENT], [live], live=True).clean
    live["spec"]["replicas"] = 0  # but a changed or missing field still counts
    del live["spec"]["template"]["spec"]["volumes"]
    report = compare([DEPLOYMENT], [live], live=True).report()
    assert "~ spec.replicas: 0 -> 2" in report
    assert "+ spec.template.spec.volumes:" in report


def test_a_reordered_pod_template_list_is_drift_of_its_own_kind() -> None:
    # The Deployment controller hashes the template in order: a new order restarts the pods.
    other = variant()
    spec = other["spec"]["template"]["spec"]
    spec["volumes"].reverse()
    spec["containers"][0]["env"].reverse()
    drift = compare([DEPLOYMENT], [other])
    assert not drift.clean
    report = drift.report()
    assert (
        "~ spec.template.spec.volumes: reordered [b, a] -> [a, b]   (restarts the pods)" in report
    )
    env = "spec.template.spec.containers.runner.env"
    assert f"~ {env}: reordered [B, A] -> [A, B]   (restarts the pods)" in report
    assert "2 field(s) differ" in report  # the order only: every entry is equal


def test_order_outside_a_pod_template_is_ignored() -> None:
    obj = {
        "kind": "Example",
        "metadata": {"name": "e"},
        "spec": {"volumes": [{"name": "a"}, {"name": "b"}]},
    }
    other = copy.deepcopy(obj)
    other["spec"]["volumes"].reverse()
    assert compare([obj], [other]).clean


def test_a_secret_payload_is_never_printed() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns"},
        "data": {"pat": "c2VjcmV0LWE="},
    }
    other = copy.deepcopy(secret)
    other["data"]["pat"] = "c2VjcmV0LWI="
    other["stringData"] = {"url": "https://token@example"}
    report = compare([secret], [other]).report()
    assert "Secret ns/s: 2 field(s) differ" in report
    for value in ("c2VjcmV0LWE=", "c2VjcmV0LWI=", "token@example"):
        assert value not in report
    assert "~ data.pat: 'sha256:" in report
