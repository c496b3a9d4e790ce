"""Faults survived, nothing lost (issue 14): the real engine and a real API server, made to fail.

Each case puts the stacks through one fault an operator meets, then recovers with the commands
docs/when-things-go-wrong.md gives, and ends with the live objects equal to the render and a
clean state (no pending operation, no lock). Where a write must be in flight when the fault
strikes, an admission webhook holds it (gh_runner_harness.admission_gate), so the fault lands
at the same point on every run instead of racing a few milliseconds of apply.

The module starts by converging whatever the earlier cluster tests left (test_adoption ends
with a destroy), and its tests run in file order on that one cluster. The figures it measures
are printed (`pytest -rP` shows them) and are the ones in the docs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pytest
import yaml

from gh_runner_harness import processes
from gh_runner_harness.admission_gate import NAME as GATE_NAME
from gh_runner_harness.admission_gate import AdmissionGate
from gh_runner_harness.cluster import STACK_KINDS, Cluster, production_surroundings
from gh_runner_harness.control_plane import ApiServer
from gh_runner_harness.engine import Engine
from gh_runner_harness.paths import K8S_STACKS
from gh_runner_harness.processes import Running, ending
from runner_k8s.offline.drift import compare
from runner_k8s.offline.manifest_files import load_manifests
from runner_k8s.offline.render import render_stacks

pytestmark = pytest.mark.cluster

CODEX, GEMINI, SHARED = "codex-runner", "gemini-runner", "shared"
RUNNERS = (CODEX, GEMINI)
# A pod annotation whose value each case changes, so `up` has a Deployment write to make.
PROBE = "test.gh-runner/fault"

# Bounds: a command past them has hung, and the test fails instead of blocking CI.
# From `up` started to its first held write: CLI, uv, language host and program on 2 cores.
HELD_TIMEOUT = 120.0
# From the API server gone to `up` exited: the figure under test, with room to spare.
FAIL_BOUND = 240.0
# What the docs promise, with room for a slow machine: `up` fails within this long once its
# API server is gone or refuses connections (measured: 0.1 s and 3-4 s) ...
REFUSED_FAIL_LIMIT = 30.0
# ... or stops answering (measured: 55 s, the client's HTTP/2 health check and TLS timeout).
FROZEN_FAIL_LIMIT = 120.0
# A refused or cancelled `up`, or one let go after a hold.
EXIT_BOUND = 180.0
# A live object reaching the state a test waits for.
LIVE_TIMEOUT = 30.0

NETWORK_POLICY_CREATE = {
    "apiGroups": ["networking.k8s.io"],
    "apiVersions": ["v1"],
    "operations": ["CREATE"],
    "resources": ["networkpolicies"],
    "scope": "Namespaced",
}
DEPLOYMENT_UPDATE = {
    "apiGroups": ["apps"],
    "apiVersions": ["v1"],
    "operations": ["UPDATE"],
    "resources": ["deployments"],
    "scope": "Namespaced",
}


def figure(name: str, seconds: float) -> None:
    print(f"FIGURE {name}: {seconds:.1f} s")


def set_config(stack: auto.Stack, key: str, value: str) -> None:
    stack.set_config(key, auto.ConfigValue(value), path=True)


# --- what converged means ----------------------------------------------------------------------


def rendered(engine: Engine) -> list[dict[str, Any]]:
    """What the stacks' current config renders to (the workspace copy's Pulumi.dev.yaml files,
    which every set_config of the session has edited)."""
    return render_stacks([engine.stack_dir(s) for s in K8S_STACKS], "dev")


def namespace_objects(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every object of the kinds the stacks register, in the fleets' namespace, by kind/name."""
    listed = cluster.kubectl("get", STACK_KINDS, "-n", cluster.namespace, "-o", "json")
    return {cluster.key(o): o for o in json.loads(listed.stdout)["items"]}


def cluster_secrets(cluster: Cluster) -> set[str]:
    """The Secrets kubectl users created (production's surroundings): never the stacks'."""
    surroundings = production_surroundings(load_manifests(cluster.baseline))
    return {cluster.key(m) for m in surroundings if m["kind"] == "Secret"}


def pending_operations(engine: Engine, stack_dir: str) -> list[dict[str, Any]]:
    deployment = engine.export(stack_dir)["deployment"]
    return list(deployment.get("pending_operations") or [])


def describe(operations: list[dict[str, Any]]) -> list[str]:
    return [f"{op['type']} {op['resource']['urn'].rsplit('::', 1)[-1]}" for op in operations]


def lock_files(engine: Engine) -> list[Path]:
    return sorted((engine.state_dir / ".pulumi" / "locks").rglob("*.json"))


def resource_versions(cluster: Cluster) -> dict[str, str]:
    return {k: o["metadata"]["resourceVersion"] for k, o in namespace_objects(cluster).items()}


def assert_converged(engine: Engine, cluster: Cluster) -> None:
    """Live objects equal the render, nothing more in the namespace than the render and the
    cluster's own Secrets (no duplicate, no orphan), and every state clean."""
    want = rendered(engine)
    live = namespace_objects(cluster)
    assert set(live) == {cluster.key(m) for m in want} | cluster_secrets(cluster)
    drift = compare(want, [live[cluster.key(m)] for m in want], live=True)
    assert drift.clean, drift.report()
    for stack_dir in K8S_STACKS:
        assert pending_operations(engine, stack_dir) == [], stack_dir
    assert lock_files(engine) == []


def expect_no_changes(engine: Engine, stack_dir: str) -> None:
    done = engine.cli(stack_dir, "preview", "--expect-no-changes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr


# --- commands left running ---------------------------------------------------------------------


def spawn(engine: Engine, stack_dir: str, log: Path, *args: str) -> Running:
    return Running(engine.spawn(stack_dir, *args, "--stack", "dev", output=log), log)


def spawn_up(engine: Engine, stack_dir: str, log: Path) -> Running:
    # --skip-preview, as the Automation API's `up` runs it: the update's own steps only.
    return spawn(engine, stack_dir, log, "up", "--yes", "--skip-preview")


# --- the admission gate ------------------------------------------------------------------------


def _arm(cluster: Cluster, gate: AdmissionGate) -> None:
    """Wait until the API server calls the gate: it loads webhook configurations
    asynchronously. A server-side dry run of each kind the rules name is the probe."""
    probe_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "fault-gate-probe", "namespace": cluster.namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    deadline = time.monotonic() + LIVE_TIMEOUT
    while time.monotonic() < deadline:
        cluster.kubectl(
            "create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(probe_policy), check=False
        )
        cluster.kubectl(
            "annotate",
            "deployment",
            "--all",
            "-n",
            cluster.namespace,
            f"{PROBE}-gate=probe",
            "--overwrite",
            "--dry-run=server",
            check=False,
        )
        if any(r.dry_run for r in gate.reviews()):
            return
        time.sleep(0.2)
    raise AssertionError("the API server never called the admission gate")


@contextmanager
def gated(cluster: Cluster, workdir: Path, *rules: dict[str, Any]) -> Iterator[AdmissionGate]:
    gate = AdmissionGate.start(workdir)
    configuration = gate.configuration(cluster.namespace, list(rules))
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(configuration))
    try:
        _arm(cluster, gate)
        yield gate
    finally:
        gate.close()
        cluster.kubectl(
            "delete", "validatingwebhookconfiguration", GATE_NAME, "--ignore-not-found", check=False
        )


def real(kind: str, operation: str) -> Callable[[list[Any]], bool]:
    return lambda reviews: any(
        r.kind == kind and r.operation == operation and not r.dry_run for r in reviews
    )


def wait_live(what: str, check: Callable[[], bool], timeout: float = LIVE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def probe_of(cluster: Cluster, deployment: str) -> str | None:
    live = cluster.get_named("Deployment", deployment)
    annotations = live["spec"]["template"]["metadata"].get("annotations") or {}
    value = annotations.get(PROBE)
    return None if value is None else str(value)


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    """The runner container (the fleets' pods have one)."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def api_server(cluster: Cluster) -> ApiServer:
    apiserver = cluster.control_plane.apiserver
    assert apiserver is not None, "the control plane was not started by running_control_plane"
    return apiserver


# --- the cases ---------------------------------------------------------------------------------


def recover(engine: Engine, cluster: Cluster) -> None:
    """The documented recoveries at once, whatever state a fault left: release a stale lock,
    drop pending creates, take back fields kubectl changed (forced `up --refresh`), then one
    plain `up` to drop the force from the provider's state (foreground deletes need the
    stand-in garbage collector)."""
    force = {"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}
    with cluster.garbage_collector():
        for stack_dir in K8S_STACKS:
            for command in (("cancel", "--yes"), ("refresh", "--clear-pending-creates", "--yes")):
                engine.cli(stack_dir, *command, "--stack", "dev")
            engine.cli(stack_dir, "up", "--refresh", "--yes", "--stack", "dev", extra_env=force)
            done = engine.cli(stack_dir, "up", "--yes", "--stack", "dev")
            assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def baseline_converged(engine: Engine, cluster: Cluster) -> None:
    """The module's starting point: the baseline applied again (test_adoption destroyed it),
    no NetworkPolicy on either fleet, the three stacks up."""
    cluster.kubectl("apply", "-f", str(cluster.baseline))
    for runner in RUNNERS:
        stack = engine.stack(runner)
        set_config(stack, "runner.networkPolicy.enabled", "false")
        set_config(stack, f'runner.podAnnotations["{PROBE}"]', "converged")
    # After test_adoption's destroy the states are empty and the baseline kubectl applied may
    # differ from the config (test_adoption edited the TOML): adopting a field kubectl set to
    # another value is a Server-Side Apply conflict, so this takes the forced way in
    # (test_adopting_what_kubectl_changed_needs_force shows it).
    recover(engine, cluster)
    assert_converged(engine, cluster)


@pytest.fixture
def converged(baseline_converged: None, engine: Engine, cluster: Cluster) -> None:
    """Each case starts converged: after a case that failed half-way, the next one recovers
    first (and says so) instead of failing on what the last one left."""
    try:
        assert_converged(engine, cluster)
    except AssertionError as left:
        print(f"the previous case left the cluster or a state unconverged, recovering:\n{left}")
        recover(engine, cluster)
        assert_converged(engine, cluster)


def test_api_server_gone_mid_up(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """The API server dies while `up` has updated the Deployment and is creating the
    NetworkPolicy: `up` fails, naming the server, in bounded time; after a restart one `up`
    converges."""
    apiserver = api_server(cluster)
    codex = engine.stack(CODEX)
    set_config(codex, "runner.networkPolicy.enabled", "true")
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "api-server-gone")
    deployment = "codex-gh-runner"

    with gated(cluster, tmp_path / "gate", NETWORK_POLICY_CREATE) as gate:
        up = spawn_up(engine, CODEX, tmp_path / "up.log")
        with ending(up):
            assert gate.wait_held(HELD_TIMEOUT), up.output()
            wait_live(
                "the Deployment update landed",
                lambda: probe_of(cluster, deployment) == "api-server-gone",
            )
            stopped = time.monotonic()
            apiserver.stop()
            code = up.wait(FAIL_BOUND)
            time_to_fail = time.monotonic() - stopped
        output = up.output()
        print(output[-4000:])
        figure("api-server gone -> up exited", time_to_fail)
        assert code != 0
        assert time_to_fail < REFUSED_FAIL_LIMIT
        # The error names the server it could not reach (host:port from the kubeconfig).
        assert cluster.control_plane.server.removeprefix("https://") in output, output[-3000:]

        pending = pending_operations(engine, CODEX)
        print("pending operations after the failed up:", describe(pending))
        assert lock_files(engine) == [], "a failed up left its lock"

        gate.release()
        restarting = time.monotonic()
        apiserver.restart()
        figure("api-server restart -> ready", time.monotonic() - restarting)

    recovering = time.monotonic()
    if pending:
        done = engine.cli(CODEX, "refresh", "--clear-pending-creates", "--yes", "--stack", "dev")
        assert done.returncode == 0, done.stdout + done.stderr
    done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    figure("recovery up after restart", time.monotonic() - recovering)
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def test_api_server_frozen_mid_up(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """The API server stops answering (SIGSTOP: port open, connections up, no reply) while
    `up` updates the Deployment: how long `up` waits before it fails, and the recovery."""
    apiserver = api_server(cluster)
    codex = engine.stack(CODEX)
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "api-server-frozen")

    with gated(cluster, tmp_path / "gate", DEPLOYMENT_UPDATE) as gate:
        up = spawn_up(engine, CODEX, tmp_path / "up.log")
        with ending(up):
            assert gate.wait_for(real("Deployment", "UPDATE"), HELD_TIMEOUT), up.output()
            frozen = time.monotonic()
            apiserver.freeze()
            try:
                code = up.wait(FAIL_BOUND)
                time_to_fail = time.monotonic() - frozen
            finally:
                gate.release()
                restarting = time.monotonic()
                apiserver.restart()
        output = up.output()
        print(output[-4000:])
        figure("api-server frozen -> up exited", time_to_fail)
        figure("api-server restart -> ready", time.monotonic() - restarting)
        assert code != 0
        assert time_to_fail < FROZEN_FAIL_LIMIT
        assert cluster.control_plane.server.removeprefix("https://") in output, output[-3000:]
        pending = pending_operations(engine, CODEX)
        print("pending operations after the failed up:", describe(pending))
        assert lock_files(engine) == [], "a failed up left its lock"

    if pending:
        done = engine.cli(CODEX, "refresh", "--clear-pending-creates", "--yes", "--stack", "dev")
        assert done.returncode == 0, done.stdout + done.stderr
    done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    assert probe_of(cluster, "codex-gh-runner") == "api-server-frozen"
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def stack_outputs(engine: Engine, stack_dir: str) -> dict[str, Any]:
    done = engine.cli(stack_dir, "stack", "output", "--json", "--stack", "dev")
    assert done.returncode == 0, done.stderr
    outputs: dict[str, Any] = json.loads(done.stdout)
    return outputs


def test_api_server_down_before_up(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """`preview` and `up` started while the API server is down (connection refused): what each
    says and how long it takes; the state keeps every resource and gets no pending operation."""
    apiserver = api_server(cluster)
    codex = engine.stack(CODEX)
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "api-server-down")
    urns_before = sorted(r["urn"] for r in engine.export(CODEX)["deployment"]["resources"])
    server = cluster.control_plane.server.removeprefix("https://")

    apiserver.stop()
    try:
        started = time.monotonic()
        preview = engine.cli(CODEX, "preview", "--stack", "dev", timeout=FAIL_BOUND)
        figure("api-server down -> preview exited", time.monotonic() - started)
        print(f"--- preview: exit {preview.returncode}\n{preview.stdout[-1500:]}")
        # The provider previews offline when the cluster is unreachable: the change is shown
        # and the preview succeeds, so a green preview says nothing about the cluster.
        assert preview.returncode == 0, preview.stdout + preview.stderr
        assert "1 to update" in preview.stdout
        started = time.monotonic()
        done = engine.cli(CODEX, "up", "--yes", "--stack", "dev", timeout=FAIL_BOUND)
        time_to_fail = time.monotonic() - started
        figure("api-server down -> up exited", time_to_fail)
        assert time_to_fail < REFUSED_FAIL_LIMIT
        output = done.stdout + done.stderr
        print(f"--- up: exit {done.returncode}\n{output[-2500:]}")
        assert done.returncode != 0
        assert "configured Kubernetes cluster is unreachable" in output
        assert f"dial tcp {server}: connect: connection refused" in output
    finally:
        restarting = time.monotonic()
        apiserver.restart()
        figure("api-server restart -> ready", time.monotonic() - restarting)

    # The state lists the same resources (in another order: the engine rewrites it).
    assert sorted(r["urn"] for r in engine.export(CODEX)["deployment"]["resources"]) == urns_before
    assert pending_operations(engine, CODEX) == []
    assert lock_files(engine) == []
    # Its display lists the outputs as removed (`- deployment`), but the state keeps them.
    outputs = stack_outputs(engine, CODEX)
    print("codex stack outputs after the failed up:", sorted(outputs))
    assert set(outputs) == {"deployment", "namespace", "runsOn"}

    recovering = time.monotonic()
    done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    figure("recovery up after the API server came back", time.monotonic() - recovering)
    assert probe_of(cluster, "codex-gh-runner") == "api-server-down"
    assert "deployment" in stack_outputs(engine, CODEX)
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def test_up_interrupted_once_cancels_cleanly(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the CLI's process group, as a terminal sends it) while a create is in
    flight: the CLI has the provider cancel what it is doing, records those steps as failed,
    and exits leaving no pending operation, no lock and no plugin; `up` then converges."""
    gemini = engine.stack(GEMINI)
    set_config(gemini, "runner.networkPolicy.enabled", "true")
    set_config(gemini, f'runner.podAnnotations["{PROBE}"]', "sigint")

    with gated(cluster, tmp_path / "gate", NETWORK_POLICY_CREATE) as gate:
        up = spawn_up(engine, GEMINI, tmp_path / "up.log")
        with ending(up):
            assert gate.wait_held(HELD_TIMEOUT), up.output()
            up.look()
            # The held create stays in flight 2 s after the signal, as a slow API would.
            letting_go = threading.Timer(2.0, gate.release)
            interrupted = time.monotonic()
            os.killpg(up.process.pid, signal.SIGINT)
            letting_go.start()
            try:
                code = up.wait(EXIT_BOUND)
                figure("SIGINT -> up exited", time.monotonic() - interrupted)
            finally:
                letting_go.cancel()
            output = up.output()
            print(output[-4000:])
            survivors = up.survivors()
            print("plugins alive after the CLI exited:", sorted(survivors))
            assert survivors == set(), "a cancelled up left plugins running"
    assert code != 0
    assert "^C received; cancelling" in output
    # The provider abandons its requests: the steps in flight fail, they do not finish.
    assert "context canceled" in output, output[-3000:]
    live = namespace_objects(cluster)
    print("policy in the cluster after SIGINT:", "NetworkPolicy/gemini-gh-runner-egress" in live)

    pending = pending_operations(engine, GEMINI)
    print("pending operations after SIGINT:", describe(pending))
    assert pending == [], "a SIGINT left pending operations"
    assert lock_files(engine) == [], "a SIGINT left the lock"

    recovering = time.monotonic()
    done = engine.cli(GEMINI, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    figure("recovery up after SIGINT", time.monotonic() - recovering)
    expect_no_changes(engine, GEMINI)
    assert_converged(engine, cluster)


def test_up_killed_leaves_pending_operations_and_a_lock(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """SIGKILL of the CLI while a Deployment update and a NetworkPolicy create are in flight:
    the state keeps both as pending operations and the stack stays locked; `pulumi cancel`,
    `pulumi refresh --clear-pending-creates` and `pulumi up` recover it."""
    codex = engine.stack(CODEX)
    # A new name is a new resource: a create, and the old policy's delete at the end.
    set_config(codex, "runner.networkPolicy.name", "codex-gh-runner-egress-renamed")
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "sigkill")

    with gated(cluster, tmp_path / "gate", NETWORK_POLICY_CREATE, DEPLOYMENT_UPDATE) as gate:
        up = spawn_up(engine, CODEX, tmp_path / "up.log")
        with ending(up):
            both = (real("NetworkPolicy", "CREATE"), real("Deployment", "UPDATE"))
            assert gate.wait_for(lambda rs: all(w(rs) for w in both), HELD_TIMEOUT), up.output()
            up.look()
            up.process.kill()
            up.process.wait(timeout=10)
            time.sleep(3)
            survivors = up.survivors()
            print(
                "plugins alive 3 s after the CLI was killed:",
                [processes.command_line(p)[:80] for p in sorted(survivors)],
            )
            # The language host and the provider run in process groups of their own: they
            # outlive the CLI (ended by `ending` below).
            assert survivors, "no plugin outlived the killed CLI"
            # The writes the API server was admitting go on, as they would on a real cluster.
            gate.release()
            time.sleep(3)
    live = namespace_objects(cluster)
    print("live after the kill:", sorted(live), "probe:", probe_of(cluster, "codex-gh-runner"))
    # Both writes the killed CLI had in flight reached the cluster, though its state does not
    # know: the new policy exists beside the old one, the Deployment carries the change.
    renamed = "NetworkPolicy/codex-gh-runner-egress-renamed"
    assert renamed in live and "NetworkPolicy/codex-gh-runner-egress" in live
    assert probe_of(cluster, "codex-gh-runner") == "sigkill"

    pending = pending_operations(engine, CODEX)
    print("pending operations after SIGKILL:", describe(pending))
    locks = lock_files(engine)
    print("locks after SIGKILL:", [p.relative_to(engine.state_dir) for p in locks])
    assert pending, "a SIGKILL mid-update left no pending operation"
    assert locks, "a SIGKILL mid-update left no lock"

    refused = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert refused.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in refused.stderr + refused.stdout
    assert f"(pid {up.process.pid})" in refused.stderr + refused.stdout

    recovering = time.monotonic()
    for command in (
        ("cancel", "--yes"),
        ("refresh", "--clear-pending-creates", "--yes"),
    ):
        done = engine.cli(CODEX, *command, "--stack", "dev")
        assert done.returncode == 0, done.stdout + done.stderr
    assert pending_operations(engine, CODEX) == [], "refresh left a pending operation"
    with cluster.garbage_collector():
        done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    figure("recovery after SIGKILL (cancel, refresh, up)", time.monotonic() - recovering)
    # The policy the killed run created is adopted in place (upsertExistingObjects), not made
    # again; the old one is gone.
    after = namespace_objects(cluster)
    assert after[renamed]["metadata"]["uid"] == live[renamed]["metadata"]["uid"]
    assert "NetworkPolicy/codex-gh-runner-egress" not in after
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def test_two_ups_of_one_stack(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """A second `up` while the first holds the DIY lock is refused, naming the holder; two
    started together never both run; the state stays whole."""
    codex = engine.stack(CODEX)
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "lock-held")
    with gated(cluster, tmp_path / "gate", DEPLOYMENT_UPDATE) as gate:
        first = spawn_up(engine, CODEX, tmp_path / "first.log")
        with ending(first):
            assert gate.wait_for(real("Deployment", "UPDATE"), HELD_TIMEOUT), first.output()
            second = spawn_up(engine, CODEX, tmp_path / "second.log")
            with ending(second):
                assert second.wait(EXIT_BOUND) != 0, second.output()
                figure("second up refused", time.monotonic() - second.started)
            gate.release()
            assert first.wait(EXIT_BOUND) == 0, first.output()
    refusal = second.output()
    print(refusal[-2000:])
    assert "the stack is currently locked by 1 lock(s)" in refusal
    assert f"(pid {first.process.pid})" in refusal
    assert probe_of(cluster, "codex-gh-runner") == "lock-held"

    # Started together, with no gate: the lock is write-then-check, so two updates that both
    # wrote before either checked both back off; never do both run.
    set_config(codex, f'runner.podAnnotations["{PROBE}"]', "lock-race")
    racers = [spawn_up(engine, CODEX, tmp_path / f"race-{i}.log") for i in (1, 2)]
    with ending(*racers):
        codes = [r.wait(EXIT_BOUND) for r in racers]
    print("racing ups exited with", codes)
    assert codes.count(0) <= 1
    for racer, code in zip(racers, codes, strict=True):
        if code != 0:
            assert "the stack is currently locked" in racer.output(), racer.output()[-2000:]
    if 0 not in codes:
        done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
        assert done.returncode == 0, done.stdout + done.stderr
    assert probe_of(cluster, "codex-gh-runner") == "lock-race"
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def _shared_stack_like_dev(engine: Engine, name: str) -> auto.Stack:
    """Another stack of the shared project with dev's config but no codex ConfigMap, so its
    `up` and `destroy` touch nothing in the cluster (the provider only)."""
    stack = engine.stack(SHARED, name)
    stack_file = engine.stack_file(SHARED, name)
    document = yaml.safe_load(stack_file.read_text()) or {}
    dev = yaml.safe_load(engine.stack_file(SHARED).read_text())
    document["config"] = dev["config"]
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    set_config(stack, "codexConfig.enabled", "false")
    return stack


def _older_shared_stack(engine: Engine, source: str, name: str, tmp_path: Path) -> None:
    """A shared stack whose `wiring` lacks `namespace`, as one written by an older gh-runner
    would: the state of ``source`` with that key taken out, imported as stack ``name``."""
    state = engine.export(SHARED, source)
    for resource in state["deployment"]["resources"]:
        if resource["type"] == "pulumi:pulumi:Stack":
            del resource["outputs"]["wiring"]["namespace"]
    text = json.dumps(state).replace(f"urn:pulumi:{source}::", f"urn:pulumi:{name}::")
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    engine.stack(SHARED, name)
    done = engine.cli(SHARED, "stack", "import", "--file", str(path), "--stack", name)
    assert done.returncode == 0, done.stdout + done.stderr


def test_missing_or_older_shared_stack_touches_nothing(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """A runner stack whose StackReference finds no stack, a destroyed one, or a wiring without
    a key it needs stops in `preview` and in `up` before registering any object."""
    destroyed = _shared_stack_like_dev(engine, "destroyed")
    engine.up(destroyed)
    _older_shared_stack(engine, "destroyed", "older", tmp_path)
    engine.destroy(destroyed)

    codex = engine.stack(CODEX)
    # The dev file leaves sharedStack to its default (the shared stack of the same name).
    assert "sharedStack" not in codex.get_all_config() and not any(
        key.endswith(":sharedStack") for key in codex.get_all_config()
    )
    before = resource_versions(cluster)
    state_before = [r["urn"] for r in engine.export(CODEX)["deployment"]["resources"]]
    cases = {
        "never-created": "never-created",
        "destroyed": "sharedStack: the shared stack exports no wiring",
        "older": "sharedStack: its wiring.namespace",
    }
    try:
        # A reference to another stack name on purpose: past the loader's cross-stack check, so
        # the StackReference itself is what answers.
        set_config(codex, "allowCrossStack", "true")
        for shared_stack, message in cases.items():
            set_config(codex, "sharedStack", f"organization/gh-runner-shared/{shared_stack}")
            for command in ("preview", "up"):
                args = ("up", "--yes") if command == "up" else ("preview",)
                done = engine.cli(CODEX, *args, "--stack", "dev")
                output = done.stdout + done.stderr
                print(f"--- {command} with sharedStack {shared_stack}: exit {done.returncode}")
                print(output[-1500:])
                assert done.returncode != 0, output
                assert message in output, output[-2000:]
                assert "Traceback" not in output, output[-2000:]
                assert resource_versions(cluster) == before, (shared_stack, command)
        state_after = engine.export(CODEX)["deployment"]
        assert [r["urn"] for r in state_after["resources"]] == state_before
        assert not state_after.get("pending_operations")
    finally:
        codex.remove_config("allowCrossStack", path=True)
        codex.remove_config("sharedStack", path=True)
        for name in ("destroyed", "older"):
            engine.cli(SHARED, "stack", "rm", "--yes", "--force", "--stack", name)
    expect_no_changes(engine, CODEX)
    assert_converged(engine, cluster)


def _gh_runner_diff(engine: Engine, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`gh-runner diff --cluster` of the stacks, as an operator runs it: each stack's
    `provider.kubeconfig` names the cluster."""
    stack_dirs = [a for s in K8S_STACKS for a in ("--stack-dir", str(engine.stack_dir(s)))]
    return subprocess.run(
        [sys.executable, "-m", "runner_k8s.cli", "diff", "--cluster", *stack_dirs],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def _run(engine: Engine, stack_dir: str, *command: str, **kwargs: Any) -> str:
    done = engine.cli(stack_dir, *command, "--stack", "dev", **kwargs)
    output = done.stdout + done.stderr
    print(f"--- {stack_dir}: pulumi {' '.join(command)}: exit {done.returncode}")
    return f"exit {done.returncode}\n{output}"


def live_drift(cluster: Cluster) -> tuple[str, int]:
    codex = cluster.get_named("Deployment", "codex-gh-runner")
    gemini = cluster.get_named("Deployment", "gemini-gh-runner")
    return str(container_of(codex)["image"]), int(gemini["spec"]["replicas"])


def test_kubectl_edits_are_shown_and_forced_back(
    converged: None, engine: Engine, cluster: Cluster, tmp_path: Path
) -> None:
    """kubectl changes an image and scales a fleet. `gh-runner diff --cluster` reports both;
    `pulumi preview --refresh` shows both and fails on the Server-Side Apply conflict; a plain
    `up` does not see them; `up --refresh` is refused by the same conflict; `up --refresh
    --skip-preview` takes the image back but not the scale (set through a subresource);
    PULUMI_K8S_ENABLE_PATCH_FORCE=true `up --refresh` puts everything back, and one more `up`
    drops that setting from the provider's state."""
    namespace = cluster.namespace
    pinned_image = container_of(cluster.get_named("Deployment", "codex-gh-runner"))["image"]
    container = container_of(cluster.get_named("Deployment", "codex-gh-runner"))["name"]
    tampered = "ghcr.io/spigell/codex-github-runner:tampered"
    cluster.kubectl(
        "set", "image", "deployment/codex-gh-runner", f"{container}={tampered}", "-n", namespace
    )
    cluster.kubectl("scale", "deployment/gemini-gh-runner", "--replicas=5", "-n", namespace)

    diff = _gh_runner_diff(engine, tmp_path)
    print(diff.stdout)
    assert diff.returncode == 1, diff.stdout + diff.stderr
    assert f"image: '{tampered}' -> '{pinned_image}'" in diff.stdout
    assert "spec.replicas: 5 -> 2" in diff.stdout

    shown = {
        CODEX: (f'image: "{tampered}" => "{pinned_image}"', 'conflict with "kubectl-set"'),
        GEMINI: ("replicas: 5 => 2", 'conflict with "kubectl" with subresource "scale"'),
    }
    for runner, (change, conflict) in shown.items():
        preview = _run(engine, runner, "preview", "--refresh", "--diff")
        assert preview.startswith("exit 1") and change in preview and conflict in preview, preview
        plain = _run(engine, runner, "up", "--yes")
        assert plain.startswith("exit 0") and "updated" not in plain, plain
        refreshed = _run(engine, runner, "up", "--refresh", "--yes")
        assert refreshed.startswith("exit 1") and conflict in refreshed, refreshed
    assert live_drift(cluster) == (tampered, 5), "a refused up changed the cluster"

    # Without the preview's dry run, the update itself takes over fields of `kubectl...` field
    # managers, except those set through a subresource (the scale).
    skipped = {r: _run(engine, r, "up", "--refresh", "--skip-preview", "--yes") for r in RUNNERS}
    assert skipped[CODEX].startswith("exit 0"), skipped[CODEX]
    assert skipped[GEMINI].startswith("exit 1"), skipped[GEMINI]
    assert shown[GEMINI][1] in skipped[GEMINI], skipped[GEMINI]
    assert live_drift(cluster) == (pinned_image, 5)

    recovering = time.monotonic()
    for runner in RUNNERS:
        forced = _run(
            engine,
            runner,
            "up",
            "--refresh",
            "--yes",
            extra_env={"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"},
        )
        assert forced.startswith("exit 0"), forced
        # The provider records the variable in its own inputs: the next plain `up` updates the
        # provider (no object changes) and only then is the stack without changes.
        follow_up = _run(engine, runner, "up", "--yes")
        assert follow_up.startswith("exit 0") and "1 updated" in follow_up, follow_up
        expect_no_changes(engine, runner)
    figure("forced up --refresh, then up, of both fleets", time.monotonic() - recovering)
    assert live_drift(cluster) == (pinned_image, 2)
    assert_converged(engine, cluster)


def test_config_map_deleted_by_hand_comes_back_without_a_rollout(
    converged: None, engine: Engine, cluster: Cluster
) -> None:
    """kubectl deletes the codex ConfigMap: `preview --refresh` shows its create, a plain `up`
    does not (the state still has it), `up --refresh` recreates it, and neither fleet's
    Deployment changes."""
    [config_map] = [m for m in rendered(engine) if m["kind"] == "ConfigMap"]
    deployments_before = {
        name: cluster.get_named("Deployment", name)
        for name in ("codex-gh-runner", "gemini-gh-runner")
    }
    cluster.kubectl("delete", "configmap", config_map["metadata"]["name"], "-n", cluster.namespace)

    preview = _run(engine, SHARED, "preview", "--refresh")
    assert preview.startswith("exit 0") and "1 to create" in preview, preview
    plain = _run(engine, SHARED, "up", "--yes")
    assert plain.startswith("exit 0"), plain
    assert cluster.absent(config_map), "a plain up recreated the ConfigMap"
    refreshed = _run(engine, SHARED, "up", "--refresh", "--yes")
    assert refreshed.startswith("exit 0"), refreshed
    assert not cluster.absent(config_map)

    for runner in RUNNERS:
        result = engine.up(engine.stack(runner))
        assert set(result.summary.resource_changes or {}) == {"same"}, runner
    for name, before in deployments_before.items():
        after = cluster.get_named("Deployment", name)
        assert after["metadata"]["generation"] == before["metadata"]["generation"], name
        assert after["spec"]["template"] == before["spec"]["template"], name
    for stack_dir in K8S_STACKS:
        expect_no_changes(engine, stack_dir)
    assert_converged(engine, cluster)


def _forget_and_reapply_config_map(
    engine: Engine, cluster: Cluster, data: dict[str, str] | None = None
) -> dict[str, Any]:
    """Production before adoption: the ConfigMap created by `kubectl apply` (with ``data``, or
    the config's own), and a shared stack whose state does not hold it."""
    [config_map] = [m for m in rendered(engine) if m["kind"] == "ConfigMap"]
    [urn] = [
        r["urn"]
        for r in engine.export(SHARED)["deployment"]["resources"]
        if r["type"] == "kubernetes:core/v1:ConfigMap"
    ]
    forgotten = _run(engine, SHARED, "state", "delete", urn, "--yes")
    assert forgotten.startswith("exit 0"), forgotten
    cluster.kubectl("delete", "configmap", config_map["metadata"]["name"], "-n", cluster.namespace)
    by_hand = {**config_map, "data": data or config_map["data"]}
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(by_hand))
    return config_map


def test_first_change_of_a_field_kubectl_created_fails_preview(
    converged: None, engine: Engine, cluster: Cluster
) -> None:
    """The ConfigMap created by `kubectl apply` and adopted as it is (as production's is): the
    first TOML edit fails `pulumi preview` (and so `pulumi up`) with an SSA conflict against
    kubectl's field manager; `pulumi up --skip-preview` applies it and takes the field over."""
    _forget_and_reapply_config_map(engine, cluster)
    adopted = _run(engine, SHARED, "up", "--yes")
    assert adopted.startswith("exit 0"), adopted
    assert_converged(engine, cluster)

    shared = engine.stack(SHARED)
    toml = shared.get_config("codexConfig.configToml", path=True).value
    set_config(shared, "codexConfig.configToml", toml + "\n# first change after kubectl\n")
    preview = _run(engine, SHARED, "preview")
    assert preview.startswith("exit 1"), preview
    assert 'conflict with "kubectl-client-side-apply"' in preview, preview
    applied = _run(engine, SHARED, "up", "--skip-preview", "--yes")
    assert applied.startswith("exit 0"), applied
    expect_no_changes(engine, SHARED)
    # A fleet with rolloutOnConfigChange follows the new digest; the others change nothing.
    for runner in RUNNERS:
        done = _run(engine, runner, "up", "--yes")
        assert done.startswith("exit 0"), done
        expect_no_changes(engine, runner)
    assert_converged(engine, cluster)


def test_adopting_what_kubectl_changed_needs_force(
    converged: None, engine: Engine, cluster: Cluster
) -> None:
    """Adoption (the first `up` of an object the state does not hold) of a ConfigMap whose data
    kubectl set to another value than the config's: the create fails with an SSA conflict even
    without a preview; PULUMI_K8S_ENABLE_PATCH_FORCE=true adopts it in place."""
    [config_map] = [m for m in rendered(engine) if m["kind"] == "ConfigMap"]
    data = {key: value + "\n# by hand\n" for key, value in config_map["data"].items()}
    _forget_and_reapply_config_map(engine, cluster, data)
    uid = cluster.get(config_map)["metadata"]["uid"]

    refused = _run(engine, SHARED, "up", "--skip-preview", "--yes")
    assert refused.startswith("exit 1"), refused
    assert 'conflict with "kubectl-client-side-apply"' in refused, refused
    assert cluster.get(config_map)["data"] == data
    forced = _run(
        engine, SHARED, "up", "--yes", extra_env={"PULUMI_K8S_ENABLE_PATCH_FORCE": "true"}
    )
    assert forced.startswith("exit 0"), forced
    follow_up = _run(engine, SHARED, "up", "--yes")
    assert follow_up.startswith("exit 0"), follow_up
    expect_no_changes(engine, SHARED)
    assert cluster.get(config_map)["metadata"]["uid"] == uid
    assert_converged(engine, cluster)


def test_adopting_what_kubectl_changed_with_the_patch_force_switch(
    converged: None, engine: Engine, cluster: Cluster
) -> None:
    """The same forced adoption as a reviewed stack-file line, `provider.patchForce: true`,
    instead of the environment variable: adopted in place; removing the line, the next `up`
    updates the provider only, and the stack is then without changes."""
    [config_map] = [m for m in rendered(engine) if m["kind"] == "ConfigMap"]
    data = {key: value + "\n# by hand, again\n" for key, value in config_map["data"].items()}
    _forget_and_reapply_config_map(engine, cluster, data)
    uid = cluster.get(config_map)["metadata"]["uid"]

    shared = engine.stack(SHARED)
    set_config(shared, "provider.patchForce", "true")
    forced = _run(engine, SHARED, "up", "--yes")
    assert forced.startswith("exit 0"), forced
    adopted = cluster.get(config_map)
    assert adopted["metadata"]["uid"] == uid
    assert adopted["data"] == config_map["data"]
    shared.remove_config("provider.patchForce", path=True)
    follow_up = _run(engine, SHARED, "up", "--yes")
    assert follow_up.startswith("exit 0") and "1 updated" in follow_up, follow_up
    expect_no_changes(engine, SHARED)
    assert_converged(engine, cluster)


def test_adopting_again_what_pulumi_managed_conflicts_with_its_old_field_manager(
    converged: None, engine: Engine, cluster: Cluster
) -> None:
    """An object dropped from the state (`pulumi state delete`) and adopted again by the next
    `up`: the adoption passes, but the earlier Pulumi field manager keeps its fields (the
    provider takes over only kubectl's), so the next change of one conflicts with it.
    `provider.patchForce` for that update takes it over."""
    [config_map] = [m for m in rendered(engine) if m["kind"] == "ConfigMap"]
    [urn] = [
        r["urn"]
        for r in engine.export(SHARED)["deployment"]["resources"]
        if r["type"] == "kubernetes:core/v1:ConfigMap"
    ]
    uid = cluster.get(config_map)["metadata"]["uid"]
    forgotten = _run(engine, SHARED, "state", "delete", urn, "--yes")
    assert forgotten.startswith("exit 0"), forgotten
    adopted = _run(engine, SHARED, "up", "--yes")
    assert adopted.startswith("exit 0"), adopted
    pulumi_managers = [
        f["manager"]
        for f in cluster.get(config_map)["metadata"]["managedFields"]
        if f["manager"].startswith("pulumi-kubernetes")
    ]
    assert len(pulumi_managers) == 2, pulumi_managers

    shared = engine.stack(SHARED)
    toml = shared.get_config("codexConfig.configToml", path=True).value
    set_config(shared, "codexConfig.configToml", toml + "\n# changed after re-adoption\n")
    refused = _run(engine, SHARED, "up", "--yes", "--skip-preview")
    assert refused.startswith("exit 1"), refused
    assert 'conflict with "pulumi-kubernetes-' in refused, refused
    set_config(shared, "provider.patchForce", "true")
    forced = _run(engine, SHARED, "up", "--yes")
    assert forced.startswith("exit 0"), forced
    shared.remove_config("provider.patchForce", path=True)
    follow_up = _run(engine, SHARED, "up", "--yes")
    assert follow_up.startswith("exit 0"), follow_up
    expect_no_changes(engine, SHARED)
    assert cluster.get(config_map)["metadata"]["uid"] == uid
    # A fleet with rolloutOnConfigChange follows the new digest.
    for runner in RUNNERS:
        done = _run(engine, runner, "up", "--yes")
        assert done.startswith("exit 0"), done
    assert_converged(engine, cluster)
