"""What every builder shares: the plain-dict shape of a Kubernetes object and its metadata."""

from __future__ import annotations

from typing import Any, NamedTuple

# An object exactly as `kubectl apply` takes it (camelCase, apiVersion first).
Manifest = dict[str, Any]


class Kind(NamedTuple):
    """What a manifest starts with: its apiVersion and kind."""

    api_version: str
    kind: str

    def type_meta(self) -> Manifest:
        return {"apiVersion": self.api_version, "kind": self.kind}


CONFIG_MAP = Kind("v1", "ConfigMap")
SECRET = Kind("v1", "Secret")
DEPLOYMENT = Kind("apps/v1", "Deployment")
NETWORK_POLICY = Kind("networking.k8s.io/v1", "NetworkPolicy")

# Tells pulumi-kubernetes not to wait for readiness (test-only; see ProviderConfig.skip_await).
SKIP_AWAIT = "pulumi.com/skipAwait"


def object_id(manifest: Manifest) -> str:
    """What makes an object one object to the API server: kind, namespace and name."""
    meta = manifest.get("metadata") or {}
    namespace = meta.get("namespace", "")
    where = f"{namespace}/" if namespace else ""
    return f"{manifest.get('kind', '?')} {where}{meta.get('name', '?')}"


def object_metadata(
    name: str, namespace: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """The metadata a builder writes: name, namespace and, when there are any, labels."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return metadata
