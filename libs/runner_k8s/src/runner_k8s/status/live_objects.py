"""What ``gh-runner diff --cluster`` reads: each rendered object as the cluster holds it, and the
same object as this cluster would store it (its answer to a server-side dry-run create), which
tells a server default from a hand edit exactly (docs/operations.md, adopting what kubectl
created). Imported only by ``diff --cluster``: the offline commands never load lightkube.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from runner_k8s.config.fleet import load_fleet_stack
from runner_k8s.config.provider import ProviderConfig
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.stacks import SHARED_PROJECT
from runner_k8s.status.cluster import KubernetesCluster
from runner_k8s.status.command import cluster_of

# The resource (plural) of each kind the stacks register; another kind is asked as <kind>s.
PLURALS = {"NetworkPolicy": "networkpolicies"}


def stack_cluster(
    stack_dir: Path, stack: str, kubeconfig: str | None, context: str | None
) -> tuple[str | None, str | None]:
    """Where a stack's objects live: its `provider.kubeconfig`/`provider.context`, unless the
    command line names them."""
    config = load_stack_config(stack_dir, stack)
    provider: ProviderConfig
    if config.project == SHARED_PROJECT:
        provider = load_shared(config.values, config.secret_paths).provider
    else:
        provider = load_fleet_stack(stack_dir, stack, config).config.provider
    return cluster_of(provider, stack_dir, stack, kubeconfig, context)


@functools.cache
def _generic_resource(group: str, version: str, kind: str) -> Any:
    """lightkube's class for a kind, as raw JSON (no typed model to drop a field it does not
    know). Made once per process: lightkube refuses a second class for the core group's kinds."""
    from lightkube.generic_resource import create_namespaced_resource

    return create_namespaced_resource(group, version, kind, PLURALS.get(kind, kind.lower() + "s"))


class LiveObjects(KubernetesCluster):
    """Reads of one cluster for the diff: an object, and a dry-run create of its render."""

    def _resource(self, manifest: Manifest) -> Any:
        group, _, version = str(manifest["apiVersion"]).rpartition("/")
        return _generic_resource(group, version, str(manifest["kind"]))

    def read(self, manifest: Manifest) -> Manifest | None:
        """The live object, or None when the cluster has none of that name."""
        from lightkube import ApiError

        meta = manifest["metadata"]
        with self.asking(f"a read of {object_id(manifest)}"):
            try:
                found = self._client.get(
                    self._resource(manifest), meta["name"], namespace=meta.get("namespace")
                )
            except ApiError as exc:
                if exc.status.code == 404:
                    return None
                raise
        return dict(found)

    def as_stored(self, manifest: Manifest) -> Manifest:
        """``manifest`` as this cluster would store it: a server-side dry-run create under a
        generated name (nothing is written), so its defaults and mutating admission fill in
        exactly what they filled into the live object."""
        scratch = copy.deepcopy(manifest)
        meta = scratch["metadata"]
        meta["generateName"] = f"{meta.pop('name')}-"
        resource = self._resource(manifest)
        with self.asking(f"a dry-run create of {object_id(manifest)}"):
            stored = self._client.create(
                resource(scratch), namespace=meta.get("namespace"), dry_run=True
            )
        stored_dict = dict(stored)
        stored_dict["metadata"] = {
            **stored_dict.get("metadata", {}),
            "name": manifest["metadata"]["name"],
        }
        stored_dict["metadata"].pop("generateName", None)
        return stored_dict


def read_cluster(
    rendered: list[Manifest], where: tuple[str | None, str | None]
) -> tuple[list[Manifest], dict[str, Manifest]]:
    """The live objects of ``rendered`` (those the cluster has) and, by object id, each rendered
    object as the cluster stores it."""
    cluster = LiveObjects(*where)
    live = [found for m in rendered if (found := cluster.read(m)) is not None]
    return live, {object_id(m): cluster.as_stored(m) for m in rendered}
