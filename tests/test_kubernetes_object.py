"""The stacks register each Kubernetes object as its manifest (``KubernetesObject``), not through
the SDK's generated class for its kind. That must change nothing the engine sees: run every dev
stack's real program twice under mocks, once as it is and once with each object handed to the
SDK class instead, and every registration must be the same (type token, name, inputs, parent,
provider, dependencies, secret outputs). The engine tier proves the same against state the
classes deployed (tests/engine/test_upgrade.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pulumi
import pytest
from stack_fixtures import K8S_STACKS, copy_stacks, edit_stack_config

from runner_k8s.components import kubernetes as components
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.kube.objects import CONFIG_MAP, DEPLOYMENT, NETWORK_POLICY, SECRET, Kind
from runner_k8s.offline.mockrun import ProgramRun, run_stack

KINDS = (CONFIG_MAP, SECRET, DEPLOYMENT, NETWORK_POLICY)
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
        # Imported here, not at the top: what every test process would pay at collection.
        import pulumi_kubernetes as k8s

        sdk_class = {
            CONFIG_MAP: k8s.core.v1.ConfigMap,
            SECRET: k8s.core.v1.Secret,
            DEPLOYMENT: k8s.apps.v1.Deployment,
            NETWORK_POLICY: k8s.networking.v1.NetworkPolicy,
        }[kind]
        keywords = {PYTHON_NAMES.get(key, key): value for key, value in fields.items()}
        return sdk_class(name, opts=opts, **keywords)


def every_kind(config: dict[str, Any]) -> None:
    """codex-runner with every kind switched on: its egress NetworkPolicy (with an extra rule)
    and its rollout annotations."""
    config["runner"].update(
        rolloutOnConfigChange=True,
        networkPolicy={
            "enabled": True,
            "privateRanges": ["10.0.0.0/8"],
            "extraEgress": [{"ports": [{"protocol": "TCP", "port": 80}]}],
        },
    )


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


@pytest.fixture(scope="module")
def both_ways(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, ProgramRun]]:
    """The programs' runs as they are, and with the SDK classes in KubernetesObject's place."""
    repo = copy_stacks(tmp_path_factory.mktemp("stacks"))
    edit_stack_config(repo, "codex-runner", every_kind)
    as_manifests = runs(repo)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(components, "KubernetesObject", ThroughSdkClass)
        through_classes = runs(repo)
    return {"manifests": as_manifests, "classes": through_classes}


def test_every_kind_the_stacks_create_is_covered(
    both_ways: dict[str, dict[str, ProgramRun]],
) -> None:
    registered = {r.type for run in both_ways["manifests"].values() for r in run.resources}
    expected = {components.type_token(kind) for kind in KINDS}
    assert expected <= registered, expected - registered
    # Compared below with the rest: the Secret class keeps its payload secret in the outputs.
    [secret] = both_ways["manifests"]["shared"].of_type(components.type_token(SECRET))
    assert set(secret.secret_outputs) == {"data", "stringData"}


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_registrations_equal_those_of_the_sdk_classes(
    both_ways: dict[str, dict[str, ProgramRun]], stack: str
) -> None:
    as_manifests, through_classes = both_ways["manifests"][stack], both_ways["classes"][stack]
    assert as_manifests.error is None and through_classes.error is None
    assert sorted(as_manifests.resources, key=repr) == sorted(through_classes.resources, key=repr)
    assert as_manifests.outputs == through_classes.outputs
