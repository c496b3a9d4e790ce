"""Upgrading gh-runner must not move a resource in the state.

A component's type string, its parent or a resource's name is part of every URN under it. If a
change of code alters one, Pulumi plans create-then-delete; with upsertExistingObjects the create
adopts the live object and the delete then removes it: the runners vanish. So: deploy the three
stacks with the code as it was first released to operators, then preview them with the code of
this checkout against that state. Nothing may be created, deleted or replaced.

And the objects are registered as their manifests, not through the SDK's generated classes
(``components.kubernetes.KubernetesObject``): a stack the classes deployed must plan no change at
all, not even an update, when this checkout previews it with the stack file it was deployed with.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import tomllib
from io import BytesIO
from pathlib import Path

import pulumi.automation as auto
import pytest
import yaml
from tiers import require_binaries

from gh_runner_harness.engine import WORKSPACE_PARTS, Engine, engine_session
from gh_runner_harness.paths import K8S_STACKS, REPO
from gh_runner_harness.toolchain import PULUMI_BINARIES

pytestmark = pytest.mark.engine

# The last commit before the library was restructured (issue 13): the state operators hold.
DEPLOYED_BEFORE = "6cbb06045186ee4457d77a7d943ec933214fcac5"
# The last commit that registered objects through the SDK's generated classes.
SDK_CLASSES = "3fd85747ebbdcc14828e64ac65c477647522757f"
# What a preview may plan for a stack the older code deployed.
MOVES = {"create", "delete", "replace", "create-replacement", "delete-replaced"}
ANY_CHANGE = MOVES | {"update"}


def locked_kubernetes_sdk() -> str:
    packages = tomllib.loads((REPO / "uv.lock").read_text())["package"]
    return str(next(p["version"] for p in packages if p["name"] == "pulumi-kubernetes"))


def checkout_of(commit: str, target: Path) -> Path:
    """The workspace parts of ``commit``, unpacked into ``target`` (git archive, no worktree)."""
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=REPO, capture_output=True
    )
    if found.returncode != 0:
        pytest.skip(f"commit {commit[:12]} is not in this clone's history (a shallow clone?)")
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, *WORKSPACE_PARTS],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def render_into(engine: Engine, stack_dir: str, directory: Path) -> auto.Stack:
    stack = engine.stack(stack_dir)
    stack.set_config("provider.renderYamlToDirectory", auto.ConfigValue(str(directory)), path=True)
    return stack


def encryption_salt(engine: Engine, stack_dir: str) -> str:
    """The passphrase salt `stack init` wrote into the stack file of that workspace."""
    document = yaml.safe_load(engine.stack_file(stack_dir).read_text())
    return str(document["encryptionsalt"])


@pytest.mark.parametrize(
    "deployed_with,forbidden,same_config",
    [(DEPLOYED_BEFORE, MOVES, False), (SDK_CLASSES, ANY_CHANGE, True)],
    ids=["first release: no resource moves", "SDK classes: no change at all"],
)
def test_an_upgrade_moves_no_resource(
    tmp_path: Path, deployed_with: str, forbidden: set[str], same_config: bool
) -> None:
    require_binaries(PULUMI_BINARIES, "pulumi-toolchain.sh")
    before = checkout_of(deployed_with, tmp_path / "before-source")
    # The older code with this checkout's Kubernetes SDK: the one it locked (4.34.2) asks the
    # engine for a provider the tiers do not build (they build the one production runs). What
    # is compared is the code's URNs, which no dependency version changes.
    subprocess.run(
        [
            "uv",
            "lock",
            "--quiet",
            "--upgrade-package",
            f"pulumi-kubernetes=={locked_kubernetes_sdk()}",
        ],
        cwd=before,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )
    rendered = tmp_path / "rendered"
    with engine_session(tmp_path / "engine") as current:
        released = Engine.create(current.tmp, source_root=before, name="workspace-before")
        for stack_dir in K8S_STACKS:
            result = released.up(render_into(released, stack_dir, rendered / stack_dir))
            assert result.summary.result == "succeeded", stack_dir

        for stack_dir in K8S_STACKS:
            # The same stack in the same backend, as a newer checkout of the repository sees it:
            # its stack file carries the salt `stack init` wrote in the older one. Where only the
            # code may differ, the config is the one the older checkout deployed, salt included.
            stack_file = current.stack_file(stack_dir)
            if same_config:
                deployed = released.stack_file(stack_dir)
                stack_file.write_text(deployed.read_text())
            else:
                salt = encryption_salt(released, stack_dir)
                stack_file.write_text(f"encryptionsalt: {salt}\n" + stack_file.read_text())
            preview = current.preview(render_into(current, stack_dir, rendered / stack_dir))
            planned = {op for op, count in preview.change_summary.items() if count}
            assert not planned & forbidden, (stack_dir, preview.change_summary, preview.stdout)
