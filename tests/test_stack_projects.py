"""runner_k8s.stacks, the one list of stack projects, against the stacks/ directory: a fleet
added on disk but not to the list (or the other way round) fails here, and so does a fleet
program that drifted from its siblings."""

from __future__ import annotations

import ast
from pathlib import Path

from runner_k8s.config.stackfile import project_name
from runner_k8s.stacks import (
    BOOTSTRAP_STACK,
    FLEET_STACKS,
    KUBERNETES_STACKS,
    SHARED_STACK,
    StackProject,
    discover_fleets,
)


def test_every_listed_stack_is_the_project_on_disk(repo: Path) -> None:
    for stack in (*KUBERNETES_STACKS, BOOTSTRAP_STACK):
        assert project_name(repo / stack.directory) == stack.project, stack.directory


def test_every_stack_on_disk_is_listed(repo: Path) -> None:
    on_disk = {p.parent.relative_to(repo).as_posix() for p in repo.glob("stacks/*/Pulumi.yaml")}
    listed = {s.directory for s in (*KUBERNETES_STACKS, BOOTSTRAP_STACK)}
    assert on_disk == listed


def test_the_shared_stack_is_applied_first() -> None:
    assert KUBERNETES_STACKS[0] == SHARED_STACK
    assert set(KUBERNETES_STACKS[1:]) == set(FLEET_STACKS)


def _without_docstring(source: str) -> str:
    module = ast.parse(source)
    if ast.get_docstring(module) is not None:
        module.body = module.body[1:]
    return ast.unparse(module)


def test_fleet_programs_differ_only_in_their_docstring(repo: Path) -> None:
    # A fleet is config, not code: docs/development.md "Adding a fleet" copies a program unchanged.
    programs = {
        s.directory: _without_docstring((repo / s.directory / "__main__.py").read_text())
        for s in FLEET_STACKS
    }
    first = next(iter(programs.values()))
    assert all(p == first for p in programs.values()), sorted(programs)


def test_a_fleet_is_a_directory_whose_program_is_the_fleet_program(tmp_path: Path) -> None:
    def project(directory: str, name: str, program: str) -> None:
        (tmp_path / directory).mkdir(parents=True)
        (tmp_path / directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
        (tmp_path / directory / "__main__.py").write_text(program)

    fleet = (
        '"""claude"""\n'
        "from runner_k8s.components.fleet_program import fleet_program\n\nfleet_program()\n"
    )
    project("stacks/claude-runner", "gh-runner-claude", fleet)
    project("stacks/shared", "gh-runner-shared", "import pulumi\n")
    project("stacks/zeta-runner", "'gh-runner-zeta'", fleet)
    (tmp_path / "stacks/notes").mkdir()
    (tmp_path / "stacks/notes/__main__.py").write_text(fleet)  # no Pulumi.yaml: no project
    assert discover_fleets(tmp_path) == (
        StackProject("stacks/claude-runner", "gh-runner-claude"),
        StackProject("stacks/zeta-runner", "gh-runner-zeta"),
    )
