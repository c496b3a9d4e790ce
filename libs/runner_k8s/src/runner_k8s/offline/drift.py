"""Semantic comparison of Kubernetes manifests: what ``gh-runner diff`` reports as drift.

Ignored, because the API server ignores them too: key order, YAML quoting (``'1'`` vs ``1``),
the spelling of a quantity (``0.5`` vs ``500m``), and the order of lists that Kubernetes merges
by a key (containers by name, volume mounts by mount path...) outside a pod template.

Inside a pod template, order is drift of its own kind: the workload controllers hash the
template with its lists in order (a Deployment's pod-template-hash), so the same volumes in
another order are a new ReplicaSet, i.e. every pod restarted.

A Secret's values (its data, and the annotations that may copy them) are never shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.kube.quantity import parse_quantity

__all__ = ["Change", "Drift", "changes", "compare", "object_id"]

# Lists Kubernetes treats as maps (their patchMergeKey): compared entry by entry, in any order.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
}
# Maps whose values are quantities.
QUANTITY_MAPS = frozenset({"requests", "limits", "capacity", "hard"})
# Where each workload kind keeps its PodTemplateSpec, whose list order its controller hashes.
POD_TEMPLATES = {
    "Deployment": "spec.template",
    "ReplicaSet": "spec.template",
    "StatefulSet": "spec.template",
    "DaemonSet": "spec.template",
    "ReplicationController": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
    "PodTemplate": "template",
}
# The only Secret fields whose values a report shows; the rest (data, stringData, annotations
# such as kubectl's last-applied-configuration, which copies the data) may hold the secret.
SECRET_VISIBLE = (
    "apiVersion",
    "kind",
    "type",
    "immutable",
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
)
HIDDEN = "<hidden>"


@dataclass(frozen=True)
class Change:
    path: str
    rendered: Any
    applied: Any
    # rendered and applied are the list's merge keys, in each side's order.
    reordered: bool = False
    # A Secret's value: say that it differs, never what it is.
    hidden: bool = False

    def describe(self) -> str:
        if self.reordered:
            return (
                f"  ~ {self.path}: reordered {_keys(self.applied)} -> {_keys(self.rendered)}"
                "   (restarts the pods)"
            )
        if self.applied is _MISSING:
            return f"  + {self.path}: {_show(self.rendered, self.hidden)}   (only in the render)"
        if self.rendered is _MISSING:
            return f"  - {self.path}: {_show(self.applied, self.hidden)}   (only in the file)"
        if self.hidden:
            return f"  ~ {self.path}: changed   (a Secret's values are not shown)"
        return f"  ~ {self.path}: {_show(self.applied)} -> {_show(self.rendered)}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _keys(keys: list[str]) -> str:
    return "[" + ", ".join(keys) + "]"


def _masked(value: Any) -> Any:
    """The shape of a hidden value (its keys), none of its content."""
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    return HIDDEN


def _show(value: Any, hidden: bool = False) -> str:
    text = repr(_masked(value) if hidden else value)
    return text if len(text) <= 120 else text[:117] + "..."


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


def _compare(
    rendered: Any, applied: Any, path: str, field: str, ordered: str | None, out: list[Change]
) -> None:
    """``ordered``: the path of the object's pod template, inside which list order counts."""
    if isinstance(rendered, dict) and isinstance(applied, dict):
        quantities = field in QUANTITY_MAPS
        for key in list(rendered) + [k for k in applied if k not in rendered]:
            sub = f"{path}.{key}" if path else str(key)
            r, a = rendered.get(key, _MISSING), applied.get(key, _MISSING)
            if r is _MISSING or a is _MISSING:
                out.append(Change(sub, r, a))
            elif quantities and not isinstance(r, dict | list):
                if _scalar(r, True) != _scalar(a, True):
                    out.append(Change(sub, r, a))
            else:
                _compare(r, a, sub, str(key), ordered, out)
        return
    if isinstance(rendered, list) and isinstance(applied, list):
        merge_key = MERGE_KEYS.get(field)
        r_keyed = _keyed(rendered, merge_key) if merge_key else None
        a_keyed = _keyed(applied, merge_key) if merge_key else None
        if r_keyed is not None and a_keyed is not None:
            if ordered is not None and path.startswith(ordered + "."):
                # Entries on both sides, in each side's order: an entry only one side has is
                # reported below on its own, and is no reordering.
                r_order = [k for k in r_keyed if k in a_keyed]
                a_order = [k for k in a_keyed if k in r_keyed]
                if r_order != a_order:
                    out.append(Change(path, r_order, a_order, reordered=True))
            _compare(r_keyed, a_keyed, path, "", ordered, out)
            return
        if len(rendered) != len(applied):
            out.append(Change(path, rendered, applied))
            return
        for i, (r, a) in enumerate(zip(rendered, applied, strict=True)):
            _compare(r, a, f"{path}[{i}]", field, ordered, out)
        return
    if _scalar(rendered, False) != _scalar(applied, False):
        out.append(Change(path, rendered, applied))


def _visible(path: str) -> bool:
    return any(path == f or path.startswith(f + ".") for f in SECRET_VISIBLE)


def changes(rendered: Manifest, applied: Manifest, live: bool = False) -> list[Change]:
    """Field differences. ``live``: ``applied`` was read back from the cluster, so fields only
    it has (status, server defaults, managed metadata) are not drift."""
    out: list[Change] = []
    _compare(rendered, applied, "", "", POD_TEMPLATES.get(str(rendered.get("kind"))), out)
    if live:
        out = [c for c in out if c.rendered is not _MISSING]
    if "Secret" in (rendered.get("kind"), applied.get("kind")):
        out = [
            c if _visible(c.path) else Change(c.path, c.rendered, c.applied, hidden=True)
            for c in out
        ]
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
    # Each side holds an object once: the caller refuses repeats (``render.check_unique``).
    r = {object_id(m): m for m in rendered}
    a = {object_id(m): m for m in applied}
    changed = {obj: c for obj in r if obj in a if (c := changes(r[obj], a[obj], live))}
    return Drift(
        only_rendered=[obj for obj in r if obj not in a],
        only_applied=[obj for obj in a if obj not in r],
        changed=changed,
    )
