"""The semantic diff behind `gh-runner diff`."""

from __future__ import annotations

import copy
from typing import Any

from runner_k8s.offline.drift import compare

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
    container = other["spec"]["template"]["spec"]["containers"][0]
    container["env"][0]["value"] = 1  # unquoted in YAML
    container["resources"]["requests"]["cpu"] = "500m"
    container["resources"]["requests"]["memory"] = str(2**30)
    container["env"][0] = dict(reversed(list(container["env"][0].items())))
    other["spec"] = dict(reversed(list(other["spec"].items())))
    assert compare([DEPLOYMENT], [other]).clean


def test_order_in_a_pod_template_is_drift_that_restarts_the_pods() -> None:
    other = variant()
    spec = other["spec"]["template"]["spec"]
    spec["volumes"].reverse()
    spec["containers"][0]["env"].reverse()
    drift = compare([DEPLOYMENT], [other])
    assert drift.report().splitlines() == [
        "Deployment ns/d: 2 field(s) differ (file -> render)",
        "  ~ spec.template.spec.containers.runner.env: reordered [B, A] -> [A, B]"
        "   (restarts the pods)",
        "  ~ spec.template.spec.volumes: reordered [b, a] -> [a, b]   (restarts the pods)",
    ]
    # Read back from the cluster, the order is still the object's own.
    assert not compare([DEPLOYMENT], [other], live=True).clean


def test_order_counts_in_every_kind_of_pod_template() -> None:
    pod_spec = DEPLOYMENT["spec"]["template"]["spec"]
    cron_job = {
        "kind": "CronJob",
        "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": copy.deepcopy(pod_spec)}}}},
    }
    other = copy.deepcopy(cron_job)
    other["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"].reverse()
    assert "reordered [b, a] -> [a, b]" in compare([cron_job], [other]).report()


def test_order_outside_a_pod_template_is_ignored() -> None:
    # A Pod has no template hash: its keyed lists merge by key, in any order.
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": copy.deepcopy(DEPLOYMENT["spec"]["template"]["spec"]),
    }
    other = copy.deepcopy(pod)
    other["spec"]["volumes"].reverse()
    assert compare([pod], [other]).clean


def test_an_entry_only_one_side_has_is_no_reordering() -> None:
    other = variant()
    volumes = other["spec"]["template"]["spec"]["volumes"]
    volumes.insert(0, {"name": "c", "emptyDir": {}})
    report = compare([DEPLOYMENT], [other]).report()
    assert "reordered" not in report
    assert (
        "  - spec.template.spec.volumes.c: {'name': 'c', 'emptyDir': {}}   (only in the file)"
        in report
    )
    volumes.reverse()  # [b, a, c]: a and b swapped besides
    assert (
        "  ~ spec.template.spec.volumes: reordered [b, a] -> [a, b]"
        in compare([DEPLOYMENT], [other]).report()
    )


SECRET: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "s", "namespace": "ns", "labels": {"app": "x"}},
    "type": "Opaque",
    "data": {"token": "c2VjcmV0LXRva2Vu"},
}


def test_a_secrets_values_are_never_shown() -> None:
    last_applied = "kubectl.kubernetes.io/last-applied-configuration"
    other = copy.deepcopy(SECRET)
    other["data"] = {"token": "b3RoZXItdG9rZW4=", "extra": "ZXh0cmEtdmFsdWU="}
    other["stringData"] = {"plain": "plain-value"}
    other["metadata"]["annotations"] = {last_applied: '{"data":{"token":"b3RoZXItdG9rZW4="}}'}
    other["metadata"]["labels"] = {"app": "y"}
    other["type"] = "kubernetes.io/basic-auth"
    report = compare([SECRET], [other]).report()
    for value in ("c2VjcmV0LXRva2Vu", "b3RoZXItdG9rZW4", "ZXh0cmEtdmFsdWU=", "plain-value"):
        assert value not in report
    lines = report.splitlines()[1:]
    assert "  ~ data.token: changed   (a Secret's values are not shown)" in lines
    assert "  - data.extra: '<hidden>'   (only in the file)" in lines
    # stringData is compared as the data the API server makes of it.
    assert "  - data.plain: '<hidden>'   (only in the file)" in lines
    assert (
        f"  - metadata.annotations: {{'{last_applied}': '<hidden>'}}   (only in the file)" in lines
    )
    # What cannot hold the secret is still shown.
    assert "  ~ metadata.labels.app: 'y' -> 'x'" in lines
    assert "  ~ type: 'kubernetes.io/basic-auth' -> 'Opaque'" in lines
    # Both directions: the render's own Secret data is hidden as well.
    assert "c2VjcmV0LXRva2Vu" not in compare([SECRET], [{**SECRET, "data": {}}]).report()


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
