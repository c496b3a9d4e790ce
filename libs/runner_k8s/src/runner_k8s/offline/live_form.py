"""A live object made comparable with the render: a Secret as the server stores it, and the
server's own bookkeeping (status, managedFields, its annotations) taken out.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from runner_k8s.kube.objects import Manifest

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
)

TOOL_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)

TOOL_ANNOTATION_PREFIXES = ("pulumi.com/",)


def decoded(value: Any) -> Any:
    """A Secret's ``data`` value as the bytes it stands for; as is if it is no base64."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value


def without_server_side(obj: Manifest) -> Manifest:
    """``obj`` less what the API server and the tools write on their own; ``null`` values (as
    in ``creationTimestamp: null``) as absent."""
    clean: Manifest = no_nulls({k: v for k, v in obj.items() if k != "status"})
    metadata = {k: v for k, v in (clean.get("metadata") or {}).items() if k not in SERVER_METADATA}
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k not in TOOL_ANNOTATIONS and not k.startswith(TOOL_ANNOTATION_PREFIXES)
    }
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    clean["metadata"] = metadata
    return clean


def no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [no_nulls(v) for v in value]
    return value
