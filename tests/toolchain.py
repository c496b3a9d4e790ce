"""Where the real-engine tiers find the binaries that scripts/*-toolchain.sh build.

Both scripts install into one bin directory; a tier that lacks one of its binaries skips with
a reason naming the script to run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PULUMI_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver")


def toolchain_root() -> Path:
    default = Path.home() / ".cache" / "gh-runner-toolchain"
    return Path(os.environ.get("GH_RUNNER_TOOLCHAIN", default))


def bin_dir() -> Path:
    return toolchain_root() / "bin"


def missing(binaries: tuple[str, ...], script: str) -> str | None:
    """Why a tier cannot run here, or None when every binary is installed. Where CI has just
    built the toolchain (GH_RUNNER_REQUIRE_TOOLCHAIN set), absence is a failure, not a skip."""
    absent = [b for b in binaries if not os.access(bin_dir() / b, os.X_OK)]
    if not absent:
        return None
    reason = f"{', '.join(absent)} not in {bin_dir()}: run `bash scripts/{script}` first"
    if os.environ.get("GH_RUNNER_REQUIRE_TOOLCHAIN"):
        pytest.fail(reason, pytrace=False)
    return reason
