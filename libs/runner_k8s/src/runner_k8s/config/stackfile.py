"""Reading a stack's config the way the Pulumi CLI would, from ``Pulumi.yaml`` and
``Pulumi.<stack>.yaml``, without the CLI: for the offline render and the mock runs.

Secret values (``secure:``) are never decrypted: they are replaced by the render's marker and
reported as secret keys, exactly as the engine marks them for the program.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner_k8s.errors import ConfigError, yaml_problem
from runner_k8s.kube.markers import SECRET_MARKER

# Config namespaces a stack file may use besides its project's own: the engine's, and those of the
# providers this workspace installs. Any other namespace is read by nothing, so a key under it is
# almost surely a misspelt project prefix (`gh-runner-codx:runner`) that would be silently
# ignored; it is refused. A new provider adds its namespace here.
KNOWN_NAMESPACES = frozenset({"pulumi", "kubernetes", "gcp"})


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


def secure_paths(value: Any, at: str) -> set[str]:
    """The key paths of the ``secure:`` values under ``value`` (itself at key ``at``)."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return {at}
        return {p for k, v in value.items() for p in secure_paths(v, f"{at}.{k}")}
    if isinstance(value, list):
        return {p for i, v in enumerate(value) for p in secure_paths(v, f"{at}[{i}]")}
    return set()


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


def load_stack_config(stack_dir: Path, stack: str) -> StackConfig:
    project = project_name(stack_dir)
    path = stack_file(stack_dir, stack)
    if not path.is_file():
        raise ConfigError.at(
            str(path), f"no such stack file (create it with `pulumi stack init {stack}`)"
        )
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError.at(str(path), "must be a mapping (config: ...), not a list or a scalar")
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise ConfigError.at(f"{path}: config", "must be a mapping of keys to values")

    values: dict[str, Any] = {}
    provider_values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    secret_paths: set[str] = set()
    problems: list[str] = []
    for full_key, value in raw.items():
        namespace, _, key = str(full_key).rpartition(":")
        namespace = namespace.removesuffix(":config")
        if namespace in ("", project):
            values[key] = _hide_secure_values(value)
            if _has_secure(value):
                secret_keys.add(key)
                secret_paths |= secure_paths(value, key)
        elif namespace in KNOWN_NAMESPACES:
            provider_values[f"{namespace}:{key}"] = _hide_secure_values(value)
        else:
            close = difflib.get_close_matches(namespace, [project, *KNOWN_NAMESPACES], n=1)
            hint = f"did you mean {close[0]}:{key}?" if close else f"write {project}:{key} or {key}"
            problems.append(
                f"{path}: {full_key}: unknown namespace {namespace!r}, read by nothing "
                f"(this project is {project}; {hint})"
            )
    if problems:
        raise ConfigError(problems)
    return StackConfig(project, stack, values, secret_keys, provider_values, secret_paths)
