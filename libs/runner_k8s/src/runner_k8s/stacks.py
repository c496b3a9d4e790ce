"""The stack projects of this repository: the one list every tool and test walks.

Adding a fleet is one line here and one directory under ``stacks/`` (see docs/development.md,
"Adding a fleet"); the render, the CLI's defaults, the mock runs, the real-engine tiers and the
JSON Schemas all follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner_k8s.errors import ConfigError


@dataclass(frozen=True)
class StackProject:
    directory: str  # relative to the repository root
    project: str  # the `name` in its Pulumi.yaml

    @property
    def short_name(self) -> str:
        """Its directory's name, as the tests and `pulumi -C stacks/NAME` call it."""
        return self.directory.rsplit("/", 1)[-1]


SHARED_STACK = StackProject("stacks/shared", "gh-runner-shared")
FLEET_STACKS = (
    StackProject("stacks/codex-runner", "gh-runner-codex"),
    StackProject("stacks/gemini-runner", "gh-runner-gemini"),
)
BOOTSTRAP_STACK = StackProject("stacks/bootstrap", "gh-runner-bootstrap")

# The Kubernetes stacks, in the order they are applied: the shared stack first, since every
# fleet reads its `wiring` output.
KUBERNETES_STACKS = (SHARED_STACK, *FLEET_STACKS)
SHARED_PROJECT = SHARED_STACK.project
FLEET_PROJECTS = frozenset(s.project for s in FLEET_STACKS)


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding this repository's stacks."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / SHARED_STACK.directory / "Pulumi.yaml").is_file():
            return candidate
    raise ConfigError.at(str(here), "not inside the gh-runner repository (no stacks/shared)")
