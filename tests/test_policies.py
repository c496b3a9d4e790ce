"""The policy pack's rules against what the stacks really produce: the render and, under mocks,
the inputs each program registers (what the analyzer is handed), with every switch on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stack_fixtures import K8S_STACKS, EditConfig

from gh_runner_policies.rules import check
from runner_k8s.offline.mockrun import ProgramRun, run_stack
from runner_k8s.offline.render import render_stacks


def problems(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Violations and gaps by object; empty when every rule passes on every object."""
    found = {}
    for obj in objects:
        results = {n: r for n, r in check(obj).items() if r.violations or r.unknown}
        if results:
            found[f"{obj['kind']}/{obj['metadata']['name']}"] = results
    return found


def every_switch_on(root: Path, edit_config: EditConfig) -> None:
    def shared(config: dict[str, Any]) -> None:
        config["githubToken"] = {"secure": "v1:AAAAciphertextAAAA"}
        config["provider"]["skipAwait"] = True

    def runner(config: dict[str, Any]) -> None:
        config["provider"]["skipAwait"] = True
        config["runner"]["homeVolume"] = {"colocate": True}
        config["runner"]["minRunnerVersion"] = "2.329.0"
        config["runner"]["networkPolicy"] = {"enabled": True}
        config["runner"]["rolloutOnConfigChange"] = True

    edit_config(root, "shared", shared)
    for stack in ("codex-runner", "gemini-runner"):
        edit_config(root, stack, runner)


def test_every_switch_on_passes_the_pack(repo_copy: Path, edit_config: EditConfig) -> None:
    every_switch_on(repo_copy, edit_config)
    stack_dirs = [repo_copy / "stacks" / s for s in K8S_STACKS]

    rendered = render_stacks(stack_dirs, "dev")
    assert {m["kind"] for m in rendered} == {"Secret", "ConfigMap", "Deployment", "NetworkPolicy"}
    assert problems(rendered) == {}

    runs: dict[tuple[Path, str], ProgramRun] = {}
    registered = []
    for stack_dir in stack_dirs:
        run = run_stack(stack_dir, "dev", runs=runs)
        assert run.error is None, run.error
        registered += [r.inputs for r in run.resources if r.custom and "kind" in r.inputs]
    assert len(registered) == len(rendered)
    assert problems(registered) == {}
