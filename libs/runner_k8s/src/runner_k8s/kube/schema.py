"""The blocks of config passed through in Kubernetes shape (``runner.affinity``,
``runner.networkPolicy.extraEgress``), checked against the Kubernetes OpenAPI schema.

kubernetes-validate carries the schemas of every Kubernetes release; strict mode refuses a field
the schema does not know, which the API server would silently drop (``nodeSelectorTermz``).
A block is checked inside a minimal object of its kind, and each error path is mapped back to
the config key it came from.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

# The Kubernetes release the project targets: the minor GKE runs, and the one the cluster tier's
# kube-apiserver is built from (tests/test_toolchain_pins.py keeps the two equal). The tests
# check the rendered objects against the same schema.
KUBERNETES_VERSION = "1.34.0"
# Each round removes what it reported; a bound keeps a pathological block from looping long.
_MAX_ERRORS = 50


def _wrap_pod(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "check"},
        "spec": {"containers": [{"name": "check", "image": "check"}], **spec},
    }


def _wrap_network_policy(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "check"},
        "spec": {"podSelector": {}, **spec},
    }


def _key(at: str, path: Sequence[int | str]) -> str:
    for part in path:
        at += f"[{part}]" if isinstance(part, int) else f".{part}"
    return at


def _drop(document: dict[str, Any], path: Sequence[int | str]) -> bool:
    """Remove what an error points at, so the next round finds the next error. Only a mapping
    key is removed (removing a list item would shift the indexes of later errors): an error on
    a list item removes the nearest enclosing key. False when nothing can be removed."""
    keys = [i for i, part in enumerate(path) if isinstance(part, str)]
    if not keys:
        return False
    parent: Any = document
    for part in path[: keys[-1]]:
        parent = parent[part]
    del parent[path[keys[-1]]]
    return True


def _errors(document: dict[str, Any]) -> Iterator[tuple[list[int | str], str]]:
    """Every schema error of ``document`` as (path, message); the library reports one at a
    time, so each reported one is removed and the document checked again."""
    import kubernetes_validate  # imported here: it loads jsonschema, only needed when used

    document = copy.deepcopy(document)
    dropped: set[tuple[int | str, ...]] = set()
    for _ in range(_MAX_ERRORS):
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
            return
        except kubernetes_validate.ValidationError as error:
            path: list[int | str] = list(error.absolute_path)
            if error.validator == "additionalProperties" and isinstance(error.instance, dict):
                known = error.schema.get("properties", {})
                unknown = [k for k in error.instance if k not in known]
                for key in unknown:
                    yield [*path, key], "unknown field"
                    del _at(document, path)[key]
                if unknown:
                    continue
            if error.validator == "required" and isinstance(error.instance, dict):
                missing = [k for k in error.validator_value if k not in error.instance]
                if all((*path, k) in dropped for k in missing):
                    # Missing only because an earlier round removed it: already reported.
                    if not _drop(document, path):
                        return
                    continue
            yield path, error.message
            dropped.add(tuple(path))
            if not _drop(document, path):
                return


def _at(document: Any, path: Sequence[int | str]) -> Any:
    for part in path:
        document = document[part]
    return document


def _problems(document: dict[str, Any], inside: Sequence[str], at: str) -> list[str]:
    depth = len(inside)
    problems = []
    for path, message in _errors(document):
        if list(path[:depth]) == list(inside):
            problems.append(f"{_key(at, path[depth:])}: {message}")
        else:  # not expected: the wrapper itself is valid
            problems.append(f"{at}: {message}")
    return problems


def affinity_problems(affinity: dict[str, Any], at: str) -> list[str]:
    """``affinity`` (a Pod's ``spec.affinity``) against the schema; ``at`` is its config key."""
    return _problems(_wrap_pod({"affinity": affinity}), ("spec", "affinity"), at)


def egress_problems(rules: list[dict[str, Any]], at: str) -> list[str]:
    """NetworkPolicyEgressRules against the schema; ``at`` is the key of the list."""
    return _problems(_wrap_network_policy({"egress": rules}), ("spec", "egress"), at)
