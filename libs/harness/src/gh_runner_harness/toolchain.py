"""Where the real-engine tiers find the binaries that scripts/*-toolchain.sh build.

Both scripts install into one bin directory; a tier that lacks one of its binaries skips with
a reason naming the script to run.
"""

from __future__ import annotations

import os
from pathlib import Path

PULUMI_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver")


def toolchain_root() -> Path:
    default = Path.home() / ".cache" / "gh-runner-toolchain"
    return Path(os.environ.get("GH_RUNNER_TOOLCHAIN", default))


def bin_dir() -> Path:
    return toolchain_root() / "bin"


def missing(binaries: tuple[str, ...], script: str) -> str | None:
    """Why a tier cannot run here, or None when every binary is installed."""
    absent = [b for b in binaries if not os.access(bin_dir() / b, os.X_OK)]
    if not absent:
        return None
    return f"{', '.join(absent)} not in {bin_dir()}: run `bash scripts/{script}` first"


def required() -> bool:
    """Where CI has just built the toolchain (GH_RUNNER_REQUIRE_TOOLCHAIN set), an absent
    binary is a failure, not a reason to skip."""
    return bool(os.environ.get("GH_RUNNER_REQUIRE_TOOLCHAIN"))
