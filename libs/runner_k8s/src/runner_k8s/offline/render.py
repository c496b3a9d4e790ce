"""The offline render: stack config files -> the Kubernetes objects the stacks would register.

It walks the same path as the Pulumi programs (config -> validated model -> builders), and
resolves a runner stack's StackReference from the shared stack's own config in this repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from runner_k8s.build.fleet import runner_manifests
from runner_k8s.build.shared_objects import shared_manifests
from runner_k8s.config.fleet import in_file, load_fleet_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import load_stack_config, stack_file
from runner_k8s.errors import ConfigError, repeats
from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.stacks import FLEET_PROJECTS, KUBERNETES_STACKS, SHARED_PROJECT
from runner_k8s.wiring import build_wiring

# What `render` and `diff` read when given no stack directory.
DEFAULT_STACK_DIRS = tuple(s.directory for s in KUBERNETES_STACKS)


def render_stack(stack_dir: Path, stack: str, warnings: list[str] | None = None) -> list[Manifest]:
    """The stack's objects; what its program would warn about at preview goes to ``warnings``."""
    config = load_stack_config(stack_dir, stack, collect=True)
    if config.project == SHARED_PROJECT:
        return shared_manifests(load_shared(config.values, config.secret_paths, config.problems))
    if config.project in FLEET_PROJECTS or "runner" in config.values:
        fleet = load_fleet_stack(stack_dir, stack, config)
        if warnings is not None:
            warnings += fleet.warnings
        return runner_manifests(fleet.config.runner, build_wiring(fleet.shared))
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
        where = str(stack_file(stack_dir, stack))
        found: list[str] = []
        try:
            rendered = render_stack(stack_dir, stack, found)
        except ConfigError as exc:
            # Every stack's problems at once; a shared stack's only once, however many read it.
            problems += [
                p for p in (in_file(Path(where), p) for p in exc.problems) if p not in problems
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
