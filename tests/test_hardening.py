"""The opt-in hardening beyond the baseline, through each stack's real program under mocks and
through the offline render: every switch off (the dev stacks) and on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stack_fixtures import EditConfig

from runner_k8s.mockrun import run_stack

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


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
