"""Every real-engine tier is left out of the default run and run by CI, and CI builds every
toolchain they need (offline: reads pyproject.toml, .ci/run and scripts/)."""

from __future__ import annotations

import tomllib
from typing import Any

from stack_fixtures import REPO

CI = REPO / ".ci" / "run"


def pytest_options() -> dict[str, Any]:
    options: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"][
        "pytest"
    ]["ini_options"]
    return options


def test_each_tier_is_out_of_the_default_run_and_in_ci() -> None:
    options = pytest_options()
    ci = CI.read_text().splitlines()
    markers = [line.split(":", 1)[0] for line in options["markers"]]
    assert {"engine", "cluster", "state"} <= set(markers)
    for marker in markers:
        assert f"not {marker}" in options["addopts"], marker
        runs = [line for line in ci if f"run_pytest -m {marker}" in line]
        assert runs, f"{CI} does not run the {marker} tier"


def test_ci_builds_every_toolchain() -> None:
    ci = CI.read_text().splitlines()
    scripts = sorted((REPO / "scripts").glob("*-toolchain.sh"))
    assert len(scripts) >= 3
    for script in scripts:
        built = [line for line in ci if f"bash scripts/{script.name} >/dev/null" in line]
        assert built, f"{CI} does not build {script.name}"


def test_ci_runs_the_readme_quickstart_verbatim() -> None:
    """A missing install step must fail CI, not a user's laptop: CI runs the README's commands."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 3, commands  # set up, test, the main job
    ci = [line.strip() for line in CI.read_text().splitlines()]
    for command in commands:
        # run_pytest ARGS is `uv run pytest ARGS` with pytest's "no tests" made a failure.
        as_ci = command.replace("uv run pytest", "run_pytest", 1)
        assert any(line.startswith(as_ci) for line in ci), f"{CI} does not run `{command}`"
