"""Reading a stack's config the way the Pulumi CLI would, from ``Pulumi.yaml`` and
``Pulumi.<stack>.yaml``, without the CLI: for the offline render and the mock runs.

Secret values (``secure:``) are never decrypted: they are replaced by the render's marker and
reported as secret keys, exactly as the engine marks them for the program.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner_k8s.errors import ConfigError, yaml_problem
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.stacks import other_namespaces

# The top-level keys of a stack file besides `config`: what `pulumi stack init` writes itself
# (strings), and the ESC environments it imports.
PULUMI_STRINGS = ("secretsprovider", "encryptedkey", "encryptionsalt")
TOP_LEVEL_KEYS = ("config", *PULUMI_STRINGS, "environment")


# libyaml's parser where PyYAML has it: several times faster on the stack files every command
# reads; the Python constructor (and so the duplicate-key rule below) is the same either way.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """PyYAML keeps the last of two equal keys; the Pulumi CLI refuses the file. Refuse it too."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def read_yaml(path: Path) -> Any:
    """One YAML document, duplicate keys refused, errors as a ConfigError naming the file."""
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError.at(str(path), f"is not valid YAML: {yaml_problem(exc)}") from None
    except OSError as exc:
        raise ConfigError.at(str(path), f"cannot be read: {exc.strerror}") from None


@dataclass(frozen=True)
class StackConfig:
    """One stack's config: project keys without their prefix, and which of them are secret."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: set[str] = field(default_factory=set)
    # Keys of other namespaces (``kubernetes:context``, ``gcp:project``...), kept fully qualified.
    provider_values: dict[str, Any] = field(default_factory=dict)
    # Where each secret value sits, as a config key path (``runner.env.FOO``), for messages.
    secret_paths: set[str] = field(default_factory=set)
    # What is wrong with the file itself (each line names it), to be raised with the loader's
    # problems in one pass: a misspelt prefix must not hide a plaintext githubToken.
    problems: list[str] = field(default_factory=list)

    def engine_config(self) -> dict[str, str]:
        """The flat ``project:key -> string`` map the engine hands to a program."""
        flat = {f"{self.project}:{k}": _engine_value(v) for k, v in self.values.items()}
        flat |= {k: _engine_value(v) for k, v in self.provider_values.items()}
        return flat

    def engine_secret_keys(self) -> list[str]:
        return sorted(f"{self.project}:{k}" for k in self.secret_keys)


def _engine_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _secure_values(value: Any, at: str) -> Iterator[tuple[str, Any]]:
    """Each ``secure:`` value under ``value`` (itself at key ``at``), with its key path."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            yield at, value["secure"]
            return
        for k, v in value.items():
            yield from _secure_values(v, f"{at}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secure_values(v, f"{at}[{i}]")


def secure_paths(value: Any, at: str) -> set[str]:
    """The key paths of the ``secure:`` values under ``value`` (itself at key ``at``)."""
    return {where for where, _ in _secure_values(value, at)}


def _hide_secure_values(value: Any) -> Any:
    """Each ``secure:`` value replaced by the marker; everything else as written."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET_MARKER
        return {k: _hide_secure_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_secure_values(v) for v in value]
    return value


def project_name(stack_dir: Path) -> str:
    path = stack_dir / "Pulumi.yaml"
    if not path.is_file():
        raise ConfigError.at(str(stack_dir), "not a Pulumi project (no Pulumi.yaml)")
    data = read_yaml(path) or {}
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError.at(f"{path}: name", "is required")
    return name


def stack_file(stack_dir: Path, stack: str) -> Path:
    """Where Pulumi keeps a stack's config."""
    return stack_dir / f"Pulumi.{stack}.yaml"


def load_stack_config(stack_dir: Path, stack: str, *, collect: bool = False) -> StackConfig:
    """The stack file of ``stack`` in ``stack_dir``. What is wrong with its keys is raised, or,
    with ``collect``, left in ``problems`` for the loader to raise with its own in one pass (a
    file with no config to read at all is raised either way)."""
    project = project_name(stack_dir)
    path = stack_file(stack_dir, stack)
    if not path.is_file():
        # The runbook's order (docs/operations.md): `pulumi stack init` alone writes a file with
        # no config, which the next render refuses with `runner: is required`.
        raise ConfigError.at(
            str(path),
            f"no such stack file; copy the dev file first, then create the stack: cd "
            f"{path.parent} && cp Pulumi.dev.yaml {path.name} && pulumi stack init {stack} "
            "(with the secrets provider of docs/operations.md, Create the stacks)",
        )
    config = parse_stack_file(read_yaml(path), project, stack, path)
    if config.problems and not collect:
        raise ConfigError(config.problems)
    return config


def unknown_namespace(full_key: str, project: str) -> str:
    """The problem with ``full_key``, whose namespace ``project``'s program does not read."""
    namespace, _, key = full_key.rpartition(":")
    namespace = namespace.removesuffix(":config")
    close = difflib.get_close_matches(namespace, [project, *other_namespaces(project)], n=1)
    hint = f"did you mean {close[0]}:{key}?" if close else f"write {project}:{key} or {key}"
    return (
        f"{full_key}: unknown namespace {namespace!r}, read by nothing "
        f"(this project is {project}; {hint})"
    )


def _top_level_problems(data: dict[Any, Any], path: Path) -> Iterator[str]:
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            known = ", ".join(TOP_LEVEL_KEYS)
            yield f"{path}: {key}: unknown top-level key (a stack file holds {known})"
        elif key in PULUMI_STRINGS and not isinstance(value, str):
            yield f"{path}: {key}: must be a string (Pulumi writes it; do not edit it)"
        elif key == "environment" and not (
            isinstance(value, dict)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            yield f"{path}: environment: must be a list of Pulumi ESC environment names"


def parse_stack_file(data: Any, project: str, stack: str, path: Path) -> StackConfig:
    """A stack file's document (as read from ``path``) the way the Pulumi CLI reads it."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError.at(str(path), "must be a mapping (config: ...), not a list or a scalar")
    raw = data.get("config")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError.at(f"{path}: config", "must be a mapping of keys to values")
    problems = [*_top_level_problems(data, path)]
    namespaces = other_namespaces(project)
    values: dict[str, Any] = {}
    provider_values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    secret_paths: set[str] = set()
    spelt: dict[str, str] = {}  # key -> how the file wrote it first
    for full_key, value in raw.items():
        namespace, _, key = str(full_key).rpartition(":")
        namespace = namespace.removesuffix(":config")
        if namespace in ("", project):
            if key in spelt:
                # `runner` and `gh-runner-codex:runner` are one key to Pulumi.
                problems.append(
                    f"{path}: {full_key}: the same key as {spelt[key]}, written twice; keep one"
                )
                continue
            spelt[key] = str(full_key)
            values[key] = _hide_secure_values(value)
            problems += [
                f"{path}: {where}: a secure value must be the ciphertext "
                "`pulumi config set --secret` writes"
                for where, secure in sorted(_secure_values(value, key))
                if not (isinstance(secure, str) and secure)
            ]
            if _has_secure(value):
                secret_keys.add(key)
                secret_paths |= secure_paths(value, key)
        elif namespace in namespaces:
            provider_values[f"{namespace}:{key}"] = _hide_secure_values(value)
        else:
            problems.append(f"{path}: {unknown_namespace(str(full_key), project)}")
    return StackConfig(project, stack, values, secret_keys, provider_values, secret_paths, problems)
