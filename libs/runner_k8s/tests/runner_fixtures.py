"""Small builders of stack config for the library tests (on pytest's pythonpath)."""

from __future__ import annotations

from typing import Any


def runner_values(**runner: Any) -> dict[str, Any]:
    """A runner stack config with just the required keys, plus overrides."""
    return {
        "runner": {
            "name": "codex-gh-runner",
            "image": "ghcr.io/x/runner:1",
            "pvcMounts": [HOME],
            **runner,
        }
    }


# The home volume the library once added by default; pvcMounts is now required.
HOME = {"name": "home", "claimName": "codex-gh-runner-home", "mountPath": "/home/runner"}
