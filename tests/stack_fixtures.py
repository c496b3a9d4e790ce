"""Paths and helpers shared by the stack-level tests (on pytest's pythonpath)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gh_runner_harness.paths import BASELINE, K8S_STACKS, REPO

__all__ = ["BASELINE", "K8S_STACKS", "REPO", "EditConfig", "copy_stacks", "edit_stack_config"]

# edit_config(root, "codex-runner", fn): fn mutates that stack's `dev` config in place.
EditConfig = Callable[[Path, str, Callable[[dict[str, Any]], None]], None]


def copy_stacks(root: Path) -> Path:
    """A scratch copy of the stacks under ``root``, to change config without touching the
    repository (the ``repo_copy`` fixture)."""
    for name in (*K8S_STACKS, "bootstrap"):
        source = REPO / "stacks" / name
        if source.is_dir():
            shutil.copytree(
                source, root / "stacks" / name, ignore=shutil.ignore_patterns("__pycache__")
            )
    return root


def edit_stack_config(root: Path, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
    """``change`` applied to that stack's `dev` config in place (the ``edit_config`` fixture)."""
    path = root / "stacks" / stack / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    change(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))
