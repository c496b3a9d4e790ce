"""`gh-runner diff --cluster` (and `--live FILE`) against a real API server: every hand edit is
seen, no server default is called drift, a pod-template change is marked as restarting the
pods, a Secret is compared by value.

The module starts from the live objects replaced by the dev render (whatever the earlier
cluster tests left), so the diff is clean at its start; its edits are made with kubectl, as an
operator makes them, and the objects are put back to the render at its end.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pytest
import yaml

from gh_runner_harness.cluster import Cluster
from gh_runner_harness.engine import Engine
from gh_runner_harness.paths import K8S_STACKS, REPO
from runner_k8s.build.fleet import runner_manifests
from runner_k8s.build.shared_objects import github_token_secret
from runner_k8s.config.fleet import load_fleet_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.kube.defaults import with_server_defaults
from runner_k8s.kube.objects import Manifest, object_id
from runner_k8s.offline.drift import _prepared, compare
from runner_k8s.offline.render import render_stacks
from runner_k8s.status.live_objects import LiveObjects, read_cluster
from runner_k8s.wiring import build_wiring

pytestmark = pytest.mark.cluster

CODEX, GEMINI = "codex-gh-runner", "gemini-gh-runner"


def dev_render() -> list[Manifest]:
    return render_stacks([REPO / "stacks" / s for s in K8S_STACKS], "dev")


def put_back(cluster: Cluster, manifests: list[Manifest]) -> None:
    """Each object exactly as rendered: `kubectl replace` sets the whole object (annotations,
    kubectl's record and earlier edits included); a missing one is created."""
    for manifest in manifests:
        verb = "create" if cluster.absent(manifest) else "replace"
        cluster.kubectl(verb, "-f", "-", input=yaml.safe_dump(manifest))


@pytest.fixture(scope="module")
def rendered(cluster: Cluster) -> Iterator[list[Manifest]]:
    manifests = dev_render()
    put_back(cluster, manifests)
    yield manifests
    put_back(cluster, manifests)


@pytest.fixture
def as_rendered(cluster: Cluster, rendered: list[Manifest]) -> list[Manifest]:
    """Each test starts from the render, whatever the previous one edited."""
    put_back(cluster, rendered)
    return rendered


def gh_runner_diff(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner_k8s.cli", "diff", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def diff_cluster(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    return gh_runner_diff(cluster, "--cluster", "--kubeconfig", str(cluster.kubeconfig))


def diff_live_file(cluster: Cluster, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The same objects dumped with kubectl, as an operator without --cluster would."""
    names = [f"{m['kind'].lower()}/{m['metadata']['name']}" for m in dev_render()]
    dump = cluster.kubectl("get", *names, "-n", cluster.namespace, "-o", "yaml").stdout
    path = tmp_path / "live.yaml"
    path.write_text(dump)
    return gh_runner_diff(cluster, "--live", str(path))


def test_the_defaults_table_is_what_the_server_fills_in(
    cluster: Cluster, as_rendered: list[Manifest]
) -> None:
    """kube.defaults (what `diff --live FILE` uses offline) against the API server's own answer
    to a dry-run create of every rendered object, a NetworkPolicy and a token Secret included."""
    shared = load_stack_config(REPO / "stacks" / "shared", "dev")
    secret = github_token_secret(load_shared(shared.values, shared.secret_paths), "ghp_dummy")
    objects = [*as_rendered, secret, *network_policies()]
    reader = LiveObjects(str(cluster.kubeconfig), None)
    for manifest in objects:
        stored = _prepared(reader.as_stored(manifest), live=True)
        table = _prepared(with_server_defaults(manifest), live=True)
        # Semantically (a quantity's spelling aside) and both ways: nothing missing, nothing more.
        drift = compare([table], [stored])
        assert drift.clean, f"{object_id(manifest)}:\n{drift.report('server')}"


def network_policies() -> list[Manifest]:
    """The codex fleet's egress policy, as `runner.networkPolicy.enabled: true` renders it."""
    fleet = load_fleet_stack(REPO / "stacks" / "codex-runner", "dev")
    runner = fleet.config.runner
    enabled = runner.network_policy.model_copy(update={"enabled": True})
    manifests = runner_manifests(
        runner.model_copy(update={"network_policy": enabled}), build_wiring(fleet.shared)
    )
    return [m for m in manifests if m["kind"] == "NetworkPolicy"]


def test_the_render_itself_is_no_drift(
    cluster: Cluster, as_rendered: list[Manifest], tmp_path: Path
) -> None:
    for done in (diff_cluster(cluster), diff_live_file(cluster, tmp_path)):
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"no drift: {len(as_rendered)} object(s) match")


def kubectl_in(cluster: Cluster, *args: str) -> None:
    cluster.kubectl(*args, "-n", cluster.namespace)


def patch(cluster: Cluster, name: str, change: dict[str, Any]) -> None:
    kubectl_in(cluster, "patch", "deployment", name, "--type=merge", "-p", json.dumps(change))


def test_every_hand_edit_is_seen(
    cluster: Cluster, as_rendered: list[Manifest], tmp_path: Path
) -> None:
    """The edits an operator makes with kubectl, each a different field manager."""
    kubectl_in(cluster, "set", "env", f"deployment/{CODEX}", "DEBUG=1")
    patch(cluster, CODEX, {"spec": {"template": {"spec": {"hostNetwork": True}}}})
    patch(cluster, GEMINI, {"spec": {"template": {"spec": {"nodeSelector": {"pool": "big"}}}}})
    kubectl_in(cluster, "annotate", f"deployment/{GEMINI}", "owner=me")
    kubectl_in(cluster, "scale", f"deployment/{GEMINI}", "--replicas=5")
    template = "spec.template.spec"
    expected = {
        f"  ! {template}.containers.runner.env.DEBUG: {{'name': 'DEBUG', 'value': '1'}}",
        f"  ! {template}.hostNetwork: True",
        f"  ! {template}.nodeSelector: {{'pool': 'big'}}",
        "  ! metadata.annotations: {'owner': 'me'}",
        "  ~ spec.replicas: 5 -> 2",
    }
    for done in (diff_cluster(cluster), diff_live_file(cluster, tmp_path)):
        print(done.stdout)
        assert done.returncode == 1, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        seen = {line.split("   (")[0] for line in lines if line.startswith("  ")}
        assert seen == expected, done.stdout
        cluster_only = [line for line in lines if line.startswith("  !")]
        assert all("(set in the cluster, not in config" in line for line in cluster_only)


def test_a_pod_template_change_restarts_the_pods(
    cluster: Cluster, as_rendered: list[Manifest]
) -> None:
    """GITHUB_PAT read from another Secret (what `githubToken` does to the env): a change under
    the template, so a new ReplicaSet, marked so."""
    live = cluster.get_named("Deployment", CODEX)
    [container] = live["spec"]["template"]["spec"]["containers"]
    index = next(i for i, e in enumerate(container["env"]) if e["name"] == "GITHUB_PAT")
    path = f"/spec/template/spec/containers/0/env/{index}/valueFrom/secretKeyRef/name"
    operation = [{"op": "replace", "path": path, "value": "another-secret"}]
    kubectl_in(cluster, "patch", "deployment", CODEX, "--type=json", "-p", json.dumps(operation))
    done = diff_cluster(cluster)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "  ~ spec.template.spec.containers.runner.env.GITHUB_PAT.valueFrom.secretKeyRef.name: "
        "'another-secret' -> 'github-runner-config'   (restarts the pods)"
    ) in done.stdout.splitlines(), done.stdout


def test_a_secret_is_compared_by_value(cluster: Cluster, as_rendered: list[Manifest]) -> None:
    """The render's stringData against the live data (base64), in memory; never printed."""
    shared = load_stack_config(REPO / "stacks" / "shared", "dev")
    config = load_shared(shared.values, shared.secret_paths)
    secret = github_token_secret(config, "ghp_the-token")
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(secret))
    try:
        where = (str(cluster.kubeconfig), None)
        live, stored = read_cluster([secret], where)
        [found] = live
        assert found["data"] == {secret_key(secret): base64.b64encode(b"ghp_the-token").decode()}
        assert compare([secret], live, live=True, as_stored=stored).clean
        other = github_token_secret(config, "ghp_another-token")
        drift = compare([other], live, live=True, as_stored=stored)
        report = drift.report("cluster")
        assert report.splitlines()[1:] == [
            f"  ~ data.{secret_key(secret)}: changed   (a Secret's values are not shown)"
        ]
        assert "ghp_" not in report and found["data"][secret_key(secret)] not in report
    finally:
        kubectl_in(cluster, "delete", "secret", secret["metadata"]["name"])


def secret_key(secret: Manifest) -> str:
    [key] = secret["stringData"]
    return str(key)


# --- what `pulumi up` does with a field set in the cluster ------------------------------------


def _run(engine: Engine, stack_dir: str, *command: str, **kwargs: Any) -> str:
    done = engine.cli(stack_dir, *command, "--stack", "dev", **kwargs)
    print(f"--- {stack_dir}: pulumi {' '.join(command)}: exit {done.returncode}")
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _forget(engine: Engine, stack_dir: str, resource_type: str) -> None:
    """Drop the stack's resources of that type from its state (the object stays live)."""
    for resource in engine.export(stack_dir)["deployment"].get("resources") or []:
        if resource["type"] == resource_type:
            forgotten = _run(engine, stack_dir, "state", "delete", resource["urn"], "--yes")
            assert forgotten.startswith("exit 0"), forgotten


def hand_edits(deployment: dict[str, Any]) -> dict[str, Any]:
    """What the edits of `_edit_by_hand` left on a live Deployment."""
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return {
        "env DEBUG": [e for e in container.get("env", []) if e["name"] == "DEBUG"],
        "hostNetwork": spec.get("hostNetwork"),
        "nodeSelector": spec.get("nodeSelector"),
        "annotation owner": (deployment["metadata"].get("annotations") or {}).get("owner"),
    }


EDITED = {
    "env DEBUG": [{"name": "DEBUG", "value": "1"}],
    "hostNetwork": True,
    "nodeSelector": {"pool": "big"},
    "annotation owner": "me",
}
GONE = {"env DEBUG": [], "hostNetwork": None, "nodeSelector": None, "annotation owner": None}


def _edit_by_hand(cluster: Cluster, name: str) -> None:
    kubectl_in(cluster, "set", "env", f"deployment/{name}", "DEBUG=1")
    patch(cluster, name, {"spec": {"template": {"spec": {"hostNetwork": True}}}})
    patch(cluster, name, {"spec": {"template": {"spec": {"nodeSelector": {"pool": "big"}}}}})
    kubectl_in(cluster, "annotate", f"deployment/{name}", "owner=me")


def test_what_pulumi_up_does_with_fields_set_in_the_cluster(
    engine: Engine, cluster: Cluster, rendered: list[Manifest]
) -> None:
    """A Deployment made by `kubectl apply`, edited by hand (kubectl set env, patch, annotate),
    then adopted by `pulumi up`: the adopting `up` leaves every hand edit in place; the first
    update after it takes kubectl's fields over and removes them."""
    stack_dirs = [engine.stack_dir(s) for s in K8S_STACKS]
    workspace_render = render_stacks(stack_dirs, "dev")
    [deployment] = [
        m for m in workspace_render if m["kind"] == "Deployment" and m["metadata"]["name"] == CODEX
    ]
    # The engine's stacks have their own config (earlier tests edited it): the live objects
    # start as that config renders them.
    put_back(cluster, workspace_render)
    _forget(engine, "codex-runner", "kubernetes:apps/v1:Deployment")
    cluster.kubectl("delete", "deployment", CODEX, "-n", cluster.namespace)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(deployment))
    _edit_by_hand(cluster, CODEX)
    assert hand_edits(cluster.get_named("Deployment", CODEX)) == EDITED
    assert engine.up(engine.stack("shared")).summary.result == "succeeded"

    adopted = _run(engine, "codex-runner", "up", "--yes", "--skip-preview")
    assert adopted.startswith("exit 0"), adopted
    live = cluster.get_named("Deployment", CODEX)
    assert hand_edits(live) == EDITED, "the adopting up changed a hand edit"
    print("managers after adoption:", managers(live))

    codex = engine.stack("codex-runner")
    codex.set_config(
        'runner.podAnnotations["test.gh-runner/live-diff"]', auto.ConfigValue("on"), path=True
    )
    first_change = _run(engine, "codex-runner", "up", "--yes", "--skip-preview")
    assert first_change.startswith("exit 0"), first_change
    live = cluster.get_named("Deployment", CODEX)
    print("managers after the first change:", managers(live))
    assert hand_edits(live) == GONE, "the first update after adoption left a hand edit"


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["manager"], f["operation"]) for f in obj["metadata"].get("managedFields", [])]
