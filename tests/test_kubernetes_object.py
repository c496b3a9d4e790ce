"""The stacks register each Kubernetes object as its manifest (``KubernetesObject``), not through
the SDK's generated class for its kind. That must change nothing the engine sees: run every dev
stack's real program twice under mocks, once as it is and once with each object handed to the
SDK class instead, and every registration must be the same (type token, name, inputs, parent,
provider, dependencies). The engine tier proves the same against state the classes deployed
(tests/engine/test_upgrade.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from stack_fixtures import K8S_STACKS, EditConfig

from runner_k8s.components import kubernetes as components
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.kube.objects import CONFIG_MAP, DEPLOYMENT, NETWORK_POLICY, SECRET, Kind
from runner_k8s.offline.mockrun import ProgramRun, run_stack

SDK_CLASSES = {
    CONFIG_MAP: k8s.core.v1.ConfigMap,
    SECRET: k8s.core.v1.Secret,
    DEPLOYMENT: k8s.apps.v1.Deployment,
    NETWORK_POLICY: k8s.networking.v1.NetworkPolicy,
}
# The SDK classes' keyword for each manifest field whose Python name differs.
PYTHON_NAMES = {"stringData": "string_data"}


class ThroughSdkClass:
    """What the components did before: the kind's generated class, the fields as its keywords.
    A class, not a function: the SDK evaluates the components' annotations that name it."""

    def __new__(
        cls,
        name: str,
        kind: Kind,
        fields: Mapping[str, Any],
        opts: pulumi.ResourceOptions,
        secret_fields: Sequence[str] = (),
    ) -> Any:
        keywords = {PYTHON_NAMES.get(key, key): value for key, value in fields.items()}
        return SDK_CLASSES[kind](name, opts=opts, **keywords)


@pytest.fixture
def repo(repo_copy: Path, edit_config: EditConfig) -> Path:
    """The dev stacks with every kind switched on: codex-runner's egress NetworkPolicy (with
    extra rules) and its rollout annotations."""

    def every_kind(config: dict[str, Any]) -> None:
        config["runner"].update(
            rolloutOnConfigChange=True,
            networkPolicy={
                "enabled": True,
                "privateRanges": ["10.0.0.0/8"],
                "extraEgress": [{"ports": [{"protocol": "TCP", "port": 80}]}],
            },
        )

    edit_config(repo_copy, "codex-runner", every_kind)
    return repo_copy


def runs(repo: Path) -> dict[str, ProgramRun]:
    """Every dev stack, the shared one with a githubToken so that its Secret is registered."""
    stacks = repo / "stacks"
    shared = load_stack_config(stacks / "shared", "dev")
    shared = replace(
        shared, values={**shared.values, "githubToken": "t0ken"}, secret_keys={"githubToken"}
    )
    done: dict[tuple[Path, str], ProgramRun] = {}
    found = {"shared": run_stack(stacks / "shared", "dev", config=shared, runs=done)}
    for stack in K8S_STACKS:
        if stack != "shared":
            found[stack] = run_stack(stacks / stack, "dev", runs=done)
    return found


def test_every_kind_the_stacks_create_is_covered(repo: Path) -> None:
    registered = {
        r.type for run in runs(repo).values() for r in run.resources if r.type.startswith("kub")
    }
    expected = {components.type_token(kind) for kind in SDK_CLASSES}
    assert expected <= registered, expected - registered


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_registrations_equal_those_of_the_sdk_classes(
    repo: Path, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    as_manifests = runs(repo)[stack]
    monkeypatch.setattr(components, "KubernetesObject", ThroughSdkClass)
    through_classes = runs(repo)[stack]
    assert as_manifests.error is None and through_classes.error is None
    assert sorted(as_manifests.resources, key=repr) == sorted(through_classes.resources, key=repr)
    assert as_manifests.outputs == through_classes.outputs
