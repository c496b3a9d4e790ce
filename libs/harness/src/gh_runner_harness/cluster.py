"""A loopback API server prepared as production is today, and kubectl reads of it.

What production holds besides the baseline's objects (the namespace, the Secrets the runners
read, the home-volume claims) is derived from the baseline itself, so the cluster tier needs
no second copy of the production manifest.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from runner_k8s.offline.manifest_files import load_manifests

from .control_plane import ControlPlane

# The finalizer a foreground deletion puts on an object; the garbage collector removes it
# once the dependents are gone. No controller runs here (see Cluster.collect_garbage).
FOREGROUND = "foregroundDeletion"
# Every kind the stacks can register, for the garbage collector's rounds.
STACK_KINDS = "deployments,configmaps,secrets,networkpolicies"


def _pod_specs(manifests: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for m in manifests:
        if m["kind"] == "Deployment":
            yield m["spec"]["template"]["spec"]


def production_surroundings(baseline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects kubectl users created by hand before the baseline: its namespace, every
    Secret its env reads (dummy values), every claim its volumes mount."""
    [namespace] = {m["metadata"]["namespace"] for m in baseline}
    secrets: dict[str, dict[str, str]] = {}
    claims: set[str] = set()
    for pod in _pod_specs(baseline):
        for container in pod["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secrets.setdefault(ref["name"], {})[ref["key"]] = f"dummy-{ref['key']}"
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                claims.add(volume["persistentVolumeClaim"]["claimName"])
    meta = {"namespace": namespace}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        *(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": n, **meta}, "stringData": d}
            for n, d in sorted(secrets.items())
        ),
        *(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": c, **meta},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
            for c in sorted(claims)
        ),
    ]


@dataclass
class Cluster:
    control_plane: ControlPlane
    baseline: Path

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig

    @property
    def namespace(self) -> str:
        [namespace] = {m["metadata"]["namespace"] for m in load_manifests(self.baseline)}
        return str(namespace)

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """The control plane's kubectl; a failure fails the test unless ``check`` is off."""
        done = self.control_plane.kubectl(*args, stdin=input)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {done.stderr}")
        return done

    def prepare_as_production(self) -> None:
        surroundings = production_surroundings(load_manifests(self.baseline))
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(surroundings))
        self.kubectl("apply", "-f", str(self.baseline))

    @staticmethod
    def key(obj: dict[str, Any]) -> str:
        return f"{obj['kind']}/{obj['metadata']['name']}"

    def get_named(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        where = [] if kind == "Namespace" else ["-n", namespace or self.namespace]
        done = self.kubectl("get", kind, name, *where, "-o", "json", "--show-managed-fields")
        return dict(json.loads(done.stdout))

    def get(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        return self.get_named(manifest["kind"], meta["name"], meta.get("namespace"))

    def absent(self, manifest: dict[str, Any]) -> bool:
        meta = manifest["metadata"]
        done = self.kubectl(
            "get", manifest["kind"], meta["name"], "-n", meta["namespace"], check=False
        )
        return done.returncode != 0 and "NotFound" in done.stderr

    def kept_objects(self) -> list[dict[str, Any]]:
        """What the fleets keep across a destroy: namespace, Secrets, home-volume claims."""
        return [self.get(m) for m in production_surroundings(load_manifests(self.baseline))]

    def _collect_once(self) -> None:
        listed = self.kubectl("get", STACK_KINDS, "-n", self.namespace, "-o", "json", check=False)
        if listed.returncode != 0:
            return
        for obj in json.loads(listed.stdout)["items"]:
            meta = obj["metadata"]
            if meta.get("deletionTimestamp") and meta.get("finalizers") == [FOREGROUND]:
                self.kubectl(
                    "patch",
                    obj["kind"],
                    meta["name"],
                    "-n",
                    self.namespace,
                    "--type=merge",
                    "-p",
                    '{"metadata":{"finalizers":null}}',
                    check=False,
                )

    @contextmanager
    def garbage_collector(self, period: float = 0.5) -> Iterator[None]:
        """Play the garbage collector while a destroy runs. Pulumi deletes in the foreground and
        waits until the object is gone; the collector would clear the `foregroundDeletion`
        finalizer once the object's ReplicaSets are gone. No controller runs here, so there are
        no ReplicaSets: clearing that finalizer is all the collector would do. Any other
        finalizer is left in place (and fails the test)."""
        stop = threading.Event()

        def collect() -> None:
            while not stop.wait(period):
                self._collect_once()

        collector = threading.Thread(target=collect, daemon=True)
        collector.start()
        try:
            yield
        finally:
            stop.set()
            collector.join()
