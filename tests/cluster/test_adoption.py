"""The real engine against a real API server (etcd + kube-apiserver on loopback), prepared as
production is today: namespace, Secrets, PVCs, and the baseline applied with kubectl.

The tests are the steps of one cluster's life and run in file order: adopt, no-op, config
edit, Pod Security, bad config, destroy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi.automation as auto
import pytest
import yaml

from gh_runner_harness.cluster import Cluster
from gh_runner_harness.engine import Engine
from gh_runner_harness.paths import BASELINE, K8S_STACKS
from runner_k8s.drift import compare
from runner_k8s.objects import SKIP_AWAIT
from runner_k8s.render import load_manifests, render_stack

pytestmark = pytest.mark.cluster

RUNNERS = ("codex-runner", "gemini-runner")
# A pod annotation whose only purpose is to make `up` send each Deployment to the API server.
PROBE = "test.gh-runner/probe"


def up_all(engine: Engine) -> dict[str, auto.UpResult]:
    return {s: engine.up(engine.stack(s)) for s in K8S_STACKS}


def deployment_of(engine: Engine, stack_dir: str) -> str:
    return str(engine.stack(stack_dir).outputs()["deployment"].value)


def managed(cluster: Cluster) -> list[dict[str, Any]]:
    """The live objects the stacks manage: those the baseline holds."""
    return [cluster.get(m) for m in load_manifests(BASELINE)]


@dataclass(frozen=True)
class Kubectls:
    """What kubectl made of each Deployment, read before any `up`: the pod template as the API
    server serves it (JSON, lists in order) and the spec's generation."""

    templates: dict[str, str]
    generations: dict[str, int]
    specs: dict[str, str]
    annotations: dict[str, dict[str, str]]


def kubectls_view(cluster: Cluster) -> Kubectls:
    deployments = [o for o in managed(cluster) if o["kind"] == "Deployment"]
    return Kubectls(
        {cluster.key(o): json.dumps(o["spec"]["template"]) for o in deployments},
        {cluster.key(o): o["metadata"]["generation"] for o in deployments},
        {cluster.key(o): json.dumps(o["spec"]) for o in deployments},
        {cluster.key(o): o["metadata"].get("annotations", {}) for o in deployments},
    )


@pytest.fixture(scope="module")
def kubectl_made(cluster: Cluster) -> Kubectls:
    return kubectls_view(cluster)


def assert_no_restart(cluster: Cluster, kubectl_made: Kubectls) -> None:
    # The Deployment controller hashes the pod template, lists in order: an identical template
    # means no new ReplicaSet, so no runner is restarted. The whole spec is untouched too.
    now = kubectls_view(cluster)
    assert now.templates == kubectl_made.templates
    assert now.specs == kubectl_made.specs
    # The one annotation the provider adds is this tier's skipAwait (no controller would ever
    # report the Deployment ready); kubectl's last-applied-configuration stays. The API server
    # bumps a Deployment's generation on any annotation change (its registry copies them to
    # the ReplicaSet), so here, and only for that reason, the generation moves once.
    for key, live_annotations in now.annotations.items():
        assert live_annotations == {**kubectl_made.annotations[key], SKIP_AWAIT: "true"}, key
        assert now.generations[key] == kubectl_made.generations[key] + 1, key


def test_first_up_adopts_what_kubectl_created(
    engine: Engine, cluster: Cluster, kubectl_made: Kubectls
) -> None:
    before = {cluster.key(o): o["metadata"]["uid"] for o in managed(cluster)}
    for stack_dir, result in up_all(engine).items():
        assert result.summary.result == "succeeded", stack_dir
    after = managed(cluster)
    # Adopted in place: the same objects (uids), now matching the baseline field for field.
    assert {cluster.key(o): o["metadata"]["uid"] for o in after} == before
    drift = compare(load_manifests(BASELINE), after, live=True)
    assert drift.clean, drift.report()
    for obj in after:
        managers = {f["manager"] for f in obj["metadata"].get("managedFields", [])}
        assert any(m.startswith("pulumi") for m in managers), (cluster.key(obj), managers)
    assert_no_restart(cluster, kubectl_made)


def test_second_up_refresh_and_preview_change_nothing(
    engine: Engine, cluster: Cluster, kubectl_made: Kubectls
) -> None:
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)
        result = engine.up(stack)
        assert set(result.summary.resource_changes or {}) == {"same"}, stack_dir
        stack.refresh(color="never", on_output=engine.record)
        engine.preview(stack, expect_no_changes=True)
    assert_no_restart(cluster, kubectl_made)


def test_config_edit_updates_in_place_and_rolls_the_fleet(engine: Engine, cluster: Cluster) -> None:
    codex = engine.stack("codex-runner")
    codex.set_config("runner.rolloutOnConfigChange", auto.ConfigValue("true"), path=True)
    engine.up(codex)
    [config_map] = [o for o in managed(cluster) if o["kind"] == "ConfigMap"]
    deployment = cluster.get_named("Deployment", deployment_of(engine, "codex-runner"))
    rollout_before = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert rollout_before, "rolloutOnConfigChange put no annotation on the pod template"

    shared = engine.stack("shared")
    toml = shared.get_config("codexConfig.configToml", path=True).value
    shared.set_config("codexConfig.configToml", auto.ConfigValue(toml + "\n# edited\n"), path=True)
    engine.up(shared)
    engine.up(codex)

    edited = cluster.get_named("ConfigMap", config_map["metadata"]["name"])
    assert edited["metadata"]["uid"] == config_map["metadata"]["uid"]
    assert edited["data"] != config_map["data"]
    rolled = cluster.get_named("Deployment", deployment_of(engine, "codex-runner"))
    rollout_after = rolled["spec"]["template"]["metadata"].get("annotations", {})
    assert rollout_after.keys() == rollout_before.keys()
    assert rollout_after != rollout_before


def test_restricted_pod_security_gives_no_warning(engine: Engine, cluster: Cluster) -> None:
    namespace = cluster.namespace
    cluster.kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
        "--overwrite",
    )
    # The control: the same namespace warns about a privileged variant of a runner.
    privileged = cluster.get_named("Deployment", deployment_of(engine, "gemini-runner"))
    container = privileged["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True}
    probe = cluster.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(_applyable(privileged))
    )
    assert "PodSecurity" in probe.stderr, probe.stderr

    for stack_dir in RUNNERS:
        stack = engine.stack(stack_dir)
        # A real change, so the provider sends each Deployment to the admission chain again.
        stack.set_config(
            f'runner.podAnnotations["{PROBE}"]', auto.ConfigValue("restricted"), path=True
        )
        result = engine.up(stack)
        assert "PodSecurity" not in result.stdout + result.stderr, result.stdout
        live = cluster.get_named("Deployment", deployment_of(engine, stack_dir))
        annotations = live["spec"]["template"]["metadata"]["annotations"]
        assert annotations[PROBE] == "restricted"


def _applyable(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: obj["metadata"][k] for k in ("name", "namespace")}
    return {**{k: obj[k] for k in ("apiVersion", "kind", "spec")}, "metadata": metadata}


def test_network_policy_is_admitted_as_rendered(engine: Engine, cluster: Cluster) -> None:
    codex = engine.stack("codex-runner")
    codex.set_config("runner.networkPolicy.enabled", auto.ConfigValue("true"), path=True)
    engine.up(codex)
    rendered = render_stack(engine.stack_dir("codex-runner"), "dev")
    [policy] = [m for m in rendered if m["kind"] == "NetworkPolicy"]
    live = cluster.get(policy)
    drift = compare([policy], [live], live=True)
    assert drift.clean, drift.report()


def test_bad_config_changes_nothing_live(engine: Engine, cluster: Cluster) -> None:
    before = {cluster.key(o): o["metadata"]["resourceVersion"] for o in managed(cluster)}
    codex = engine.stack("codex-runner")
    replicas = codex.get_config("runner.replicas", path=True)
    codex.set_config("runner.replicas", auto.ConfigValue("-1"), path=True)
    try:
        with pytest.raises(auto.CommandError) as failed:
            engine.up(codex)
        assert "runner.replicas" in str(failed.value)
    finally:
        codex.set_config("runner.replicas", replicas, path=True)
    after = {cluster.key(o): o["metadata"]["resourceVersion"] for o in managed(cluster)}
    assert after == before


def test_destroy_leaves_what_the_fleets_keep(engine: Engine, cluster: Cluster) -> None:
    kept = cluster.kept_objects()
    before = {cluster.key(o): o["metadata"]["resourceVersion"] for o in kept}
    with cluster.garbage_collector():
        for stack_dir in (*RUNNERS, "shared"):
            result = engine.destroy(engine.stack(stack_dir))
            assert result.summary.result == "succeeded", stack_dir
    for manifest in load_manifests(BASELINE):
        assert cluster.absent(manifest), cluster.key(manifest)
    left = cluster.kubectl(
        "get", "deployments,networkpolicies", "-n", cluster.namespace, "-o", "name"
    )
    assert left.stdout.split() == []
    after = {cluster.key(o): o["metadata"]["resourceVersion"] for o in cluster.kept_objects()}
    assert after == before
