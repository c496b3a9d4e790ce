"""Egress lock-down of a runner fleet: the NetworkPolicy that lets a runner reach only DNS, HTTPS
on the internet and the in-cluster services it needs (by default the MCP services the shared
stack found in the codex config, see ``wiring.mcp_services``).

Pure functions, like the other builders: the render and the Pulumi component share them.
"""

from __future__ import annotations

from typing import Any

from runner_k8s.config.runner import RunnerConfig
from runner_k8s.config.runner_egress import InClusterService
from runner_k8s.kube.objects import NETWORK_POLICY, Manifest, object_metadata
from runner_k8s.wiring import SharedWiring

# The node's metadata server: it hands out the node's credentials, so never reachable from a job.
METADATA_SERVER = "169.254.169.254/32"
# The label every namespace carries with its own name (set by the API server since 1.22).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
# Where the cluster DNS pods run and how they are labelled (kube-dns, as on GKE).
KUBE_DNS_NAMESPACE = "kube-system"
KUBE_DNS_PODS = {"k8s-app": "kube-dns"}


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


def runner_network_policy(runner: RunnerConfig, wiring: SharedWiring) -> Manifest | None:
    """The fleet's egress NetworkPolicy, or None while ``networkPolicy.enabled`` is false.
    It selects exactly the Deployment's pods (its selector labels) and denies all ingress."""
    if not runner.network_policy.enabled:
        return None
    labels = runner.selector_labels
    return {
        **NETWORK_POLICY.type_meta(),
        "metadata": object_metadata(runner.network_policy_name, wiring.namespace, dict(labels)),
        "spec": {
            "podSelector": {"matchLabels": dict(labels)},
            "policyTypes": ["Ingress", "Egress"],
            "egress": egress_rules(runner, wiring),
        },
    }
