"""What every builder shares: the plain-dict shape of a Kubernetes object and its metadata."""

from __future__ import annotations

from typing import Any

from runner_k8s.config.provider import ProviderConfig

# An object exactly as `kubectl apply` takes it (camelCase, apiVersion first).
Manifest = dict[str, Any]

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


def provider_metadata(metadata: dict[str, Any], provider: ProviderConfig) -> dict[str, Any]:
    """An object's metadata as handed to the provider: the render's, plus the skip-await
    annotation when the (test-only) provider switch asks for it. The render never shows it: it
    instructs Pulumi, like upsert, and says nothing about what should run."""
    if not provider.skip_await:
        return metadata
    return {**metadata, "annotations": {**metadata.get("annotations", {}), SKIP_AWAIT: "true"}}
