"""The offline render: stack config files -> the Kubernetes objects the stacks would register.

It walks the same path as the Pulumi programs (config -> validated model -> builders), and
resolves a runner stack's StackReference from the shared stack's own config in this repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from runner_k8s.build.fleet import runner_manifests
from runner_k8s.build.shared_objects import shared_manifests
from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.runner_checks import (
    check_shared_stack,
    load_runner_stack,
    shared_home_warnings,
)
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import load_stack_config, project_name
from runner_k8s.errors import ConfigError, repeats
from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.stacks import FLEET_PROJECTS, KUBERNETES_STACKS, SHARED_PROJECT
from runner_k8s.wiring import SharedWiring, build_wiring

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
