"""Pure manifest builders: validated config in, plain Kubernetes objects out.

The dicts are exactly what ``kubectl apply`` takes (camelCase, ``apiVersion`` first). The Pulumi
components register them unchanged and ``gh-runner render`` prints them, so the two cannot
disagree. No Pulumi calls here.
"""

from __future__ import annotations

import copy
from typing import Any

from .config import (
    ConfigMapRef,
    EnvVar,
    EnvVarSource,
    ProviderConfig,
    RolloutDigests,
    RunnerConfig,
    SecretKeyRef,
    SecretKeySelector,
    SharedConfig,
    SharedWiring,
    check_runner_wiring,
)
from .egress import mcp_services, runner_network_policy
from .rollout import DEPLOY_TIME_MARKER, payload_sha256, rollout_annotations

Manifest = dict[str, Any]

# What the offline render shows in place of a secret value; never the value itself.
SECRET_MARKER = "[secret]"


# Tells pulumi-kubernetes not to wait for readiness (test-only; see ProviderConfig.skip_await).
SKIP_AWAIT = "pulumi.com/skipAwait"


def provider_metadata(metadata: dict[str, Any], provider: ProviderConfig) -> dict[str, Any]:
    """An object's metadata as handed to the provider: the render's, plus the skip-await
    annotation when the (test-only) provider switch asks for it. The render never shows it: it
    instructs Pulumi, like upsert, and says nothing about what should run."""
    if not provider.skip_await:
        return metadata
    return {**metadata, "annotations": {**metadata.get("annotations", {}), SKIP_AWAIT: "true"}}


def _metadata(name: str, namespace: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = labels
    return metadata


def codex_config_map(shared: SharedConfig) -> Manifest | None:
    codex = shared.codex_config
    if not codex.enabled or codex.config_toml is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(codex.name, shared.namespace),
        "data": {codex.key: codex.config_toml},
    }


# Marks the one Secret the stacks create, so the policy pack can tell it from a Secret that
# belongs to the cluster (which the stacks must only reference).
REGISTRATION_TOKEN_LABEL = ("app.kubernetes.io/component", "runner-registration-token")


def github_token_secret(shared: SharedConfig, token: object = SECRET_MARKER) -> Manifest:
    """The Secret made from ``githubToken``. ``token`` is whatever stands for the value: a Pulumi
    secret Output in the program, the marker in the offline render, the decrypted ``str`` when
    only its payload's digest is wanted."""
    ref = shared.secret_refs.managed_token
    key, value = REGISTRATION_TOKEN_LABEL
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(ref.name, shared.namespace, {key: value}),
        "type": "Opaque",
        "stringData": {ref.key: token},
    }


def _from_secret(name: str, ref: SecretKeyRef) -> EnvVar:
    return EnvVar(
        name=name,
        value_from=EnvVarSource(secret_key_ref=SecretKeySelector(name=ref.name, key=ref.key)),
    )


def github_token_sha256(shared: SharedConfig) -> str | None:
    """The registration Secret's digest for rollouts, from the decrypted ``githubToken``: a plain
    ``str``, so neither the digest nor the Deployment it annotates becomes a Pulumi secret.

    Unkeyed on purpose: a GitHub token is machine-generated with well over 160 bits of entropy,
    so its SHA-256 can be neither reversed nor guessed, as with Helm's ``checksum/`` annotations.
    A low-entropy password would need more, and has no place in ``githubToken``."""
    if shared.github_token is None:
        return None
    token = shared.github_token.get_secret_value()
    if token == SECRET_MARKER:
        # Read from a stack file, never decrypted (the offline render, mock runs of the file).
        return DEPLOY_TIME_MARKER
    return payload_sha256(github_token_secret(shared, token)["stringData"])


def shared_wiring(shared: SharedConfig) -> SharedWiring:
    """Namespace, GitHub credentials and the codex ConfigMap, as the runner stacks consume them,
    with the digests that roll them."""
    refs = shared.secret_refs
    if shared.github_repo is not None:
        url = EnvVar(
            name="GITHUB_URL", value=f"{shared.github_url.rstrip('/')}/{shared.github_repo}"
        )
    else:
        url = _from_secret("GITHUB_URL", refs.github_url)
    pat_ref = refs.managed_token if shared.github_token is not None else refs.github_pat
    codex = shared.codex_config
    config_map = codex_config_map(shared)
    return SharedWiring(
        namespace=shared.namespace,
        github_env=[
            url,
            _from_secret("GITHUB_PAT", pat_ref),
            _from_secret("GITHUB_TOKEN", refs.mcp_token),
        ],
        codex_config_map=ConfigMapRef(
            name=codex.name,
            key=codex.key,
            mcp_services=mcp_services(codex.config_toml or "", shared.namespace),
        )
        if codex.enabled
        else None,
        rollout_digests=RolloutDigests(
            codex_config_sha256=payload_sha256(config_map["data"]) if config_map else None,
            github_token_sha256=github_token_sha256(shared),
        ),
    )


def shared_manifests(shared: SharedConfig) -> list[Manifest]:
    """What the shared stack creates, as the offline render shows it."""
    manifests: list[Manifest] = []
    config_map = codex_config_map(shared)
    if config_map is not None:
        manifests.append(config_map)
    if shared.github_token is not None:
        manifests.append(github_token_secret(shared))
    return manifests


def _runner_env(runner: RunnerConfig, wiring: SharedWiring) -> list[dict[str, Any]]:
    env = [var.model_dump(by_alias=True, exclude_none=True) for var in wiring.github_env]
    env.append({"name": "RUNNER_LABELS", "value": ",".join(runner.labels)})
    for name, enabled in (
        ("RUNNER_EPHEMERAL", runner.ephemeral),
        ("RUNNER_REPLACE", runner.replace_existing),
        ("RUNNER_DISABLE_UPDATES", runner.disable_updates),
    ):
        if enabled:
            env.append({"name": name, "value": "1"})
    env.append({"name": "RUNNER_WORKDIR", "value": runner.workdir})
    env += [{"name": name, "value": value} for name, value in runner.env.items()]
    return env


def _volumes(runner: RunnerConfig, wiring: SharedWiring) -> tuple[list[Any], list[Any]]:
    """(volumeMounts, volumes), in the order: home volumes, work, codex config, secrets."""
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
    return mounts, volumes


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
    if not runner.home_volume.colocate:
        return affinity
    affinity = affinity or {}
    pod_affinity = affinity.setdefault("podAffinity", {})
    own_pods = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": HOSTNAME_TOPOLOGY}
    pod_affinity[REQUIRED_AFFINITY] = [*pod_affinity.get(REQUIRED_AFFINITY, []), own_pods]
    return affinity


def runner_deployment(runner: RunnerConfig, wiring: SharedWiring) -> Manifest:
    """One fleet of ephemeral runners, hardened whatever the config says."""
    check_runner_wiring(runner, wiring)
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
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(runner.name, wiring.namespace, dict(labels)),
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
