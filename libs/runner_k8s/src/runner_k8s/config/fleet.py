"""The one loader of a runner stack together with its shared stack, for every offline tool
(render, status, mock-run): each refuses a cross-wired fleet and every other problem the same way.

A runner stack reads its namespace and Secret wiring from the shared stack through a
StackReference; offline, that shared stack is the ``gh-runner-shared`` project of this repository,
read from its own stack file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.runner_checks import (
    check_shared_stack,
    load_runner_stack,
    shared_home_warnings,
)
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.config.stackfile import StackConfig, load_stack_config, project_name, stack_file
from runner_k8s.errors import ConfigError
from runner_k8s.stacks import SHARED_PROJECT, find_repo_root

# A problem that already names its file: "<path>.yaml: ..." or "<path>.yaml: key: ...".
_NAMES_A_FILE = re.compile(r"^\S+\.ya?ml: ")


def in_file(path: Path, problem: str) -> str:
    """``problem`` prefixed with the stack file it is about, unless it names a file already."""
    return problem if _NAMES_A_FILE.match(problem) else f"{path}: {problem}"


@dataclass(frozen=True)
class FleetStack:
    """A runner stack's validated config and the shared stack it reads."""

    stack_file: Path
    config: RunnerStackConfig
    shared_file: Path
    shared: SharedConfig
    # What the program would warn about at preview (the shared-home trap).
    warnings: list[str] = field(default_factory=list)


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


def load_runner_with_shared(
    stack_dir: Path, stack: str, config: StackConfig | None = None
) -> tuple[RunnerStackConfig, Path, str]:
    """The runner stack's own config, checked, and where its shared stack is; problems are the
    runner stack's own (callers name its file)."""
    config = config or load_stack_config(stack_dir, stack, collect=True)
    runner_stack = load_runner_stack(config.values, config.secret_paths, config.problems)
    problems = check_shared_stack(runner_stack, stack)
    if problems:
        raise ConfigError(problems)
    shared_dir, shared_stack = shared_stack_of(runner_stack, stack, stack_dir)
    return runner_stack, shared_dir, shared_stack


def load_fleet_stack(stack_dir: Path, stack: str, config: StackConfig | None = None) -> FleetStack:
    """Load and check a runner stack and its shared stack; every problem names its stack file."""
    where = stack_file(stack_dir, stack)
    try:
        runner_stack, shared_dir, shared_stack = load_runner_with_shared(stack_dir, stack, config)
    except ConfigError as exc:
        raise ConfigError([in_file(where, p) for p in exc.problems]) from None
    shared_path = stack_file(shared_dir, shared_stack)
    try:
        shared_config = load_stack_config(shared_dir, shared_stack, collect=True)
        shared = load_shared(
            shared_config.values, shared_config.secret_paths, shared_config.problems
        )
    except ConfigError as exc:
        # The shared stack's own problems, named by its file rather than the runner's.
        raise ConfigError([in_file(shared_path, p) for p in exc.problems]) from None
    return FleetStack(
        stack_file=where,
        config=runner_stack,
        shared_file=shared_path,
        shared=shared,
        warnings=shared_home_warnings(runner_stack.runner),
    )
