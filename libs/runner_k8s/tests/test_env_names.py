"""env_names: the one list of variables gh-runner sets itself, checked against the builders."""

from __future__ import annotations

from runner_fixtures import runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.errors import ConfigError
from runner_k8s.kube.env_names import RESERVED_ENV
from runner_k8s.wiring import build_wiring


def test_the_reserved_list_is_exactly_what_the_builders_set() -> None:
    # Every switch on, so every variable a builder can set is set.
    runner = load_runner_stack(
        runner_values(ephemeral=True, replaceExisting=True, disableUpdates=True, labels=["gpu"])
    ).runner
    deployment = runner_deployment(runner, build_wiring(load_shared({}, set())))
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in container["env"]} == RESERVED_ENV


def test_every_reserved_name_is_refused_in_runner_env() -> None:
    env = {name: "x" for name in sorted(RESERVED_ENV)}
    try:
        load_runner_stack(runner_values(env=env))
    except ConfigError as exc:
        refused = {p.split(":")[0] for p in exc.problems}
    else:
        raise AssertionError("reserved names were accepted in runner.env")
    assert refused == {f"runner.env.{name}" for name in RESERVED_ENV}
