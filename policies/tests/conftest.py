"""The good objects every test starts from: the dev stacks' render, as `gh-runner render`
produces it."""

from __future__ import annotations

from typing import Any

import pytest

from gh_runner_harness.paths import REPO
from runner_k8s.offline.render import DEFAULT_STACK_DIRS, render_stacks


@pytest.fixture(scope="session")
def rendered() -> list[dict[str, Any]]:
    return render_stacks([REPO / d for d in DEFAULT_STACK_DIRS], "dev")


@pytest.fixture(scope="session")
def deployment(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    # The codex fleet: a PVC, an emptyDir and the ConfigMap, the richest pod of the render.
    [codex] = [m for m in rendered if m["metadata"]["name"] == "codex-gh-runner"]
    return codex
