"""Fixtures for the stack-level tests: the repository, the baseline, and scratch copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from stack_fixtures import BASELINE, REPO, EditConfig, copy_stacks, edit_stack_config


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
    return copy_stacks(tmp_path)


@pytest.fixture
def edit_config() -> EditConfig:
    return edit_stack_config
