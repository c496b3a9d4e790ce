"""Egress lock-down of a runner fleet: the in-cluster MCP services the codex config names, and
the NetworkPolicy that lets a runner reach only DNS, HTTPS on the internet and those services.

Pure functions, like the other builders: the render and the Pulumi component share them.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from typing import Any
from urllib.parse import urlsplit

from .config import InClusterService, McpService, RunnerConfig, SharedWiring

# The node's metadata server: it hands out the node's credentials, so never reachable from a job.
METADATA_SERVER = "169.254.169.254/32"
# The label every namespace carries with its own name (set by the API server since 1.22).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Where the cluster DNS pods run and how they are labelled (kube-dns, as on GKE).
KUBE_DNS_NAMESPACE = "kube-system"
KUBE_DNS_PODS = {"k8s-app": "kube-dns"}

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


def default_services(runner: RunnerConfig, wiring: SharedWiring) -> list[InClusterService]:
    """The MCP services of the codex config, for a fleet that mounts it. A NetworkPolicy selects
    pods, not Services, so this assumes what the mcp-github manifest does: the Service selects
    pods labelled ``app: <service name>`` and its port is the container port. Anything else is
    listed in ``networkPolicy.inClusterServices`` instead."""
    codex = wiring.codex_config_map
    if runner.codex_config_mount is None or codex is None:
        return []
    return [
        InClusterService(
            pod_selector={"app": s.service},
            port=s.port,
            namespace=None if s.namespace == wiring.namespace else s.namespace,
        )
        for s in codex.mcp_services or []
    ]


def _peer(namespace: str | None, pods: dict[str, str]) -> dict[str, Any]:
    peer: dict[str, Any] = {"podSelector": {"matchLabels": dict(pods)}}
    if namespace is not None:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    return peer


def egress_rules(runner: RunnerConfig, wiring: SharedWiring) -> list[dict[str, Any]]:
    policy = runner.network_policy
    services = policy.in_cluster_services
    if services is None:
        services = default_services(runner, wiring)
    rules: list[dict[str, Any]] = [
        {
            "to": [_peer(KUBE_DNS_NAMESPACE, KUBE_DNS_PODS)],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {
            "to": [
                {
                    "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": [METADATA_SERVER, *policy.private_ranges],
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": 443}],
        },
    ]
    rules += [
        {
            "to": [_peer(s.namespace, s.pod_selector)],
            "ports": [{"protocol": s.protocol, "port": s.port}],
        }
        for s in services
    ]
    rules += [rule.model_dump(by_alias=True, exclude_none=True) for rule in policy.extra_egress]
    return rules


def runner_network_policy(runner: RunnerConfig, wiring: SharedWiring) -> dict[str, Any] | None:
    """The fleet's egress NetworkPolicy, or None while ``networkPolicy.enabled`` is false.
    It selects exactly the Deployment's pods (its selector labels) and denies all ingress."""
    if not runner.network_policy.enabled:
        return None
    labels = runner.selector_labels
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": runner.network_policy_name,
            "namespace": wiring.namespace,
            "labels": dict(labels),
        },
        "spec": {
            "podSelector": {"matchLabels": dict(labels)},
            "policyTypes": ["Ingress", "Egress"],
            "egress": egress_rules(runner, wiring),
        },
    }
