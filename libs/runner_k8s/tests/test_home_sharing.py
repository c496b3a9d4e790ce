"""Several replicas on the home claims: the shared-home warning (config.shared_home_warnings)
and the colocating pod affinity the builder adds (runner.homeVolume)."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import deployment, pod, runner_error, runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.config.runner_checks import load_runner_stack, shared_home_warnings
from runner_k8s.config.shared import SharedConfig
from runner_k8s.wiring import build_wiring

TWO_HOMES = [
    {"name": "home", "claimName": "home-a", "mountPath": "/home/runner"},
    {"name": "cache", "claimName": "cache-b", "mountPath": "/cache"},
]


def home_warnings(**runner: Any) -> list[str]:
    return shared_home_warnings(load_runner_stack(runner_values(**runner)).runner)


def test_two_replicas_on_one_claim_warn_naming_runner_and_claim() -> None:
    [warning] = home_warnings()
    assert warning.startswith(
        "runner codex-gh-runner: its 2 replicas share PersistentVolumeClaim codex-gh-runner-home;"
    )
    assert "Multi-Attach" in warning
    assert "runner.homeVolume.colocate: true" in warning
    assert "runner.homeVolume.accessMode: ReadWriteMany" in warning


def test_one_warning_per_claim() -> None:
    warnings = home_warnings(replicas=3, pvcMounts=TWO_HOMES)
    assert [w.split(";")[0] for w in warnings] == [
        "runner codex-gh-runner: its 3 replicas share PersistentVolumeClaim home-a",
        "runner codex-gh-runner: its 3 replicas share PersistentVolumeClaim cache-b",
    ]


@pytest.mark.parametrize(
    "runner",
    [
        {"homeVolume": {"colocate": True}},
        {"homeVolume": {"accessMode": "ReadWriteMany"}},
        {"replicas": 1},
        {"replicas": 0},
        {"pvcMounts": []},
    ],
)
def test_no_warning_once_safe_or_chosen(runner: dict[str, Any]) -> None:
    assert home_warnings(**runner) == []


def test_an_explicit_read_write_once_still_warns() -> None:
    assert len(home_warnings(homeVolume={"accessMode": "ReadWriteOnce", "colocate": False})) == 1


def test_bad_access_mode_names_its_key() -> None:
    assert runner_error(homeVolume={"accessMode": "ReadOnlyMany"}).startswith(
        "runner.homeVolume.accessMode: must be one of"
    )


OWN_PODS_ON_ONE_NODE = {
    "labelSelector": {"matchLabels": {"app": "codex-gh-runner"}},
    "topologyKey": "kubernetes.io/hostname",
}


def test_colocate_requires_the_fleets_own_pods_on_one_node(shared: SharedConfig) -> None:
    spec = pod(deployment(shared, homeVolume={"colocate": True}))
    assert spec["affinity"] == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [OWN_PODS_ON_ONE_NODE]}
    }
    assert "affinity" not in pod(deployment(shared))


def test_colocate_keeps_the_operators_affinity(shared: SharedConfig) -> None:
    mine = {"labelSelector": {"matchLabels": {"app": "mcp-github"}}, "topologyKey": "zone"}
    preferred = [{"weight": 1, "podAffinityTerm": mine}]
    node = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    runner = load_runner_stack(
        runner_values(
            homeVolume={"colocate": True},
            affinity={
                "nodeAffinity": node,
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [mine],
                    "preferredDuringSchedulingIgnoredDuringExecution": preferred,
                },
            },
        )
    ).runner
    first = pod(runner_deployment(runner, build_wiring(shared)))["affinity"]
    assert first == {
        "nodeAffinity": node,
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [mine, OWN_PODS_ON_ONE_NODE],
            "preferredDuringSchedulingIgnoredDuringExecution": preferred,
        },
    }
    # The config is not changed by building from it: a second build adds the term once.
    assert pod(runner_deployment(runner, build_wiring(shared)))["affinity"] == first
