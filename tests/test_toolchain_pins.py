"""The toolchain scripts' pins agree with uv.lock and with the schema tests (offline, no binaries).

Each version is written once; where two files must still agree (a shell script cannot read
uv.lock, a lock file cannot read a script), this module is the link, and its messages name
both places.
"""

from __future__ import annotations

import json
import re
import tarfile
import tomllib
from importlib import resources
from pathlib import Path

import kubernetes_validate.utils
import pytest

from gh_runner_harness.paths import REPO
from gh_runner_harness.toolchain import (
    CONTROL_PLANE_SCRIPT,
    PULUMI_SCRIPT,
    kubernetes_schema_version,
    script_pins,
)
from runner_k8s.kube.schema import KUBERNETES_VERSION

LOCK = REPO / "uv.lock"
SHARED_TOOLCHAIN = REPO.parent / "shared" / "toolchain"
# The Pulumi CLI may run ahead of the Python SDK by at most this many minor releases: the Go
# module proxy does not serve every pkg/v3 release (not v3.272.0 or v3.273.0), so the script pins
# the nearest one it serves at or above uv.lock's SDK, in the same major. An SDK newer than the
# CLI could ask the engine for features it lacks; a CLI far ahead means one of them was bumped
# alone.
MAX_CLI_MINORS_AHEAD = 2
TEST_DIRS = ("tests", "libs/runner_k8s/tests", "policies/tests")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def locked(package: str) -> str:
    packages = tomllib.loads(LOCK.read_text())["package"]
    versions = [p["version"] for p in packages if p["name"] == package]
    assert len(versions) == 1, f"uv.lock locks {package} {len(versions)} times"
    return str(versions[0])


def release(version: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", version)
    assert match, f"not a release version: {version}"
    major, minor_, patch = match.groups()
    return int(major), int(minor_), int(patch)


def minor(version: str) -> tuple[int, int]:
    major, minor_, _patch = release(version if version.count(".") == 2 else f"{version}.0")
    return major, minor_


def test_kubernetes_plugin_version_is_the_locked_sdk() -> None:
    pinned = script_pins(PULUMI_SCRIPT)["KUBERNETES_PLUGIN_VERSION"]
    sdk = locked("pulumi-kubernetes")
    assert pinned == sdk, (
        f"{rel(PULUMI_SCRIPT)} pins KUBERNETES_PLUGIN_VERSION={pinned}, but {rel(LOCK)} locks "
        f"pulumi-kubernetes {sdk}: the engine tiers would run a provider reporting another "
        "version than the one the SDK asks for. Change both together (and check that "
        "../shared/toolchain holds that version's source archive)."
    )


def test_provider_is_built_from_the_source_of_the_pinned_version() -> None:
    """Lock, script and archive name one release: the provider production runs is the one the
    tiers build, and nothing is stamped with a version it is not."""
    pins = script_pins(PULUMI_SCRIPT)
    script = PULUMI_SCRIPT.read_text()
    version = pins["KUBERNETES_PLUGIN_VERSION"]
    assert "PROVIDER_ARCHIVE_NAME=pulumi-kubernetes-v$KUBERNETES_PLUGIN_VERSION-src.tar.gz" in (
        script
    ), f"{rel(PULUMI_SCRIPT)} must name the archive by KUBERNETES_PLUGIN_VERSION"
    assert "Version=$KUBERNETES_PLUGIN_VERSION" in script, (
        f"{rel(PULUMI_SCRIPT)} must stamp the provider with KUBERNETES_PLUGIN_VERSION alone"
    )
    archive = SHARED_TOOLCHAIN / f"pulumi-kubernetes-v{version}-src.tar.gz"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent: the archive's own tag is not checked here")
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/SOURCE.txt"))
        handle = tar.extractfile(member)
        assert handle is not None
        source = handle.read().decode()
    assert f"tag v{version} " in source, (
        f"{archive} is not the source of tag v{version} (its SOURCE.txt: {source[:80]!r})"
    )
    sums = (SHARED_TOOLCHAIN / "SHA256SUMS").read_text()
    assert archive.name in sums, f"{SHARED_TOOLCHAIN / 'SHA256SUMS'} does not pin {archive.name}"


def test_the_installed_sdk_asks_for_the_pinned_plugin() -> None:
    # What the engine resolves the provider by: the SDK's pulumi-plugin.json, not its wheel name.
    manifest = resources.files("pulumi_kubernetes").joinpath("pulumi-plugin.json")
    requested = json.loads(manifest.read_text())["version"]
    pinned = script_pins(PULUMI_SCRIPT)["KUBERNETES_PLUGIN_VERSION"]
    assert requested == pinned, (
        f"the installed pulumi-kubernetes asks for plugin {requested} (pulumi-plugin.json), "
        f"{rel(PULUMI_SCRIPT)} builds KUBERNETES_PLUGIN_VERSION={pinned}; `uv sync "
        "--all-packages` if the environment is stale, else change the pin"
    )


def test_pulumi_cli_is_the_nearest_served_release_at_or_above_the_sdk() -> None:
    cli = script_pins(PULUMI_SCRIPT)["PULUMI_VERSION"]
    sdk = locked("pulumi")
    cli_release, sdk_release = release(cli), release(sdk)
    where = f"{rel(PULUMI_SCRIPT)} pins PULUMI_VERSION={cli}, {rel(LOCK)} locks pulumi {sdk}"
    assert cli_release[0] == sdk_release[0], f"{where}: not the same major version"
    assert cli_release >= sdk_release, (
        f"{where}: the CLI is older than the SDK; pin the CLI at the nearest release the module "
        "proxy serves at or above the SDK"
    )
    assert cli_release[1] - sdk_release[1] <= MAX_CLI_MINORS_AHEAD, (
        f"{where}: the CLI runs more than {MAX_CLI_MINORS_AHEAD} minor releases ahead of the "
        "SDK; one of them was bumped alone"
    )


def test_schema_tests_validate_against_the_control_plane_minor() -> None:
    pinned = script_pins(CONTROL_PLANE_SCRIPT)["KUBERNETES_VERSION"]
    schema = kubernetes_schema_version()
    assert minor(schema) == minor(pinned)
    # The config loader checks pass-through blocks against the library's own pin: one release.
    assert schema == KUBERNETES_VERSION, (
        f"runner_k8s/kube_schema.py validates config against Kubernetes {KUBERNETES_VERSION}, "
        f"{rel(CONTROL_PLANE_SCRIPT)} pins KUBERNETES_VERSION={pinned}: bump them together"
    )
    supported = kubernetes_validate.utils.all_versions()
    assert schema in supported, (
        f"{rel(CONTROL_PLANE_SCRIPT)} pins KUBERNETES_VERSION={pinned}, but the "
        f"kubernetes-validate {locked('kubernetes-validate')} in {rel(LOCK)} has no {schema} "
        f"schemas (newest: {max(supported, key=release)}): upgrade it "
        "(`uv lock --upgrade-package kubernetes-validate`)"
    )


def schema_test_files() -> list[Path]:
    return sorted(
        path
        for directory in TEST_DIRS
        for path in (REPO / directory).rglob("*.py")
        if "kubernetes_validate" in path.read_text() and path != Path(__file__)
    )


@pytest.mark.parametrize("path", schema_test_files(), ids=rel)
def test_schema_tests_name_no_other_kubernetes_minor(path: Path) -> None:
    """A version literal in a schema test would be a second pin, free to drift."""
    pinned = script_pins(CONTROL_PLANE_SCRIPT)["KUBERNETES_VERSION"]
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        for literal in re.findall(r"[\"'](1\.\d+(?:\.\d+)?)[\"']", line):
            assert minor(literal) == minor(pinned), (
                f"{rel(path)}:{number} validates against Kubernetes {literal}, "
                f"{rel(CONTROL_PLANE_SCRIPT)} pins KUBERNETES_VERSION={pinned}: take the version "
                "from runner_k8s.kube_schema.KUBERNETES_VERSION"
            )
