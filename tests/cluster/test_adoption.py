"""The real engine against a real API server (etcd + kube-apiserver on loopback), prepared as
production is today: namespace, Secrets, PVCs, and the baseline applied with kubectl.

The tests are the steps of one cluster's life and run in file order: adopt, no-op, config
edit, Pod Security, bad config, destroy.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi.automation as auto
import pytest
import yaml

from gh_runner_harness.cluster import Cluster
from gh_runner_harness.engine import Engine
from gh_runner_harness.paths import BASELINE, K8S_STACKS
from runner_k8s.kube.objects import SKIP_AWAIT
from runner_k8s.offline.drift import compare
from runner_k8s.offline.manifest_files import load_manifests
from runner_k8s.offline.render import render_stack

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


@pytest.fixture(scope="module")
def kubectl_made(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The live objects as `kubectl apply` of the baseline left them, before any `up`: the first
    test to ask for it runs before the first `up`.

    The engine's test-only provider switch (skipAwait: no controllers here) puts an annotation
    on every object, and a Deployment's annotations count in its generation. kubectl adds that
    annotation first, so what the first `up` is measured to change is what it changes in
    production, where the switch is off."""
    for manifest in load_manifests(BASELINE):
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        cluster.kubectl("annotate", kind, name, "-n", cluster.namespace, f"{SKIP_AWAIT}=true")
    return {cluster.key(o): o for o in managed(cluster)}


def template_json(deployment: dict[str, Any]) -> str:
    """The pod template as the Deployment controller hashes it: the API server's own JSON,
    list order included (json.loads keeps key order, so this is byte for byte)."""
    return json.dumps(deployment["spec"]["template"])


def assert_no_restart(before: dict[str, dict[str, Any]], after: list[dict[str, Any]]) -> None:
    """Every Deployment keeps the pod template kubectl made, so its pod-template-hash, and its
    generation: the controller would start no new ReplicaSet, restart no runner."""
    deployments = [o for o in after if o["kind"] == "Deployment"]
    assert len(deployments) == 2
    for obj in deployments:
        made = before[Cluster.key(obj)]
        assert template_json(obj) == template_json(made), Cluster.key(obj)
        assert obj["metadata"]["generation"] == made["metadata"]["generation"], Cluster.key(obj)


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f["manager"], f["operation"]) for f in obj["metadata"].get("managedFields", [])]


def test_first_up_adopts_what_kubectl_created(
    engine: Engine, cluster: Cluster, kubectl_made: dict[str, dict[str, Any]]
) -> None:
    for stack_dir, result in up_all(engine).items():
        assert result.summary.result == "succeeded", stack_dir
    after = managed(cluster)
    # Adopted in place: the same objects (uids), now matching the baseline field for field,
    # list order included (diff reports a reordered pod template list).
    assert {cluster.key(o): o["metadata"]["uid"] for o in after} == {
        key: o["metadata"]["uid"] for key, o in kubectl_made.items()
    }
    drift = compare(load_manifests(BASELINE), after, live=True)
    assert drift.clean, drift.report()
    assert_no_restart(kubectl_made, after)
    # What the README's adoption section states, as measured: the first `up` leaves labels
    # and annotations (kubectl's last-applied-configuration included) as they were, keeps
    # kubectl's field manager and adds one of its own, a server-side Apply.
    for obj in after:
        made = kubectl_made[cluster.key(obj)]
        for field in ("labels", "annotations"):
            assert obj["metadata"].get(field) == made["metadata"].get(field), (
                cluster.key(obj),
                field,
            )
        added = [m for m in managers(obj) if m not in managers(made)]
        assert [operation for _, operation in added] == ["Apply"], managers(obj)
        assert added[0][0].startswith("pulumi-kubernetes"), added
        assert set(managers(made)) <= set(managers(obj))


def test_second_up_refresh_and_preview_change_nothing(
    engine: Engine, cluster: Cluster, kubectl_made: dict[str, dict[str, Any]]
) -> None:
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)
        result = engine.up(stack)
        assert set(result.summary.resource_changes or {}) == {"same"}, stack_dir
        stack.refresh(color="never", on_output=engine.record)
        engine.preview(stack, expect_no_changes=True)
    assert_no_restart(kubectl_made, managed(cluster))


def test_upsert_off_after_adoption(
    engine: Engine, cluster: Cluster, kubectl_made: dict[str, dict[str, Any]]
) -> None:
    """The runbook's step after adoption, `upsertExistingObjects: false`: the `up` that records
    it changes the provider only (no object replaced: same uids, same templates), previews stay
    clean, and a create that meets an existing object now fails instead of taking it over."""
    uids = {cluster.key(o): o["metadata"]["uid"] for o in managed(cluster)}
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)
        stack.set_config("provider.upsertExistingObjects", auto.ConfigValue("false"), path=True)
        result = engine.up(stack)
        assert (result.summary.resource_changes or {}).get("update") == 1, stack_dir
        engine.preview(stack, expect_no_changes=True)
    assert {cluster.key(o): o["metadata"]["uid"] for o in managed(cluster)} == uids
    assert_no_restart(kubectl_made, managed(cluster))

    # A new object of the stack that kubectl made first (the codex egress policy): its create
    # now meets the live object and stops, leaving it as kubectl made it.
    codex = engine.stack("codex-runner")
    codex.set_config("runner.networkPolicy.enabled", auto.ConfigValue("true"), path=True)
    [policy] = [
        m
        for m in render_stack(engine.stack_dir("codex-runner"), "dev")
        if m["kind"] == "NetworkPolicy"
    ]
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(policy))
    made = cluster.get(policy)["metadata"]["resourceVersion"]
    try:
        with pytest.raises(auto.CommandError) as refused:
            engine.up(codex)
        assert "already exists" in str(refused.value), str(refused.value)[-2000:]
        assert cluster.get(policy)["metadata"]["resourceVersion"] == made
    finally:
        cluster.kubectl(
            "delete", "networkpolicy", policy["metadata"]["name"], "-n", cluster.namespace
        )
        codex.set_config("runner.networkPolicy.enabled", auto.ConfigValue("false"), path=True)
        for stack_dir in K8S_STACKS:
            stack = engine.stack(stack_dir)
            stack.set_config("provider.upsertExistingObjects", auto.ConfigValue("true"), path=True)
            engine.up(stack)
    assert {cluster.key(o): o["metadata"]["uid"] for o in managed(cluster)} == uids


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
