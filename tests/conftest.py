"""Fixtures for the stack-level tests: the repository, the baseline, and scratch copies."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from stack_fixtures import BASELINE, K8S_STACKS, REPO, EditConfig


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def baseline() -> Path:
    if not BASELINE.is_file():
        pytest.skip(f"parity spec {BASELINE} is absent: ../shared is not laid beside this clone")
    return BASELINE


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A scratch copy of the stacks, to change config without touching the repository."""
    for name in (*K8S_STACKS, "bootstrap"):
        source = REPO / "stacks" / name
        if source.is_dir():
            shutil.copytree(
                source, tmp_path / "stacks" / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    return tmp_path


@pytest.fixture
def edit_config() -> EditConfig:
    def edit(root: Path, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
        path = root / "stacks" / stack / "Pulumi.dev.yaml"
        document = yaml.safe_load(path.read_text())
        change(document["config"])
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    return edit
