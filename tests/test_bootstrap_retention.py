"""The state bucket's retention keeps what docs/state-backend.md promises: the state from before
each of the last UPDATES_KEPT updates survives the lifecycle count rule (no binaries: the
writes per update are the figure the state tier measured, tests/retention.py)."""

from __future__ import annotations

import re

from retention import STACK_FILE_WRITES_PER_UPDATE, UPDATES_KEPT
from stack_fixtures import REPO

from runner_k8s.config.bootstrap import NoncurrentVersions
from runner_k8s.config.stackfile import load_stack_config

DOC = REPO / "docs" / "state-backend.md"


def survives(newer_versions: int) -> bool:
    """Whether the version from before the UPDATES_KEPT-th last update survives a
    `numNewerVersions: newer_versions` rule: the updates since wrote at most
    UPDATES_KEPT * STACK_FILE_WRITES_PER_UPDATE newer versions, and Cloud Storage deletes a
    noncurrent version once at least `newer_versions` are newer."""
    return newer_versions > UPDATES_KEPT * STACK_FILE_WRITES_PER_UPDATE


def test_the_measured_figure_is_a_figure() -> None:
    # Each update writes its stack file at least twice (the update's start and end).
    assert STACK_FILE_WRITES_PER_UPDATE >= 2


def test_default_count_rule_keeps_the_last_updates() -> None:
    default = NoncurrentVersions().newer_versions
    assert survives(default), (
        f"bucket.noncurrentVersions.newerVersions defaults to {default}: the state from before "
        f"the {UPDATES_KEPT}th last update (at up to {STACK_FILE_WRITES_PER_UPDATE} stack file "
        f"writes each) is past it; raise it above {UPDATES_KEPT * STACK_FILE_WRITES_PER_UPDATE}"
    )


def test_dev_stack_file_keeps_as_many() -> None:
    """stacks/bootstrap/Pulumi.dev.yaml spells the value out: a copy of it keeps as much."""
    config = load_stack_config(REPO / "stacks" / "bootstrap", "dev")
    spelt = config.values["bucket"]["noncurrentVersions"]["newerVersions"]
    assert spelt == NoncurrentVersions().newer_versions


def test_docs_give_the_figures() -> None:
    text = " ".join(DOC.read_text().split())
    default = NoncurrentVersions().newer_versions
    assert re.search(rf"\bup to {STACK_FILE_WRITES_PER_UPDATE} generations\b", text), DOC
    assert f"`newerVersions` defaults to {default}" in text, DOC
