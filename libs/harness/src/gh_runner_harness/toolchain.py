"""Where the real-engine tiers find the binaries that scripts/*-toolchain.sh build, and the
versions those scripts pin.

The scripts install into one bin directory; a tier that lacks one of its binaries skips with
a reason naming the script to run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .paths import REPO

PULUMI_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")
CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kubectl")
GCS_EMULATOR_BINARIES = ("fake-gcs-server",)
PULUMI_SCRIPT = REPO / "scripts" / "pulumi-toolchain.sh"
CONTROL_PLANE_SCRIPT = REPO / "scripts" / "control-plane-toolchain.sh"
GCS_EMULATOR_SCRIPT = REPO / "scripts" / "gcs-emulator-toolchain.sh"


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


def script_pins(script: Path) -> dict[str, str]:
    """A toolchain script's pins, its `NAME_VERSION=value` lines, e.g.
    {"KUBERNETES_VERSION": "v1.34.4", ...}."""
    return dict(re.findall(r"^(\w+_VERSION)=(\S+)$", script.read_text(), flags=re.MULTILINE))


def kubernetes_schema_version() -> str:
    """The Kubernetes version the schema tests validate against (kubernetes-validate's
    "1.34.0"): the minor of the control plane the cluster tier runs, so one pin says both."""
    pinned = script_pins(CONTROL_PLANE_SCRIPT)["KUBERNETES_VERSION"]
    major, minor, _patch = pinned.removeprefix("v").split(".")
    return f"{major}.{minor}.0"
