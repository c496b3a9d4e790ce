"""Small builders of stack config for the library tests (on pytest's pythonpath)."""

from __future__ import annotations

from typing import Any

import pytest

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.errors import ConfigError
from runner_k8s.kube.objects import Manifest
from runner_k8s.wiring import build_wiring


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


DIGEST = "sha256:" + "ab" * 32


def deployment(shared: SharedConfig, **runner: Any) -> Manifest:
    return runner_deployment(
        load_runner_stack(runner_values(**runner)).runner, build_wiring(shared)
    )


def pod(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def runner_error(**runner: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_runner_stack(runner_values(**runner))
    return str(caught.value)


# The dev stack's codex config: one MCP server inside the cluster.
DEV_TOML = 'model = "gpt-5-codex"\n[mcp_servers.github-mcp]\nurl = "http://mcp-github:8080/mcp/"\n'


def codex_shared(toml: str = DEV_TOML, **values: Any) -> SharedConfig:
    return load_shared({"namespace": "ns", "codexConfig": {"configToml": toml}, **values}, set())
