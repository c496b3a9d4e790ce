"""The stack projects of this repository: the one list every tool and test walks.

The shared and bootstrap projects are named here; fleets are found on disk, so adding a fleet is
one directory under ``stacks/`` (docs/development.md, "Adding a fleet"), and the render, the
CLI's defaults, the mock runs, the real-engine tiers and the JSON Schemas all follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner_k8s.errors import ConfigError

# Config namespaces a stack file may use besides its project's own: the engine's, and those of
# the providers the project's program uses. A key under any other namespace is read by nothing, so
# it is almost surely a misspelt project prefix (`gh-runner-codx:runner`), refused by the loader
# and by the JSON Schema alike.
KUBERNETES_NAMESPACES = ("kubernetes", "pulumi")
GCP_NAMESPACES = ("gcp", "pulumi")


@dataclass(frozen=True)
class StackProject:
    directory: str  # relative to the repository root
    project: str  # the `name` in its Pulumi.yaml
    other_namespaces: tuple[str, ...] = KUBERNETES_NAMESPACES

    @property
    def short_name(self) -> str:
        """Its directory's name, as the tests and `pulumi -C stacks/NAME` call it."""
        return self.directory.rsplit("/", 1)[-1]


SHARED_STACK = StackProject("stacks/shared", "gh-runner-shared")
BOOTSTRAP_STACK = StackProject("stacks/bootstrap", "gh-runner-bootstrap", GCP_NAMESPACES)
# What a fleet project's __main__.py calls: the mark by which fleets are found.
FLEET_PROGRAM_CALL = "fleet_program()"


def _project_of(directory: Path) -> str | None:
    # A plain `name:` line, as `pulumi new` writes it; a project without one is no Pulumi project
    # (the CLI refuses it), so it is no fleet either.
    match = re.search(r"^name:\s*['\"]?([^'\"\s]+)", (directory / "Pulumi.yaml").read_text(), re.M)
    return match[1] if match else None


def discover_fleets(root: Path) -> tuple[StackProject, ...]:
    """Every project under ``root/stacks`` whose program is the fleet program, by directory."""
    fleets = []
    for main in sorted((root / "stacks").glob("*/__main__.py")):
        project = (main.parent / "Pulumi.yaml").is_file() and _project_of(main.parent)
        if project and FLEET_PROGRAM_CALL in main.read_text():
            fleets.append(StackProject(main.parent.relative_to(root).as_posix(), project))
    return tuple(fleets)


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding this repository's stacks."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SHARED_STACK.directory / "Pulumi.yaml").is_file():
            return candidate
    raise ConfigError.at(str(here), "not inside the gh-runner repository (no stacks/shared)")


def _workspace_root() -> Path | None:
    """The repository this library is installed from (the uv workspace installs it editable),
    else the one around the working directory; None outside any."""
    source = Path(__file__).resolve().parents[4]
    if (source / SHARED_STACK.directory / "Pulumi.yaml").is_file():
        return source
    try:
        return find_repo_root()
    except ConfigError:
        return None


_ROOT = _workspace_root()
# The fleets: one directory each under stacks/, found on disk (docs/development.md, "Adding a
# fleet").
FLEET_STACKS = discover_fleets(_ROOT) if _ROOT is not None else ()

# The Kubernetes stacks, in the order they are applied: the shared stack first, since every
# fleet reads its `wiring` output.
KUBERNETES_STACKS = (SHARED_STACK, *FLEET_STACKS)
SHARED_PROJECT = SHARED_STACK.project
FLEET_PROJECTS = frozenset(s.project for s in FLEET_STACKS)
ALL_STACKS = (*KUBERNETES_STACKS, BOOTSTRAP_STACK)


def other_namespaces(project: str) -> tuple[str, ...]:
    """The namespaces besides its own that a stack file of ``project`` may use; for a project
    outside this repository, those of every project here."""
    for stack in ALL_STACKS:
        if stack.project == project:
            return stack.other_namespaces
    return tuple(sorted({n for s in ALL_STACKS for n in s.other_namespaces}))
