"""Reading a stack's config the way the Pulumi CLI would, from ``Pulumi.yaml`` and
``Pulumi.<stack>.yaml``, without the CLI: for the offline render and the mock runs.

Secret values (``secure:``) are never decrypted: they are replaced by the render's marker and
reported as secret keys, exactly as the engine marks them for the program.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, yaml_problem
from .markers import SECRET_MARKER


@dataclass(frozen=True)
class StackConfig:
    """One stack's config: project keys without their prefix, and which of them are secret."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: set[str] = field(default_factory=set)
    # Keys of other namespaces (``kubernetes:context``, ``gcp:project``...), kept fully qualified.
    provider_values: dict[str, Any] = field(default_factory=dict)

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
    data = yaml.safe_load(path.read_text()) or {}
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError.at(f"{path}: name", "is required")
    return name


def load_stack_config(stack_dir: Path, stack: str) -> StackConfig:
    project = project_name(stack_dir)
    path = stack_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ConfigError.at(
            str(path), f"no such stack file (create it with `pulumi stack init {stack}`)"
        )
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError.at(str(path), f"is not valid YAML: {yaml_problem(exc)}") from None
    raw = data.get("config") or {}
    if not isinstance(raw, dict):
        raise ConfigError.at(f"{path}: config", "must be a mapping of keys to values")

    values: dict[str, Any] = {}
    provider_values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for full_key, value in raw.items():
        namespace, _, key = str(full_key).rpartition(":")
        namespace = namespace.removesuffix(":config")
        if namespace in ("", project):
            values[key] = _hide_secure_values(value)
            if _has_secure(value):
                secret_keys.add(key)
        else:
            provider_values[f"{namespace}:{key}"] = _hide_secure_values(value)
    return StackConfig(project, stack, values, secret_keys, provider_values)
