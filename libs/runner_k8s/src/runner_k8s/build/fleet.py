"""Pure builders of what a runner stack creates: one fleet's Deployment (its egress
NetworkPolicy is in ``egress``). Validated config and the shared stack's wiring in, plain
Kubernetes objects out.

The dicts are exactly what ``kubectl apply`` takes (camelCase, ``apiVersion`` first). The Pulumi
components register them unchanged and ``gh-runner render`` prints them, so the two cannot
disagree. No Pulumi calls here.
"""

from __future__ import annotations

import copy
from typing import Any

from runner_k8s.build.egress import runner_network_policy
from runner_k8s.build.rollout import rollout_annotations
from runner_k8s.config.runner import RunnerConfig
from runner_k8s.errors import ConfigError
from runner_k8s.kube.env_names import (
    RUNNER_DISABLE_UPDATES,
    RUNNER_EPHEMERAL,
    RUNNER_LABELS,
    RUNNER_REPLACE,
    RUNNER_WORKDIR,
)
from runner_k8s.kube.objects import DEPLOYMENT, Manifest, object_metadata
from runner_k8s.wiring import SharedWiring, check_fleet_wiring


def _runner_env(runner: RunnerConfig, wiring: SharedWiring) -> list[dict[str, Any]]:
    env = [var.model_dump(by_alias=True, exclude_none=True) for var in wiring.github_env]
    env.append({"name": RUNNER_LABELS, "value": ",".join(runner.labels)})
    for name, enabled in (
        (RUNNER_EPHEMERAL, runner.ephemeral),
        (RUNNER_REPLACE, runner.replace_existing),
        (RUNNER_DISABLE_UPDATES, runner.disable_updates),
    ):
        if enabled:
            env.append({"name": name, "value": "1"})
    env.append({"name": RUNNER_WORKDIR, "value": runner.workdir})
    env += [
        {"name": name, "value": var.value}
        if var.secret_key_ref is None
        else {"name": name, "valueFrom": {"secretKeyRef": var.secret_key_ref.model_dump()}}
        for name, var in runner.env.items()
    ]
    return env


def _volumes(runner: RunnerConfig, wiring: SharedWiring) -> tuple[list[Any], list[Any]]:
    """(volumeMounts, volumes): by default both in the order home volumes, work, codex config,
    secrets; runner.mountOrder and runner.volumeOrder set each list's own order."""
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for pvc in runner.home_volumes:
        mount: dict[str, Any] = {"name": pvc.name, "mountPath": pvc.mount_path}
        if pvc.read_only:
            mount["readOnly"] = True
        mounts.append(mount)
        claim: dict[str, Any] = {"claimName": pvc.claim_name}
        if pvc.read_only:
            claim["readOnly"] = True
        volumes.append({"name": pvc.name, "persistentVolumeClaim": claim})

    work = runner.work_volume
    mounts.append({"name": work.name, "mountPath": work.mount_path})
    volumes.append(
        {"name": work.name, "emptyDir": {"sizeLimit": work.size_limit} if work.size_limit else {}}
    )

    codex = runner.codex_config_mount
    if codex is not None and wiring.codex_config_map is not None:
        mounts.append(
            {"name": codex.volume_name, "mountPath": codex.mount_path, "subPath": codex.key}
        )
        volumes.append(
            {"name": codex.volume_name, "configMap": {"name": wiring.codex_config_map.name}}
        )

    for secret in runner.secret_mounts:
        mount = {"name": secret.name, "mountPath": secret.mount_path}
        if secret.read_only:
            mount["readOnly"] = True
        mounts.append(mount)
        source: dict[str, Any] = {"secretName": secret.secret_name}
        if secret.items is not None:
            source["items"] = [item.model_dump(by_alias=True) for item in secret.items]
        if secret.default_mode is not None:
            source["defaultMode"] = secret.default_mode
        volumes.append({"name": secret.name, "secret": source})
    return _ordered(mounts, runner.mount_order), _ordered(volumes, runner.volume_order)


def _ordered(entries: list[dict[str, Any]], names: list[str] | None) -> list[dict[str, Any]]:
    """``entries`` in the order of ``names`` (volume names; check_runner made them a permutation).
    The order is part of the pod template, so of its hash: a list in another order than the
    live one is a new ReplicaSet, i.e. every runner restarted."""
    if names is None:
        return entries
    by_name = {entry["name"]: entry for entry in entries}
    return [by_name[name] for name in names]


HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"
REQUIRED_AFFINITY = "requiredDuringSchedulingIgnoredDuringExecution"


def _affinity(runner: RunnerConfig, labels: dict[str, str]) -> dict[str, Any] | None:
    """The operator's affinity, plus, with homeVolume.colocate, a required pod affinity to this
    fleet's own pods on one node. The scheduler lets the first such pod go anywhere (no pod
    matches yet); every later one, rollouts included, follows it to the disk's node."""
    affinity = (
        copy.deepcopy(runner.affinity.model_dump(by_alias=True, exclude_none=True))
        if runner.affinity is not None
        else None
    )
    if not runner.home_sharing.colocate:
        return affinity
    affinity = affinity or {}
    pod_affinity = affinity.setdefault("podAffinity", {})
    own_pods = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": HOSTNAME_TOPOLOGY}
    pod_affinity[REQUIRED_AFFINITY] = [*pod_affinity.get(REQUIRED_AFFINITY, []), own_pods]
    return affinity


def runner_deployment(runner: RunnerConfig, wiring: SharedWiring) -> Manifest:
    """One fleet of ephemeral runners, hardened whatever the config says."""
    problems = check_fleet_wiring(runner, wiring)
    if problems:
        raise ConfigError(problems)
    labels = runner.selector_labels
    mounts, volumes = _volumes(runner, wiring)
    ids = runner.security_context
    pod_security: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": ids.run_as_user}
    if ids.run_as_group is not None:
        pod_security["runAsGroup"] = ids.run_as_group
    pod_security |= {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": ids.fs_group}

    container: dict[str, Any] = {
        "name": "runner",
        "image": runner.image,
        "imagePullPolicy": runner.image_pull_policy,
        "env": _runner_env(runner, wiring),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": mounts,
        "resources": runner.resources.model_dump(by_alias=True),
    }
    pod_spec: dict[str, Any] = {
        "automountServiceAccountToken": False,
        "securityContext": pod_security,
        "containers": [container],
        "volumes": volumes,
    }
    if runner.termination_grace_period_seconds is not None:
        pod_spec["terminationGracePeriodSeconds"] = runner.termination_grace_period_seconds
    if runner.node_selector:
        pod_spec["nodeSelector"] = dict(runner.node_selector)
    if runner.tolerations:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in runner.tolerations
        ]
    affinity = _affinity(runner, labels)
    if affinity is not None:
        pod_spec["affinity"] = affinity

    template_metadata: dict[str, Any] = {"labels": dict(labels)}
    annotations = {**runner.pod_annotations, **rollout_annotations(runner, wiring)}
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        **DEPLOYMENT.type_meta(),
        "metadata": object_metadata(runner.name, wiring.namespace, dict(labels)),
        "spec": {
            "replicas": runner.replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": template_metadata, "spec": pod_spec},
        },
    }


def runner_manifests(runner: RunnerConfig, wiring: SharedWiring) -> list[Manifest]:
    """What a runner stack creates: its Deployment and, when enabled, its egress NetworkPolicy."""
    deployment = runner_deployment(runner, wiring)
    policy = runner_network_policy(runner, wiring)
    return [deployment] if policy is None else [deployment, policy]
