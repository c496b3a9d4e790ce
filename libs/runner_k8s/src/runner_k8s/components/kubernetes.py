"""Pulumi components: thin shells that register the builders' manifests as typed resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from runner_k8s.build.fleet import runner_manifests
from runner_k8s.build.shared_objects import codex_config_map, github_token_secret
from runner_k8s.config.provider import ProviderConfig
from runner_k8s.config.runner import RunnerConfig
from runner_k8s.config.runner_checks import shared_home_warnings
from runner_k8s.config.shared import SharedConfig
from runner_k8s.errors import or_run_error
from runner_k8s.kube.objects import (
    CONFIG_MAP,
    DEPLOYMENT,
    NETWORK_POLICY,
    SECRET,
    SKIP_AWAIT,
    Kind,
    Manifest,
)
from runner_k8s.wiring import build_wiring, read_wiring

# Component type strings: part of the URN of every object under them, so fixed for good.
SHARED_TYPE = "gh-runner:k8s:SharedResources"
FLEET_TYPE = "gh-runner:k8s:RunnerDeployment"


class KubernetesObject(pulumi.CustomResource):
    """One Kubernetes object, registered as the manifest the builders made.

    Not through the SDK's generated class for its kind (``k8s.apps.v1.Deployment`` and the like):
    those classes only hand a manifest's fields over under the same names, and importing them
    (``pulumi_kubernetes.core.v1`` above all) cost a stack program more than all else it does, at
    every preview and up (bench/engine_preview.py). What the engine receives is what those classes
    send: the same type token, the same inputs, and a Secret's payload kept secret in its outputs
    too. Left out: the classes' aliases to old API versions (``extensions/v1beta1`` and the
    like), under which no gh-runner stack was ever deployed, and their plugin version, which only
    chooses a default provider (every object here names its provider). A stack deployed through
    the classes plans no change (tests/engine/test_upgrade.py)."""

    metadata: pulumi.Output[Any]

    def __init__(
        self,
        name: str,
        kind: Kind,
        fields: Mapping[str, pulumi.Input[Any]],
        opts: pulumi.ResourceOptions,
        secret_fields: Sequence[str] = (),
    ) -> None:
        super().__init__(
            type_token(kind),
            name,
            {**kind.type_meta(), **fields},
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=list(secret_fields))
            ),
        )


def type_token(kind: Kind) -> str:
    """The provider's type token for a kind: the core group is spelt ``core``, any other group
    in full (``kubernetes:networking.k8s.io/v1:NetworkPolicy``)."""
    api_version = kind.api_version
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind.kind}"


def kubernetes_provider(config: ProviderConfig, name: str = "kubernetes") -> k8s.Provider:
    """The one provider every object of a stack goes through; nothing uses the ambient default."""
    return k8s.Provider(
        name,
        context=config.context,
        # A kubeconfig may embed credentials: keep it out of the state in plain text.
        kubeconfig=pulumi.Output.secret(config.kubeconfig) if config.kubeconfig else None,
        upsert_existing_objects=config.upsert_existing_objects,
        enable_config_map_mutable=config.enable_config_map_mutable,
        # Unset rather than false: the SDK then reads PULUMI_K8S_ENABLE_PATCH_FORCE, the
        # runbook's one-off spelling of the same switch.
        enable_patch_force=True if config.patch_force else None,
        render_yaml_to_directory=config.render_yaml_to_directory,
    )


def _child_options(
    parent: pulumi.Resource, provider: k8s.Provider, provider_config: ProviderConfig
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(
        parent=parent, provider=provider, retain_on_delete=provider_config.retain_on_delete
    )


def provider_metadata(metadata: dict[str, Any], provider: ProviderConfig) -> dict[str, Any]:
    """An object's metadata as handed to the provider: the render's, plus the skip-await
    annotation when the (test-only) provider switch asks for it. The render never shows it: it
    instructs Pulumi, like upsert, and says nothing about what should run."""
    if not provider.skip_await:
        return metadata
    return {**metadata, "annotations": {**metadata.get("annotations", {}), SKIP_AWAIT: "true"}}


def _metadata_for_provider(manifest: Manifest, provider_config: ProviderConfig) -> Any:
    # Typed Any: the SDK's ObjectMetaArgs unions do not admit a plain dict.
    return provider_metadata(manifest["metadata"], provider_config)


def _part(manifest: pulumi.Output[Manifest], key: str) -> pulumi.Output[Any]:
    return manifest.apply(lambda m: m[key])


class SharedResources(pulumi.ComponentResource):
    """The codex ConfigMap and, when ``githubToken`` is set, the Secret made from it."""

    config_map: KubernetesObject | None
    token_secret: KubernetesObject | None

    def __init__(
        self,
        name: str,
        shared: SharedConfig,
        provider: k8s.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(SHARED_TYPE, name, None, opts)
        child = _child_options(self, provider, shared.provider)

        self.config_map = None
        manifest = codex_config_map(shared)
        if manifest is not None:
            self.config_map = KubernetesObject(
                manifest["metadata"]["name"],
                CONFIG_MAP,
                {
                    "metadata": _metadata_for_provider(manifest, shared.provider),
                    "data": manifest["data"],
                },
                child,
            )

        self.token_secret = None
        # Plain data, digests included: exported as is, never as a secret.
        self.wiring: dict[str, Any] = build_wiring(shared).as_stack_output()
        if shared.github_token is not None:
            token = pulumi.Output.secret(shared.github_token.get_secret_value())
            secret = github_token_secret(shared, token)
            self.token_secret = KubernetesObject(
                secret["metadata"]["name"],
                SECRET,
                {
                    "metadata": _metadata_for_provider(secret, shared.provider),
                    "type": secret["type"],
                    "stringData": secret["stringData"],
                },
                child,
                secret_fields=("data", "stringData"),
            )
        self.register_outputs(
            {
                "configMap": self.config_map.metadata["name"] if self.config_map else None,
                "tokenSecret": self.token_secret.metadata["name"] if self.token_secret else None,
            }
        )


class RunnerFleet(pulumi.ComponentResource):
    """One runner fleet: its Deployment and, when enabled, its egress NetworkPolicy, built from
    the runner config and the shared wiring."""

    deployment: KubernetesObject
    network_policy: KubernetesObject | None

    def __init__(
        self,
        name: str,
        runner: RunnerConfig,
        wiring: pulumi.Input[dict[str, Any]],
        provider: k8s.Provider,
        provider_config: ProviderConfig,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # The type string is the one the first stacks were deployed with: it is part of every
        # child's URN, so a new one would make Pulumi plan a create-then-delete of the live
        # Deployment (with upsert, the delete removes the adopted fleet). Keep it.
        super().__init__(FLEET_TYPE, name, None, opts)
        # Known from the config alone, so shown at preview even when the wiring is not.
        for warning in shared_home_warnings(runner):
            pulumi.log.warn(warning, resource=self)
        # The wiring arrives from a StackReference, so the manifests are known only as an Output;
        # both come from one apply, so bad wiring stops them both before either is registered.
        manifests: pulumi.Output[list[Manifest]] = pulumi.Output.from_input(wiring).apply(
            lambda w: or_run_error(lambda: runner_manifests(runner, read_wiring(w)))
        )
        child = _child_options(self, provider, provider_config)

        def register(kind: Kind, name: str, index: int) -> KubernetesObject:
            manifest = manifests.apply(lambda ms: ms[index])
            return KubernetesObject(
                name,
                kind,
                {
                    "metadata": manifest.apply(
                        lambda m: _metadata_for_provider(m, provider_config)
                    ),
                    "spec": _part(manifest, "spec"),
                },
                child,
            )

        self.deployment = register(DEPLOYMENT, runner.name, 0)
        self.network_policy = None
        if runner.network_policy.enabled:
            self.network_policy = register(NETWORK_POLICY, runner.network_policy_name, 1)
        self.register_outputs(
            {
                "name": self.deployment.metadata["name"],
                "namespace": self.deployment.metadata["namespace"],
            }
        )
