"""Semantic comparison of Kubernetes manifests: what ``gh-runner diff`` reports as drift.

Ignored, because the API server ignores them too: key order, YAML quoting (``'1'`` vs ``1``),
the spelling of a quantity (``0.5`` vs ``500m``), and the order of lists that Kubernetes merges
by a key (containers by name, volume mounts by mount path...) outside a pod template.

Inside a pod template (``spec.template`` of a Deployment, StatefulSet, Job...) order is
behaviour: the Deployment controller hashes the template, lists in order, so a reordered
``volumes`` or ``env`` makes a new ReplicaSet and restarts every pod. There an order-only
difference is drift of its own kind, ``reordered``.

Secret payloads are never printed: a Secret's ``data``/``stringData`` values show as a short
digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .objects import Manifest
from .quantity import parse_quantity

# Lists Kubernetes treats as maps (their patchMergeKey): compared entry by entry, in any order.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
}
# Maps whose values are quantities.
QUANTITY_MAPS = frozenset({"requests", "limits", "capacity", "hard"})


@dataclass(frozen=True)
class Change:
    path: str
    rendered: Any
    applied: Any
    # True: the same entries, in another order, in a list that feeds the pod-template hash.
    reordered: bool = False

    def describe(self) -> str:
        if self.reordered:
            return (
                f"  ~ {self.path}: reordered {_names(self.applied)} -> {_names(self.rendered)}"
                "   (restarts the pods)"
            )
        if self.applied is _MISSING:
            return f"  + {self.path}: {_show(self.rendered)}   (only in the render)"
        if self.rendered is _MISSING:
            return f"  - {self.path}: {_show(self.applied)}   (only in the file)"
        return f"  ~ {self.path}: {_show(self.applied)} -> {_show(self.rendered)}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _names(keys: list[str]) -> str:
    return "[" + ", ".join(keys) + "]"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def object_id(manifest: Manifest) -> str:
    meta = manifest.get("metadata") or {}
    namespace = meta.get("namespace", "")
    where = f"{namespace}/" if namespace else ""
    return f"{manifest.get('kind', '?')} {where}{meta.get('name', '?')}"


def _scalar(value: Any, quantity: bool) -> Any:
    if quantity:
        try:
            return parse_quantity(value)
        except ValueError:
            pass
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


def _keyed(items: list[Any], key: str) -> dict[str, Any] | None:
    if not all(isinstance(i, dict) and key in i for i in items):
        return None
    keyed = {str(i[key]): i for i in items}
    return keyed if len(keyed) == len(items) else None


def _in_pod_template(path: str) -> bool:
    return "template" in path.split(".")


def _compare(rendered: Any, applied: Any, path: str, field: str, out: list[Change]) -> None:
    if isinstance(rendered, dict) and isinstance(applied, dict):
        quantities = field in QUANTITY_MAPS
        for key in list(rendered) + [k for k in applied if k not in rendered]:
            sub = f"{path}.{key}" if path else str(key)
            r, a = rendered.get(key, _MISSING), applied.get(key, _MISSING)
            if r is _MISSING or a is _MISSING:
                out.append(Change(sub, r, a))
            elif quantities and not isinstance(r, dict):
                if _scalar(r, True) != _scalar(a, True):
                    out.append(Change(sub, r, a))
            else:
                _compare(r, a, sub, str(key), out)
        return
    if isinstance(rendered, list) and isinstance(applied, list):
        merge_key = MERGE_KEYS.get(field)
        r_keyed = _keyed(rendered, merge_key) if merge_key else None
        a_keyed = _keyed(applied, merge_key) if merge_key else None
        if r_keyed is not None and a_keyed is not None:
            if (
                _in_pod_template(path)
                and set(r_keyed) == set(a_keyed)
                and list(r_keyed) != list(a_keyed)
            ):
                out.append(Change(path, list(r_keyed), list(a_keyed), reordered=True))
            _compare(r_keyed, a_keyed, path, "", out)
            return
        if len(rendered) != len(applied):
            out.append(Change(path, rendered, applied))
            return
        for i, (r, a) in enumerate(zip(rendered, applied, strict=True)):
            _compare(r, a, f"{path}[{i}]", field, out)
        return
    if _scalar(rendered, False) != _scalar(applied, False):
        out.append(Change(path, rendered, applied))


# A Secret's payload fields: their values are shown only as digests.
SECRET_PAYLOADS = ("data", "stringData")


def _digest(value: Any) -> Any:
    if value is _MISSING:
        return value
    if isinstance(value, dict):
        return {k: _digest(v) for k, v in value.items()}
    return "sha256:" + hashlib.sha256(str(value).encode()).hexdigest()[:12]


def _masked(change: Change) -> Change:
    if change.path.split(".")[0].split("[")[0] not in SECRET_PAYLOADS:
        return change
    return replace(change, rendered=_digest(change.rendered), applied=_digest(change.applied))


def changes(rendered: Manifest, applied: Manifest, live: bool = False) -> list[Change]:
    """Field differences. ``live``: ``applied`` was read back from the cluster, so fields only
    it has (status, server defaults, managed metadata) are not drift."""
    out: list[Change] = []
    _compare(rendered, applied, "", "", out)
    if live:
        out = [c for c in out if c.rendered is not _MISSING]
    if rendered.get("kind") == "Secret" or applied.get("kind") == "Secret":
        out = [_masked(c) for c in out]
    return out


@dataclass(frozen=True)
class Drift:
    only_rendered: list[str]
    only_applied: list[str]
    changed: dict[str, list[Change]]

    @property
    def clean(self) -> bool:
        return not (self.only_rendered or self.only_applied or self.changed)

    def report(self) -> str:
        lines = []
        for obj in self.only_rendered:
            lines.append(f"{obj}: only in the render (the file lacks it)")
        for obj in self.only_applied:
            lines.append(f"{obj}: only in the file (the render lacks it)")
        for obj, obj_changes in self.changed.items():
            lines.append(f"{obj}: {len(obj_changes)} field(s) differ (file -> render)")
            lines += [c.describe() for c in obj_changes]
        return "\n".join(lines)


def compare(rendered: Iterable[Manifest], applied: Iterable[Manifest], live: bool = False) -> Drift:
    r = {object_id(m): m for m in rendered}
    a = {object_id(m): m for m in applied}
    changed = {obj: c for obj in r if obj in a if (c := changes(r[obj], a[obj], live))}
    return Drift(
        only_rendered=[obj for obj in r if obj not in a],
        only_applied=[obj for obj in a if obj not in r],
        changed=changed,
    )
