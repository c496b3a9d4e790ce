"""Paths and helpers shared by the stack-level tests (on pytest's pythonpath)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gh_runner_harness.paths import BASELINE, K8S_STACKS, REPO

__all__ = ["BASELINE", "K8S_STACKS", "REPO", "EditConfig"]

# edit_config(root, "codex-runner", fn): fn mutates that stack's `dev` config in place.
EditConfig = Callable[[Path, str, Callable[[dict[str, Any]], None]], None]
