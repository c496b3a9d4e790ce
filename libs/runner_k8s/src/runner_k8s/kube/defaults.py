"""The defaults the API server fills into the kinds gh-runner renders, so that a diff against a
live object can tell a field the server added from one somebody set.

Kubernetes 1.34's ``SetDefaults_*`` functions (pkg/apis/{core,apps,networking}/v1/defaults.go)
for Deployment, its pod template, ConfigMap, Secret and NetworkPolicy: only what those kinds can
hold. tests/cluster/test_live_diff.py checks this table against the API server itself (a
server-side dry-run create of every rendered object), so a new default fails a test instead of
showing up as a hand edit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]

# A volume source that carries file modes: the server writes 0644 (420) unless told otherwise.
_MODE_SOURCES = ("secret", "configMap", "projected", "downwardAPI")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


def _fill(target: Obj, defaults: Obj) -> None:
    for key, value in defaults.items():
        target.setdefault(key, copy.deepcopy(value))


def _field_ref(ref: Obj | None) -> None:
    if ref is not None:
        ref.setdefault("apiVersion", "v1")


def _probe(probe: Obj) -> None:
    _fill(probe, {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1})
    probe.setdefault("failureThreshold", 3)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def _image_pull_policy(image: str) -> str:
    # An image with no tag, or :latest, is pulled every time; a digest or another tag once.
    if "@" in image:
        return "IfNotPresent"
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(container: Obj) -> None:
    _fill(container, {"terminationMessagePath": "/dev/termination-log"})
    container.setdefault("terminationMessagePolicy", "File")
    if "image" in container:
        container.setdefault("imagePullPolicy", _image_pull_policy(str(container["image"])))
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        _field_ref((env.get("valueFrom") or {}).get("fieldRef"))
    for name in _PROBES:
        if name in container:
            _probe(container[name])


def _volume(volume: Obj) -> None:
    for source in _MODE_SOURCES:
        if source in volume:
            volume[source].setdefault("defaultMode", 420)
    for item in (volume.get("downwardAPI") or {}).get("items") or []:
        _field_ref(item.get("fieldRef"))


def _pod_spec(spec: Obj) -> None:
    _fill(
        spec,
        {
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "securityContext": {},
            "schedulerName": "default-scheduler",
        },
    )
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            _container(container)
    for volume in spec.get("volumes") or []:
        _volume(volume)


def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _fill(
            strategy.setdefault("rollingUpdate", {}), {"maxUnavailable": "25%", "maxSurge": "25%"}
        )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))


def _secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


def _network_policy(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if "policyTypes" not in spec:
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                port.setdefault("protocol", "TCP")


_BY_KIND: dict[str, Callable[[Obj], None]] = {
    "Deployment": _deployment,
    "Secret": _secret,
    "NetworkPolicy": _network_policy,
}


def _nothing(obj: Obj) -> None:
    """A ConfigMap, and any kind this table does not know: nothing is defaulted."""


def with_server_defaults(manifest: Obj) -> Obj:
    """``manifest`` as the API server would store it: every default filled in. A kind this
    table does not know is returned as is (a diff then treats each field only the live object
    has as set in the cluster)."""
    filled = copy.deepcopy(manifest)
    _BY_KIND.get(str(manifest.get("kind")), _nothing)(filled)
    return filled
