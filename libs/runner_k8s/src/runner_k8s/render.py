"""The offline render: stack config files -> the Kubernetes objects the stacks would register.

It walks the same path as the Pulumi programs (config -> validated model -> builders), and
resolves a runner stack's StackReference from the shared stack's own config in this repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import (
    RunnerStackConfig,
    check_shared_stack,
    load_runner_stack,
    load_shared,
    shared_home_warnings,
)
from .errors import ConfigError, repeats, yaml_problem
from .manifests import runner_manifests
from .objects import Manifest, object_id
from .shared_objects import shared_manifests
from .stackfile import load_stack_config, project_name
from .stacks import FLEET_PROJECTS, KUBERNETES_STACKS, SHARED_PROJECT
from .wiring import SharedWiring, build_wiring

# A problem that already names its file: "<path>.yaml: ..." or "<path>.yaml: key: ...".
_NAMES_A_FILE = re.compile(r"^\S+\.ya?ml: ")

# What `render` and `diff` read when given no stack directory.
DEFAULT_STACK_DIRS = tuple(s.directory for s in KUBERNETES_STACKS)


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding this repository's stacks."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / DEFAULT_STACK_DIRS[0] / "Pulumi.yaml").is_file():
            return candidate
    raise ConfigError.at(str(here), "not inside the gh-runner repository (no stacks/shared)")


def shared_stack_of(config: RunnerStackConfig, stack: str, stack_dir: Path) -> tuple[Path, str]:
    """Where the shared stack a runner stack references lives in this repository: its directory
    (a sibling of the runner's) and its stack name."""
    reference = config.shared_stack_name(stack)
    _org, project, shared_stack = reference.split("/")
    if project != SHARED_PROJECT:
        raise ConfigError.at("sharedStack", f"{reference!r} is not a {SHARED_PROJECT} stack")
    for stacks_dir in (stack_dir.parent, find_repo_root(stack_dir) / "stacks"):
        for candidate in sorted(stacks_dir.glob("*/Pulumi.yaml")):
            if project_name(candidate.parent) == SHARED_PROJECT:
                return candidate.parent, shared_stack
    raise ConfigError.at("sharedStack", f"no {SHARED_PROJECT} project found in this repository")


def offline_wiring(config: RunnerStackConfig, stack: str, stack_dir: Path) -> SharedWiring:
    """What the runner stack's StackReference would read, worked out offline."""
    shared_dir, shared_stack = shared_stack_of(config, stack, stack_dir)
    try:
        shared_file = load_stack_config(shared_dir, shared_stack)
        return build_wiring(load_shared(shared_file.values, shared_file.secret_paths))
    except ConfigError as exc:
        # The shared stack's own problems, named by its file rather than the runner's.
        raise ConfigError(
            [_in_file(shared_dir / f"Pulumi.{shared_stack}.yaml", p) for p in exc.problems]
        ) from None


def _in_file(path: Path, problem: str) -> str:
    """``problem`` prefixed with the stack file it is about, unless it names a file already."""
    return problem if _NAMES_A_FILE.match(problem) else f"{path}: {problem}"


def render_stack(stack_dir: Path, stack: str, warnings: list[str] | None = None) -> list[Manifest]:
    """The stack's objects; what its program would warn about at preview goes to ``warnings``."""
    config = load_stack_config(stack_dir, stack)
    if config.project == SHARED_PROJECT:
        return shared_manifests(load_shared(config.values, config.secret_paths))
    if config.project in FLEET_PROJECTS or "runner" in config.values:
        runner_stack = load_runner_stack(config.values, config.secret_paths)
        problems = check_shared_stack(runner_stack, stack)
        if problems:
            raise ConfigError(problems)
        if warnings is not None:
            warnings += shared_home_warnings(runner_stack.runner)
        wiring = offline_wiring(runner_stack, stack, stack_dir)
        return runner_manifests(runner_stack.runner, wiring)
    raise ConfigError.at(
        str(stack_dir),
        f"project {config.project} registers no Kubernetes objects; "
        "use `gh-runner mock-run` for it (formerly `render --format resources`)",
    )


def render_stacks(
    stack_dirs: Iterable[Path], stack: str, warnings: list[str] | None = None
) -> list[Manifest]:
    manifests: list[Manifest] = []
    # Two stacks registering one object would fight over it (each `up` undoing the other's).
    owners: list[tuple[str, str]] = []  # (stack file, object), for the repeats below
    problems: list[str] = []
    for stack_dir in stack_dirs:
        where = str(stack_dir / f"Pulumi.{stack}.yaml")
        found: list[str] = []
        try:
            rendered = render_stack(stack_dir, stack, found)
        except ConfigError as exc:
            # Every stack's problems at once; a shared stack's only once, however many read it.
            problems += [
                p for p in (_in_file(Path(where), p) for p in exc.problems) if p not in problems
            ]
            continue
        owners += [(where, object_id(manifest)) for manifest in rendered]
        manifests += rendered
        if warnings is not None:
            warnings += [f"{where}: {w}" for w in found]
    problems += [
        f"{where}: {identity} is also created by {first}: the two stacks would fight over it; "
        "rename one (runner.name)"
        for where, identity, first in repeats(owners)
    ]
    if problems:
        raise ConfigError(problems)
    return manifests


# --- YAML --------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line strings (the codex config.toml) as literal blocks, as a human would write them.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifests: Iterable[Manifest]) -> str:
    return "---\n".join(
        yaml.dump(m, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for m in manifests
    )


# Where the default render lives in the repository: the raw-YAML fallback.
FALLBACK_FILE = "deploy/gh-runner/deployment.yaml"


def header(stack: str, command: str) -> str:
    return (
        f"# Generated by gh-runner from the stacks' Pulumi.{stack}.yaml: do not edit by hand.\n"
        f"# Regenerate with: {command}\n"
    )


def object_file_name(manifest: Manifest) -> str:
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"


@dataclass(frozen=True)
class Located:
    """An object read from a file, and where: ``live.yaml, document 2, items[0]``."""

    manifest: Manifest
    where: str


def load_manifests(path: Path) -> list[Manifest]:
    return [found.manifest for found in read_manifests(path)]


def read_manifests(path: Path) -> list[Located]:
    """Every Kubernetes object in a YAML file (a `kubectl get -o yaml` List is unpacked). Input
    that holds none, or anything that is not an object, is refused with one line naming the file
    and document: a diff against it would otherwise report drift that is not there."""
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError.at(str(path), f"cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError.at(str(path), "is not a text (UTF-8) file") from None
    except yaml.YAMLError as exc:
        raise ConfigError.at(str(path), f"is not valid YAML: {yaml_problem(exc)}") from None
    except RecursionError:
        raise ConfigError.at(str(path), "is not valid YAML: nested too deeply") from None
    found: list[Located] = []
    for index, document in enumerate(documents, start=1):
        where = f"{path}, document {index}"
        if document is None:  # an empty document, e.g. after a trailing `---`
            continue
        if isinstance(document, dict) and _is_list(document):
            items = document["items"]
            if not isinstance(items, list):
                raise ConfigError.at(where, f"{document['kind']}: items must be a list")
            found += [_located(item, f"{where}, items[{i}]") for i, item in enumerate(items)]
        else:
            found.append(_located(document, where))
    if not found:
        raise ConfigError.at(str(path), "holds no Kubernetes objects")
    return found


def _located(document: Any, where: str) -> Located:
    if not isinstance(document, dict):
        shape = "a list" if isinstance(document, list) else f"the scalar {_short(document)}"
        raise ConfigError.at(where, f"is {shape}, not a Kubernetes object (a mapping)")
    kind = document.get("kind")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(kind, str) or not kind:
        raise ConfigError.at(where, "is not a Kubernetes object: it has no kind")
    if not isinstance(name, str) or not name:
        raise ConfigError.at(where, f"{kind} is not a Kubernetes object: it has no metadata.name")
    namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    if namespace is not None and not isinstance(namespace, str):
        raise ConfigError.at(where, f"{kind} {name}: metadata.namespace must be a string")
    return Located(document, where)


def check_unique(objects: Iterable[Located]) -> list[str]:
    """The same object twice among the inputs: which copy counts would depend on argument
    order, so the diff refuses to choose."""
    pairs = ((found.where, object_id(found.manifest)) for found in objects)
    return [f"{where}: {key} again (also in {first})" for where, key, first in repeats(pairs)]


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _is_list(document: dict[str, Any]) -> bool:
    return str(document.get("kind", "")).endswith("List") and "items" in document
