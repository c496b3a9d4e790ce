"""Paths and helpers shared by the stack-level tests (on pytest's pythonpath)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO.parent / "shared" / "baseline" / "gh-runner-deployment.yaml"
K8S_STACKS = ("shared", "codex-runner", "gemini-runner")

# edit_config(root, "codex-runner", fn): fn mutates that stack's `dev` config in place.
EditConfig = Callable[[Path, str, Callable[[dict[str, Any]], None]], None]
