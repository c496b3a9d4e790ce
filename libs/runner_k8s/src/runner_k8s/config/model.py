"""The base of every settings model, and how stack-file values become models: every problem
at once, each naming its full key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from runner_k8s.errors import ConfigError, from_validation_error, key_path


class Model(BaseModel):
    """camelCase keys in config (as in Kubernetes), snake_case in Python; unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # A value is taken as written, as the JSON Schemas say: `replicas: "2"` and
        # `enabled: 0` are refused, not converted.
        strict=True,
    )


def describe_fields() -> None:
    """Make the docstring under each field its description (the one source of the generated
    reference, docs/configuration.md, and of the stack files' JSON Schemas), for the models built
    from now on: call it before any config model is imported.

    Off by default: reading every model's source for its docstrings is a tenth of `gh-runner
    render`'s start-up, and only `schema`, `reference` and the tests print descriptions."""
    if Model.model_config.get("use_attribute_docstrings"):
        return
    built = Model.__subclasses__()
    if built:
        raise RuntimeError(
            f"config models already built without descriptions ({built[0].__name__}); "
            "call describe_fields() before importing them"
        )
    Model.model_config["use_attribute_docstrings"] = True


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], values: Mapping[str, Any]) -> M:
    """``values`` as a ``model``, by the documented camelCase keys only (the Python field names
    pydantic would also take are not part of the contract, and the JSON Schemas refuse them)."""
    return model.model_validate(dict(values), by_alias=True, by_name=False)


def validate(model: type[M], values: Mapping[str, Any], earlier: Sequence[str] = ()) -> M:
    """``values`` as a ``model``; a failure raises every problem, ``earlier`` ones first."""
    try:
        return parse(model, values)
    except ValidationError as exc:
        raise ConfigError([*earlier, *from_validation_error(exc).problems]) from None


KeyPath = tuple[str, ...]


def _cut(loc: Sequence[int | str]) -> KeyPath:
    """The mapping key an error is dropped by: its own key, or, inside a list, the whole list's
    (dropping one item would renumber the rest, whose problems name them by index)."""
    cut: list[str] = []
    for part in loc:
        if isinstance(part, int) or part == "[key]":
            break
        cut.append(part)
    return tuple(cut)


def _node(data: Any, path: KeyPath) -> Any:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


@dataclass(frozen=True)
class Parsed(Generic[M]):
    """What :func:`parse_partly` made of some values."""

    model: M | None  # None: a required value failed and has no stand-in
    problems: list[str]
    dropped: list[str]  # the keys whose values failed, as config keys (``runner.replicas``)

    def about_dropped(self, problem: str) -> bool:
        """Whether ``problem`` (``key: message``) is about a dropped key or one inside it: a rule
        across keys then judged a default or a stand-in, not what the operator wrote."""
        key = problem.partition(": ")[0]
        return any(
            key == k or key.startswith((f"{k}.", f"{k}[")) or f"{k} " in problem
            for k in self.dropped
        )


def parse_partly(
    model: type[M], values: Mapping[str, Any], stand_ins: Mapping[KeyPath, Any] | None = None
) -> Parsed[M]:
    """Every problem of ``values`` as ``model``, and the model made of what did parse.

    Each value that fails is dropped, so its default takes its place (a required one takes its
    entry in ``stand_ins``), and the rest is validated again, until it parses. The rules across
    keys can then run on every value that was fine, and report their problems together with the
    type errors, instead of one layer per run."""
    stand_ins = stand_ins or {}
    data: dict[str, Any] = copy.deepcopy(dict(values))
    problems: list[str] = []
    dropped: list[KeyPath] = []
    for _ in range(100):  # each round drops a key at least; a stack file has far fewer
        try:
            parsed = parse(model, data)
        except ValidationError as exc:
            problems = problems or from_validation_error(exc).problems
            if not _drop_failures(exc, data, stand_ins, dropped):
                break
            continue
        return Parsed(parsed, problems, [key_path(p) for p in dropped])
    return Parsed(None, problems, [key_path(p) for p in dropped])


def _drop_failures(
    exc: ValidationError,
    data: dict[str, Any],
    stand_ins: Mapping[KeyPath, Any],
    dropped: list[KeyPath],
) -> bool:
    """Drop (or stand in for) the value of each error; False when nothing could be."""
    progress = False
    for error in exc.errors(include_url=False, include_input=False):
        path = _cut(error["loc"])
        while path and not any(path[: len(d)] == d for d in dropped):
            parent = _node(data, path[:-1])
            key = path[-1]
            if isinstance(parent, dict) and path in stand_ins:
                if parent.get(key) == stand_ins[path]:
                    return False  # the stand-in itself fails: a bug, reported as it stands
                parent[key] = copy.deepcopy(stand_ins[path])
            elif isinstance(parent, dict) and key in parent:
                del parent[key]
            else:  # missing, with no stand-in: drop what holds it
                path = path[:-1]
                continue
            dropped.append(path)
            progress = True
            break
        if not path:
            return False
    return progress


def misplaced_secrets(secret_keys: set[str], allowed: set[str]) -> list[str]:
    """Secret config under a key whose value lands in a plain Kubernetes field (env, ConfigMap)
    would be decrypted into the cluster and the state: refuse it. ``provider`` may be secret, since
    a kubeconfig can carry credentials."""
    return [
        f"{key}: holds a secret value, which would be written into the cluster in plain text; "
        "keep secrets in a Kubernetes Secret instead (runner.secretMounts, or "
        "runner.env.NAME: {secretKeyRef: {name, key}})"
        for key in sorted(secret_keys)
        # A key may be a path (runner.env.FOO) when the stack file says where the secret is.
        if re.split(r"[.\[]", key, maxsplit=1)[0] not in allowed | {"provider"}
    ]
