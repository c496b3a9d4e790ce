"""Semantic comparison of Kubernetes manifests: what ``gh-runner diff`` reports as drift.

Ignored, because the API server ignores them too: key order, YAML quoting (``'1'`` vs ``1``),
the spelling of a quantity (``0.5`` vs ``500m``), and the order of lists that Kubernetes merges
by a key (containers by name, volume mounts by mount path...) outside a pod template.

Inside a pod template, every change restarts the pods: the workload controllers hash the
template, lists in order (a Deployment's pod-template-hash), so any difference there, even the
same volumes in another order, is a new ReplicaSet.

Against a live object (``live``), what the API server and the tools write on their own is not
drift: status, the server's metadata, kubectl's and the controllers' bookkeeping annotations,
and server defaults, told apart from a hand edit by the render *as the server stores it*: the
server's own answer to a dry-run create of the rendered object (``gh-runner diff --cluster``),
or else the defaults table of ``kube.defaults``. Any other field only the live object has was
set by someone, and is reported as such.

A Secret's ``stringData`` is compared as the ``data`` the server turns it into, by value, in
memory; its values (and the annotations that may copy them) are never shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from runner_k8s.kube.defaults import with_server_defaults
from runner_k8s.kube.markers import DEPLOY_TIME_MARKER, SECRET_MARKER
from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.kube.quantity import parse_quantity
from runner_k8s.offline.live_form import decoded, without_server_side

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
# What the API server writes on every object: never config, never a hand edit.
# Annotations tools write for their own bookkeeping: kubectl's copy of what it last applied,
# the Deployment controller's revision counter, and Pulumi's instructions to its provider
# (which the render never shows: objects.provider_metadata).
# What `pulumi up` does with a field set in the cluster but absent from config, measured on the
# cluster tier with pulumi-kubernetes 4.32.0 (tests/cluster/test_live_diff.py): the adopting
# `up` (an upsert) leaves it; every later update first takes over the fields of kubectl's field
# managers (`kubectl-...`, not through a subresource) and then applies without it, so it goes.
CLUSTER_ONLY = "set in the cluster, not in config"
CLUSTER_ONLY_FATE = (
    "the next `pulumi up` that updates this object removes it if kubectl set it; "
    "an adopting `up` leaves it"
)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


class _Unknown:
    """A value the offline render never knows (a secret config value, a digest computed at
    deploy time): equal to anything, and counted as not compared."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"<{self.why}>"


_MISSING: Any = _Missing()
_MARKERS = {
    SECRET_MARKER: "a secret config value, never decrypted offline",
    DEPLOY_TIME_MARKER: "computed at deploy time",
}


@dataclass(frozen=True)
class Change:
    path: str
    rendered: Any
    applied: Any
    # rendered and applied are the list's merge keys, in each side's order.
    reordered: bool = False
    # A Secret's value: say that it differs, never what it is.
    hidden: bool = False
    # Under a pod template: applying it starts new pods.
    restarts: bool = False
    # Only the live object has it, and no server default explains it: someone set it.
    in_cluster_only: bool = False

    def describe(self) -> str:
        restarts = "   (restarts the pods)" if self.restarts else ""
        if self.reordered:
            return (
                f"  ~ {self.path}: reordered {_keys(self.applied)} -> {_keys(self.rendered)}"
                + restarts
            )
        if self.in_cluster_only:
            return (
                f"  ! {self.path}: {_show(self.applied, self.hidden)}"
                f"   ({CLUSTER_ONLY}: {CLUSTER_ONLY_FATE})" + restarts
            )
        if self.applied is _MISSING:
            return (
                f"  + {self.path}: {_show(self.rendered, self.hidden)}   (only in the render)"
                + restarts
            )
        if self.rendered is _MISSING:
            return f"  - {self.path}: {_show(self.applied, self.hidden)}   (only in the file)"
        if self.hidden:
            return f"  ~ {self.path}: changed   (a Secret's values are not shown)" + restarts
        return f"  ~ {self.path}: {_show(self.applied)} -> {_show(self.rendered)}" + restarts


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


@dataclass
class _Walk:
    """One comparison: ``ordered`` is the path of the object's pod template, inside which list
    order counts; ``unknown`` collects the paths of values the render does not know."""

    ordered: str | None
    out: list[Change] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)

    def change(self, path: str, rendered: Any, applied: Any, **kind: bool) -> None:
        restarts = self.ordered is not None and path.startswith(self.ordered + ".")
        self.out.append(Change(path, rendered, applied, restarts=restarts, **kind))

    def compare(self, rendered: Any, applied: Any, path: str = "", name: str = "") -> None:
        if isinstance(rendered, _Unknown):
            self.unknown.append((path, rendered.why))
            return
        if isinstance(rendered, dict) and isinstance(applied, dict):
            quantities = name in QUANTITY_MAPS
            for key in list(rendered) + [k for k in applied if k not in rendered]:
                sub = f"{path}.{key}" if path else str(key)
                r, a = rendered.get(key, _MISSING), applied.get(key, _MISSING)
                if r is _MISSING or a is _MISSING:
                    self.change(sub, r, a)
                elif quantities and not isinstance(r, dict | list | _Unknown):
                    if _scalar(r, True) != _scalar(a, True):
                        self.change(sub, r, a)
                else:
                    self.compare(r, a, sub, str(key))
            return
        if isinstance(rendered, list) and isinstance(applied, list):
            merge_key = MERGE_KEYS.get(name)
            r_keyed = _keyed(rendered, merge_key) if merge_key else None
            a_keyed = _keyed(applied, merge_key) if merge_key else None
            if r_keyed is not None and a_keyed is not None:
                if self.ordered is not None and path.startswith(self.ordered + "."):
                    # Entries on both sides, in each side's order: an entry only one side has
                    # is reported below on its own, and is no reordering.
                    r_order = [k for k in r_keyed if k in a_keyed]
                    a_order = [k for k in a_keyed if k in r_keyed]
                    if r_order != a_order:
                        self.change(path, r_order, a_order, reordered=True)
                self.compare(r_keyed, a_keyed, path)
                return
            if len(rendered) != len(applied):
                self.change(path, rendered, applied)
                return
            for i, (r, a) in enumerate(zip(rendered, applied, strict=True)):
                self.compare(r, a, f"{path}[{i}]", name)
            return
        if _scalar(rendered, False) != _scalar(applied, False):
            self.change(path, rendered, applied)


def _paths(value: Any, path: str = "", name: str = "") -> Iterator[str]:
    """Every path in ``value``, spelt as the comparison spells them."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, f"{path}.{key}" if path else str(key), str(key))
    elif isinstance(value, list):
        merge_key = MERGE_KEYS.get(name)
        keyed = _keyed(value, merge_key) if merge_key else None
        if keyed is not None:
            for key, item in keyed.items():
                yield from _paths(item, f"{path}.{key}", "")
        else:
            for i, item in enumerate(value):
                yield from _paths(item, f"{path}[{i}]", name)


def _visible(path: str) -> bool:
    return any(path == f or path.startswith(f + ".") for f in SECRET_VISIBLE)


def _with_unknowns(value: Any) -> Any:
    """The render's markers as values the comparison does not judge."""
    if isinstance(value, dict):
        return {k: _with_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_unknowns(v) for v in value]
    if isinstance(value, str) and value in _MARKERS:
        return _Unknown(_MARKERS[value])
    return value


def secret_as_stored(secret: Manifest) -> Manifest:
    """A Secret as the API server stores it: ``stringData`` merged into ``data`` (it wins on a
    shared key), every value as bytes so that the two spellings compare equal."""
    data = {k: decoded(v) for k, v in (secret.get("data") or {}).items()}
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = value if isinstance(value, _Unknown) else str(value).encode()
    stored = {k: v for k, v in secret.items() if k not in ("data", "stringData")}
    if data or "data" in secret or "stringData" in secret:
        stored["data"] = data
    return stored


def _prepared(obj: Manifest, live: bool) -> Manifest:
    prepared = _with_unknowns(obj)
    if prepared.get("kind") == "Secret":
        prepared = secret_as_stored(prepared)
    return without_server_side(prepared) if live else prepared


@dataclass(frozen=True)
class ObjectDiff:
    changes: list[Change]
    # (path, why) of each value the render does not know, so it was not compared.
    not_compared: list[tuple[str, str]]


def diff_object(
    rendered: Manifest,
    applied: Manifest,
    live: bool = False,
    as_stored: Manifest | None = None,
) -> ObjectDiff:
    """Field differences between the render and ``applied``.

    ``live``: ``applied`` was read back from the cluster. A field only it has is drift unless
    the server or a tool wrote it: ``as_stored`` is the rendered object as this server stores
    it (its answer to a dry-run create), else the defaults table's idea of it."""
    kind = str(rendered.get("kind"))
    want, got = _prepared(rendered, live), _prepared(applied, live)
    walk = _Walk(POD_TEMPLATES.get(kind))
    walk.compare(want, got)
    found = walk.out
    if live:
        # What only the live object has is judged against the render as stored: a field equal
        # to the server's default is none of config's business.
        stored = _prepared(as_stored or with_server_defaults(rendered), live)
        configured = set(_paths(want))
        against_stored = _Walk(walk.ordered)
        against_stored.compare(stored, got)
        found = [c for c in found if c.rendered is not _MISSING] + [
            replace(c, rendered=_MISSING, in_cluster_only=True)
            for c in against_stored.out
            if c.path not in configured and c.applied is not _MISSING
        ]
    if kind == "Secret":
        found = [c if _visible(c.path) else replace(c, hidden=True) for c in found]
    return ObjectDiff(found, walk.unknown)


def changes(rendered: Manifest, applied: Manifest, live: bool = False) -> list[Change]:
    return diff_object(rendered, applied, live).changes


@dataclass(frozen=True)
class Drift:
    only_rendered: list[str]
    only_applied: list[str]
    changed: dict[str, list[Change]]
    not_compared: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.only_rendered or self.only_applied or self.changed)

    def report(self, source: str = "file") -> str:
        """``source``: what the render was compared with (the file, the cluster)."""
        lines = []
        for obj in self.only_rendered:
            lines.append(f"{obj}: only in the render (the {source} lacks it)")
        for obj in self.only_applied:
            lines.append(f"{obj}: only in the {source} (the render lacks it)")
        for obj, obj_changes in self.changed.items():
            lines.append(f"{obj}: {len(obj_changes)} field(s) differ ({source} -> render)")
            lines += [c.describe() for c in obj_changes]
        return "\n".join(lines)

    def notes(self) -> list[str]:
        """The values the render does not know, so the diff could not compare."""
        return [
            f"{obj}: {path} not compared ({why})"
            for obj, unknown in self.not_compared.items()
            for path, why in unknown
        ]


def compare(
    rendered: Iterable[Manifest],
    applied: Iterable[Manifest],
    live: bool = False,
    as_stored: Mapping[str, Manifest] | None = None,
) -> Drift:
    """``as_stored``: by object id, the rendered objects as the cluster stores them (see
    ``diff_object``)."""
    # Each side holds an object once: the caller refuses repeats (``render.check_unique``).
    r = {object_id(m): m for m in rendered}
    a = {object_id(m): m for m in applied}
    stored = as_stored or {}
    diffs = {obj: diff_object(r[obj], a[obj], live, stored.get(obj)) for obj in r if obj in a}
    return Drift(
        only_rendered=[obj for obj in r if obj not in a],
        only_applied=[obj for obj in a if obj not in r],
        changed={obj: d.changes for obj, d in diffs.items() if d.changes},
        not_compared={obj: d.not_compared for obj, d in diffs.items() if d.not_compared},
    )
