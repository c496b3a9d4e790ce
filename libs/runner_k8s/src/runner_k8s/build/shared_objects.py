"""Pure builders of what the shared stack creates: the codex ConfigMap and the registration
token Secret. No Pulumi calls here."""

from __future__ import annotations

from runner_k8s.config.shared import SharedConfig
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.kube.objects import CONFIG_MAP, SECRET, Manifest, object_metadata
from runner_k8s.wiring import codex_config_data, github_token_data

# Marks the one Secret the stacks create, so the policy pack can tell it from a Secret that
# belongs to the cluster (which the stacks must only reference).
REGISTRATION_TOKEN_LABEL = ("app.kubernetes.io/component", "runner-registration-token")


def codex_config_map(shared: SharedConfig) -> Manifest | None:
    data = codex_config_data(shared)
    if data is None:
        return None
    return {
        **CONFIG_MAP.type_meta(),
        "metadata": object_metadata(shared.codex_config.name, shared.namespace),
        "data": data,
    }


def github_token_secret(shared: SharedConfig, token: object = SECRET_MARKER) -> Manifest:
    """The Secret made from ``githubToken``. ``token`` is whatever stands for the value: a Pulumi
    secret Output in the program, the marker in the offline render, the decrypted ``str`` when
    only its payload's digest is wanted."""
    ref = shared.secret_refs.managed_token
    key, value = REGISTRATION_TOKEN_LABEL
    return {
        **SECRET.type_meta(),
        "metadata": object_metadata(ref.name, shared.namespace, {key: value}),
        "type": "Opaque",
        "stringData": github_token_data(shared, token),
    }


def shared_manifests(shared: SharedConfig) -> list[Manifest]:
    """What the shared stack creates, as the offline render shows it."""
    manifests: list[Manifest] = []
    config_map = codex_config_map(shared)
    if config_map is not None:
        manifests.append(config_map)
    if shared.github_token is not None:
        manifests.append(github_token_secret(shared))
    return manifests
