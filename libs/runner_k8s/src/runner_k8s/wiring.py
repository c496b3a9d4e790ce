"""The contract between the shared stack and the runner stacks: the ``wiring`` output.

The shared stack builds it (``build_wiring``) and exports it; each runner stack reads it back
through its StackReference (``read_wiring``) and checks that its fleet fits it
(``check_fleet_wiring``). A wiring exported by an older gh-runner lacks the newer keys: those are
optional here, and the checks ask for a `pulumi up` of the shared stack only when a fleet needs
one of them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from runner_k8s.config.fields import DnsLabel
from runner_k8s.config.model import Model
from runner_k8s.config.runner import RunnerConfig
from runner_k8s.config.shared import SecretKeyRef, SharedConfig
from runner_k8s.errors import ConfigError, from_validation_error
from runner_k8s.kube.env_names import GITHUB_PAT, GITHUB_TOKEN, GITHUB_URL
from runner_k8s.kube.markers import DEPLOY_TIME_MARKER, SECRET_MARKER

# --- the contract ------------------------------------------------------------------------------


class EnvVarSource(Model):
    secret_key_ref: SecretKeyRef


class EnvVar(Model):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class McpService(Model):
    """An MCP server of the codex config whose URL names a Service in this cluster."""

    server: str  # its table name, [mcp_servers.<server>]
    service: str
    namespace: str
    port: int  # from the URL: the Service port


class ConfigMapRef(Model):
    name: str
    key: str
    # None in the output of a shared stack updated before gh-runner derived it.
    mcp_services: list[McpService] | None = None


class RolloutDigests(Model):
    """Digests of the payloads the shared stack manages, for runner.rolloutOnConfigChange."""

    codex_config_sha256: str | None = None  # None: no codex ConfigMap
    # SHA-256 of the registration Secret's data (githubToken). None: the stack manages no such
    # Secret.
    github_token_sha256: str | None = None


class SharedWiring(Model):
    """The shared stack's ``wiring`` output, read by every runner stack via StackReference."""

    namespace: DnsLabel
    github_env: list[EnvVar]
    codex_config_map: ConfigMapRef | None = None
    # None in the output of a shared stack updated before gh-runner exported digests.
    rollout_digests: RolloutDigests | None = None

    def as_stack_output(self) -> dict[str, Any]:
        """Plain data for ``pulumi.export``, digests included: never a secret."""
        return self.model_dump(by_alias=True, exclude_none=True)


# --- building it (the shared stack) ------------------------------------------------------------

# <service>.<namespace>.svc[.cluster.local]; a bare <service> is in the shared namespace.
_SERVICE_HOST = re.compile(r"^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\.?$")
_SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _in_cluster(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) for a host that can only be a Service of this cluster. A two-label
    host such as ``mcp.tools`` is left out: the resolver might find it inside or outside."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if _SERVICE_NAME.match(host):
        return host, namespace
    match = _SERVICE_HOST.match(host)
    return (match[1], match[2]) if match else None


def mcp_services(config_toml: str, namespace: str) -> list[McpService]:
    """The ``[mcp_servers.*]`` entries whose ``url`` names a Service of this cluster."""
    servers = tomllib.loads(config_toml).get("mcp_servers", {})
    found = []
    for server, table in servers.items() if isinstance(servers, dict) else ():
        url = table.get("url") if isinstance(table, dict) else None
        if not isinstance(url, str):
            continue  # a stdio server (command = ...) opens no connection
        parts = urlsplit(url)
        try:
            port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
        except ValueError:
            continue
        target = _in_cluster((parts.hostname or "").lower(), namespace)
        if target is not None and port is not None:
            found.append(
                McpService(server=server, service=target[0], namespace=target[1], port=port)
            )
    return found


def _canonical(data: Mapping[str, str]) -> bytes:
    # The payload only (a ConfigMap's or Secret's data), never its name or namespace: moving the
    # object is not a change of what the runner reads.
    return json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode()


def codex_config_data(shared: SharedConfig) -> dict[str, str] | None:
    """The codex ConfigMap's data, or None when the shared stack creates no ConfigMap."""
    codex = shared.codex_config
    if not codex.enabled or codex.config_toml is None:
        return None
    return {codex.key: codex.config_toml}


def github_token_data(shared: SharedConfig, token: Any) -> dict[str, Any]:
    """The registration Secret's stringData; ``token`` is whatever stands for the value."""
    return {shared.secret_refs.managed_token.key: token}


def payload_sha256(data: Mapping[str, str]) -> str:
    return hashlib.sha256(_canonical(data)).hexdigest()


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
    return payload_sha256(github_token_data(shared, token))


def _from_secret(name: str, ref: SecretKeyRef) -> EnvVar:
    return EnvVar(name=name, value_from=EnvVarSource(secret_key_ref=ref))


def build_wiring(shared: SharedConfig) -> SharedWiring:
    """Namespace, GitHub credentials and the codex ConfigMap, as the runner stacks consume them,
    with the digests that roll them."""
    refs = shared.secret_refs
    if shared.github_repo is not None:
        url = EnvVar(name=GITHUB_URL, value=f"{shared.github_url.rstrip('/')}/{shared.github_repo}")
    else:
        url = _from_secret(GITHUB_URL, refs.github_url)
    pat_ref = refs.managed_token if shared.github_token is not None else refs.github_pat
    codex = shared.codex_config
    config_data = codex_config_data(shared)
    return SharedWiring(
        namespace=shared.namespace,
        github_env=[
            url,
            _from_secret(GITHUB_PAT, pat_ref),
            *([] if refs.mcp_token is None else [_from_secret(GITHUB_TOKEN, refs.mcp_token)]),
        ],
        codex_config_map=ConfigMapRef(
            name=codex.name,
            key=codex.key,
            mcp_services=mcp_services(codex.config_toml or "", shared.namespace),
        )
        if codex.enabled
        else None,
        rollout_digests=RolloutDigests(
            codex_config_sha256=payload_sha256(config_data) if config_data else None,
            github_token_sha256=github_token_sha256(shared),
        ),
    )


# --- reading and checking it (a runner stack) --------------------------------------------------


def read_wiring(value: Any) -> SharedWiring:
    """The shared stack's ``wiring`` output as read back through a StackReference (None: the
    stack exports none, e.g. it was destroyed)."""
    if value is None:
        raise ConfigError.at(
            "sharedStack",
            "the shared stack exports no wiring (it was destroyed, or never updated by "
            "gh-runner); run `pulumi up` in the shared stack before this one",
        )
    try:
        # Lax: an output comes back through the engine as JSON, its integers as floats (8080.0).
        return SharedWiring.model_validate(value, strict=False)
    except ValidationError as exc:
        raise ConfigError(
            [f"sharedStack: its {p}" for p in from_validation_error(exc, "wiring").problems]
            + ["sharedStack: update the shared stack (`pulumi up` there) before this one"]
        ) from None


def check_fleet_wiring(runner: RunnerConfig, wiring: SharedWiring, at: str = "runner") -> list[str]:
    """Rules between a fleet and what its shared stack provides."""
    problems = []
    if runner.codex_config_mount is not None and wiring.codex_config_map is None:
        problems.append(
            f"{at}.codexConfigMount: the shared stack has no codex ConfigMap "
            "(codexConfig.enabled is false there); remove this mount or enable codexConfig in "
            "the shared stack"
        )
    elif (
        runner.codex_config_mount is not None
        and wiring.codex_config_map is not None
        and runner.codex_config_mount.key != wiring.codex_config_map.key
    ):
        # A subPath to a missing key: the kubelet creates an empty directory where codex
        # expects its config.toml.
        problems.append(
            f"{at}.codexConfigMount.key: {runner.codex_config_mount.key!r} is not a key of the "
            f"shared ConfigMap {wiring.codex_config_map.name} (its key is "
            f"{wiring.codex_config_map.key!r}, codexConfig.key in the shared stack)"
        )
    if runner.rollout_on_config_change and wiring.rollout_digests is None:
        problems.append(
            f"{at}.rolloutOnConfigChange: the shared stack's wiring has no rolloutDigests yet "
            "(it was last updated by an older gh-runner); run `pulumi up` in the shared stack "
            "first"
        )
    policy = runner.network_policy
    if (
        policy.enabled
        and policy.in_cluster_services is None
        and runner.codex_config_mount is not None
        and wiring.codex_config_map is not None
        and wiring.codex_config_map.mcp_services is None
    ):
        problems.append(
            f"{at}.networkPolicy.inClusterServices: defaults to the MCP services of the codex "
            "config, which the shared stack's wiring does not list yet; run `pulumi up` in the "
            "shared stack first (or list them here)"
        )
    return problems
