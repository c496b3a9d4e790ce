"""Stack files as documents, judged by both sides of the config contract: the committed JSON
Schema of their project, and the loader (read as the offline tools read a file, then validated
by the project's loader)."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from runner_k8s.config.bootstrap import load_bootstrap
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import parse_stack_file
from runner_k8s.errors import ConfigError
from runner_k8s.offline.schemas import CONTRACTS, schema_path
from runner_k8s.stacks import BOOTSTRAP_STACK, SHARED_STACK

REPO = Path(__file__).resolve().parents[1]
DIRECTORY = {c.project: c.stack.directory for c in CONTRACTS}
SECURE = {"secure": "v1:Zm9v:YmFy"}
SHARED, CODEX, BOOT = "gh-runner-shared", "gh-runner-codex", "gh-runner-bootstrap"
# Where a document is said to come from, in the loader's messages.
WHERE = Path("Pulumi.case.yaml")


@functools.cache
def committed_schema(project: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((REPO / schema_path(project)).read_text())
    return schema


@functools.cache
def _validator(project: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(committed_schema(project))


def schema_errors(project: str, document: Any) -> list[str]:
    return [e.message for e in _validator(project).iter_errors(document)]


def loader_problems(project: str, document: Any) -> list[str]:
    """Every line the loader reports for ``document`` as a stack file of ``project``, without the
    file name in front; [] when it loads."""
    try:
        config = parse_stack_file(document, project, "case", WHERE)
        if project == SHARED_STACK.project:
            load_shared(config.values, config.secret_paths, config.problems)
        elif project == BOOTSTRAP_STACK.project:
            load_bootstrap(
                config.values, config.provider_values, config.secret_paths, config.problems
            )
        else:
            load_runner_stack(config.values, config.secret_paths, config.problems)
    except ConfigError as exc:
        return [p.removeprefix(f"{WHERE}: ") for p in exc.problems]
    return []


def dev_file(project: str) -> Path:
    return REPO / DIRECTORY[project] / "Pulumi.dev.yaml"


@functools.cache
def _dev(project: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(dev_file(project).read_text())
    return document


def dev(project: str) -> dict[str, Any]:
    """The committed dev file of ``project``, as a fresh document."""
    return copy.deepcopy(_dev(project))


def edit(project: str, path: str, value: Any) -> dict[str, Any]:
    """The dev file of ``project`` with ``value`` at the dotted ``path`` of its config."""
    document = dev(project)
    *parents, last = path.split(".")
    node = document["config"]
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return document


def remove(project: str, path: str) -> dict[str, Any]:
    """The dev file of ``project`` without the dotted ``path`` of its config."""
    document = dev(project)
    *parents, last = path.split(".")
    node = document["config"]
    for part in parents:
        node = node[part]
    del node[last]
    return document


def stack_init_rewrite(project: str) -> dict[str, Any]:
    """The dev file as `pulumi stack init` leaves a copy of it (seen with pulumi v3.274): every key
    prefixed with the project, and the passphrase provider's salt added."""
    document = dev(project)
    document["config"] = {
        f"{project}:{k}" if ":" not in k else k: v for k, v in document["config"].items()
    }
    document["encryptionsalt"] = "v1:qyJp7kp2YuQ=:v1:29FiMJoGEBpjWgY1:/HWGo1LfnwsuGOi3"
    return document
