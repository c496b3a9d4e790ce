"""The opt-in hardening beyond the baseline, through each stack's real program under mocks and
through the offline render: every switch off (the dev stacks) and on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stack_fixtures import EditConfig

from runner_k8s.mockrun import run_stack
from runner_k8s.render import render_stack, render_stacks

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def render_warnings(root: Path, stack: str) -> list[str]:
    warnings: list[str] = []
    render_stacks([root / "stacks" / stack], "dev", warnings)
    return warnings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.update(labels=["gpt-5-codex", "GPT-5-Codex"]),
            "runner.labels[1]: duplicate label 'GPT-5-Codex'",
        ),
        (lambda r: r.update(labels=["gpt 5"]), "runner.labels[0]: 'gpt 5' must not contain"),
        (
            lambda r: r.update(minRunnerVersion="2.330.0"),
            "runner.image: runner 2.329.0 (from the tag) is below runner.minRunnerVersion 2.330.0",
        ),
        (
            lambda r: r.update(image="ghcr.io/spigell/codex-github-runner:latest"),
            "runner.image: 'ghcr.io/spigell/codex-github-runner:latest' is not pinned",
        ),
    ],
)
def test_label_and_version_errors_stop_before_any_resource(
    repo_copy: Path, edit_config: EditConfig, change: Any, message: str
) -> None:
    edit_config(repo_copy, "codex-runner", lambda c: change(c["runner"]))
    run = run_stack(repo_copy / "stacks" / "codex-runner", "dev")
    assert run.error is not None
    assert message in run.error
    assert run.resources == []


def test_the_dev_image_meets_its_own_runner_version(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", lambda c: c["runner"].update(minRunnerVersion="2.329.0"))
    run = run_stack(repo_copy / "stacks" / "codex-runner", "dev")
    assert run.error is None
    assert len(run.of_type(DEPLOYMENT)) == 1


# --- the shared-home trap ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "claim"),
    [("codex-runner", "codex-gh-runner-home"), ("gemini-runner", "gemini-gh-runner-home")],
)
def test_the_dev_fleets_warn_about_their_shared_home(repo: Path, stack: str, claim: str) -> None:
    # The baseline runs 2 replicas on one GKE persistent disk: exactly the risky case.
    run = run_stack(repo / "stacks" / stack, "dev")
    [warning] = run.warnings
    assert f"share PersistentVolumeClaim {claim};" in warning
    assert warning == render_warnings(repo, stack)[0].split(": ", 1)[1]


@pytest.mark.parametrize(
    "home",
    [
        {"homeVolume": {"colocate": True}},
        {"homeVolume": {"accessMode": "ReadWriteMany"}},
        {"replicas": 1},
        {"pvcMounts": []},
    ],
)
def test_no_warning_once_the_operator_chose(
    repo_copy: Path, edit_config: EditConfig, home: dict[str, Any]
) -> None:
    edit_config(repo_copy, "gemini-runner", lambda c: c["runner"].update(home))
    run = run_stack(repo_copy / "stacks" / "gemini-runner", "dev")
    assert run.error is None
    assert run.warnings == []
    assert render_warnings(repo_copy, "gemini-runner") == []


def test_colocate_reaches_the_registered_deployment(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(
        repo_copy, "gemini-runner", lambda c: c["runner"].update(homeVolume={"colocate": True})
    )
    stack_dir = repo_copy / "stacks" / "gemini-runner"
    [deployment] = run_stack(stack_dir, "dev").of_type(DEPLOYMENT)
    assert deployment.inputs["spec"]["template"]["spec"]["affinity"]["podAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "labelSelector": {"matchLabels": {"app": "gemini-gh-runner"}},
                "topologyKey": "kubernetes.io/hostname",
            }
        ]
    }
    assert [deployment.inputs] == render_stack(stack_dir, "dev")


def test_render_prints_the_warnings_to_stderr(repo: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gh-runner"), "render"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(lines) == 2
    assert lines[0].startswith("gh-runner: warning: stacks/codex-runner/Pulumi.dev.yaml: runner ")
    assert "codex-gh-runner-home" in lines[0]
    assert "gemini-gh-runner-home" in lines[1]
    assert "warning" not in result.stdout
