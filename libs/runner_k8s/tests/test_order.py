"""runner.volumeOrder and runner.mountOrder: the order of the pod's volumes and of the
container's mounts, each its own, because the pod template's hash includes both."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig
from runner_k8s.errors import ConfigError
from runner_k8s.wiring import build_wiring

# Four volumes, one of each source, so every position in the default order is exercised.
VOLUMES: dict[str, Any] = {
    "pvcMounts": [{"name": "home", "claimName": "c", "mountPath": "/home/runner"}],
    "codexConfigMount": {},
    "secretMounts": [{"name": "ssh", "secretName": "s", "mountPath": "/ssh"}],
}


def names(shared: SharedConfig, **runner: Any) -> tuple[list[str], list[str]]:
    """(volume names, mount names) of the rendered pod."""
    config = load_runner_stack(runner_values(**VOLUMES, **runner)).runner
    spec = runner_deployment(config, build_wiring(shared))["spec"]["template"]["spec"]
    mounts = spec["containers"][0]["volumeMounts"]
    return [v["name"] for v in spec["volumes"]], [m["name"] for m in mounts]


def order_error(**runner: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_runner_stack(runner_values(**VOLUMES, **runner))
    return str(caught.value)


DEFAULT = ["home", "work", "codex-config-volume", "ssh"]


def test_unset_keeps_the_default_order_in_both_lists(shared: SharedConfig) -> None:
    assert names(shared) == (DEFAULT, DEFAULT)


def test_each_list_takes_its_own_order(shared: SharedConfig) -> None:
    volumes = ["ssh", "work", "home", "codex-config-volume"]
    mounts = ["codex-config-volume", "home", "ssh", "work"]
    assert names(shared, volumeOrder=volumes) == (volumes, DEFAULT)
    assert names(shared, mountOrder=mounts) == (DEFAULT, mounts)
    assert names(shared, volumeOrder=volumes, mountOrder=mounts) == (volumes, mounts)


def test_reordering_moves_whole_entries(shared: SharedConfig) -> None:
    config = load_runner_stack(runner_values(**VOLUMES)).runner
    plain = runner_deployment(config, build_wiring(shared))["spec"]["template"]["spec"]
    config = load_runner_stack(runner_values(**VOLUMES, volumeOrder=DEFAULT[::-1])).runner
    spec = runner_deployment(config, build_wiring(shared))["spec"]["template"]["spec"]
    assert spec["volumes"] == plain["volumes"][::-1]


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (["home", "work", "ssh"], "missing codex-config-volume"),
        ([*DEFAULT, "cache"], "unknown cache"),
        ([*DEFAULT, "work"], "repeated work"),
        (["home", "work", "ssh", "scratch"], "missing codex-config-volume; unknown scratch"),
        ([], "missing home, work, codex-config-volume, ssh"),
    ],
)
@pytest.mark.parametrize("key", ["volumeOrder", "mountOrder"])
def test_an_order_must_be_a_permutation_of_the_volumes(
    key: str, order: list[str], problem: str
) -> None:
    message = order_error(**{key: order})
    assert message == (
        f"runner.{key}: must list each of the fleet's volumes "
        f"(home, work, codex-config-volume, ssh) exactly once; {problem}"
    )


def test_an_order_names_volumes_not_paths() -> None:
    assert "runner.volumeOrder[0]" in order_error(volumeOrder=["/home/runner"])
