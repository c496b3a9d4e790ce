"""The good objects every test starts from: the dev stacks' render, as `gh-runner render`
produces it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner_k8s.render import DEFAULT_STACK_DIRS, find_repo_root, render_stacks

REPO = find_repo_root(Path(__file__).parent)


@pytest.fixture(scope="session")
def rendered() -> list[dict[str, Any]]:
    return render_stacks([REPO / d for d in DEFAULT_STACK_DIRS], "dev")


@pytest.fixture(scope="session")
def deployment(rendered: list[dict[str, Any]]) -> dict[str, Any]:
    # The codex fleet: a PVC, an emptyDir and the ConfigMap, the richest pod of the render.
    [codex] = [m for m in rendered if m["metadata"]["name"] == "codex-gh-runner"]
    return codex
