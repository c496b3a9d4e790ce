"""What a stack's ``__main__.py`` calls first: its validated config, read from the engine.

Bad config becomes ``pulumi.RunError``: the engine prints the message naming the key and no
traceback, and the program stops before it registers a single resource.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel

from runner_k8s.config.bootstrap import PROJECT_KEY, BootstrapConfig, load_bootstrap
from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.runner_checks import check_shared_stack, load_runner_stack
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.config.stackfile import secure_paths, stack_file, unknown_namespace
from runner_k8s.errors import ConfigError, or_run_error
from runner_k8s.stacks import other_namespaces

T = TypeVar("T")


def _decode(value: Any) -> Any:
    # The engine hands object values over as JSON text and plain strings as themselves.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _typed(values: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``values`` with each top-level boolean as the stack file wrote it: the engine hands a
    top-level scalar over as text (`allowCrossStack: true` arrives as "true"), and the loader
    takes a value as written, not converted."""
    booleans = {f.alias or n for n, f in model.model_fields.items() if f.annotation is bool}
    flags = {"true": True, "false": False}
    return {
        k: flags[v] if k in booleans and isinstance(v, str) and v in flags else v
        for k, v in values.items()
    }


def misspelt_namespaces(project: str | None = None) -> list[str]:
    """The stack's config keys under a namespace this program does not read (a misspelt project
    prefix, which the engine would hand over unread), as the offline loader reports them."""
    project = project or pulumi.get_project()
    merged = {**(runtime_config.get_config_env() or {}), **runtime_config.CONFIG.get()}
    readable = {project, *other_namespaces(project)}
    return [
        unknown_namespace(full_key, project)
        for full_key in sorted(merged)
        if full_key.rpartition(":")[0].removesuffix(":config") not in readable
    ]


def engine_config(project: str | None = None) -> tuple[dict[str, Any], set[str]]:
    """This project's config keys (prefix stripped) and the subset set with ``--secret``."""
    project = project or pulumi.get_project()
    merged: dict[str, Any] = {**(runtime_config.get_config_env() or {})}
    merged.update(runtime_config.CONFIG.get())
    secret = set(runtime_config.get_config_secret_keys_env())
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    for full_key, value in merged.items():
        namespace, _, key = full_key.rpartition(":")
        if namespace.removesuffix(":config") != project:
            continue
        values[key] = _decode(value)
        if full_key in secret or runtime_config.is_config_secret(full_key):
            secret_keys.add(key)
    return values, secret_keys


def _secret_paths(secret_keys: set[str]) -> set[str]:
    """Where in the secret keys the secret values sit (``runner.env.FOO``), read from the stack
    file in the project's root directory; the engine itself only says which top-level key. Only
    for the message: without the file (config from elsewhere, mock runs) it names the key."""
    if not secret_keys or not pulumi.get_root_directory():
        return secret_keys
    path = stack_file(Path(pulumi.get_root_directory()), pulumi.get_stack())
    try:
        config = yaml.safe_load(path.read_text()).get("config") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return secret_keys
    written = {str(k).rpartition(":")[2]: v for k, v in config.items()}
    return {p for key in secret_keys for p in secure_paths(written.get(key), key) or {key}}


def shared_config() -> SharedConfig:
    values, secret_keys = engine_config()
    return or_run_error(
        lambda: load_shared(values, _secret_paths(secret_keys), misspelt_namespaces())
    )


def runner_stack_config() -> RunnerStackConfig:
    values, secret_keys = engine_config()
    values = _typed(values, RunnerStackConfig)

    def load() -> RunnerStackConfig:
        config = load_runner_stack(values, _secret_paths(secret_keys), misspelt_namespaces())
        problems = check_shared_stack(config, pulumi.get_stack())
        if problems:
            raise ConfigError(problems)
        return config

    return or_run_error(load)


def bootstrap_config() -> BootstrapConfig:
    values, secret_keys = engine_config()
    # A provider-namespaced key, outside what engine_config() returns for this project.
    namespace, _, key = PROJECT_KEY.partition(":")
    project = pulumi.Config(namespace).get(key)
    provider_values = {} if project is None else {PROJECT_KEY: project}
    return or_run_error(
        lambda: load_bootstrap(
            values, provider_values, _secret_paths(secret_keys), misspelt_namespaces()
        )
    )
