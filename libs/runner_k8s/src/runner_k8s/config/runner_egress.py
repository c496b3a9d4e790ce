"""A runner's egress settings (``runner.networkPolicy``): in-cluster destinations, extra rules in
Kubernetes shape, and the policy's switches.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from runner_k8s.config.fields import DnsLabel, DnsSubdomain, Ipv4Cidr, LabelKey, LabelValue, Port
from runner_k8s.config.model import Model
from runner_k8s.kube.network_policy import PEER_SCHEMA, PORT_SCHEMA


class InClusterService(Model):
    """An in-cluster destination, as a NetworkPolicy sees it: the pods behind a Service, on their
    container port (Service IPs are translated to pod IPs before policy applies)."""

    pod_selector: Annotated[dict[LabelKey, LabelValue], Field(min_length=1)]  # matchLabels
    """`matchLabels` of the pods behind the Service (a NetworkPolicy selects pods, not Services); at
    least one label.
    """
    port: Port
    """The pods' container port (not the Service port), 1 to 65535."""
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    """Protocol of that port."""
    namespace: DnsLabel | None = None  # None: the runner's own namespace
    """Namespace of those pods (a `namespaceSelector` on `kubernetes.io/metadata.name`); unset: the
    runner's own namespace.
    """


# RFC 1918: node, pod and Service ranges of a default GKE VPC-native cluster, and the VPC itself.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def _items(schema: dict[str, Any]) -> Any:
    """The JSON Schema of a list's items, for a list of plain dicts (schema only)."""
    return Field(json_schema_extra={"items": schema})


def schema_without(schema: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in keys}


class EgressRule(Model):
    # One NetworkPolicyEgressRule, passed through in Kubernetes shape: checked by the loader
    # against the API's OpenAPI schema and the API server's own rules (kube.network_policy).
    # An absent `to` or `ports` means "any", as in Kubernetes.
    to: Annotated[list[dict[str, Any]], _items(PEER_SCHEMA)] | None = None
    """`egress[].to` peers (`ipBlock`, `podSelector`, `namespaceSelector`), Kubernetes shape; each
    `ipBlock.except` must lie strictly inside its `cidr`; unset: any destination.
    """
    ports: Annotated[list[dict[str, Any]], _items(PORT_SCHEMA)] | None = None
    """`egress[].ports` (`{protocol, port, endPort}`), Kubernetes shape: protocol `TCP`, `UDP` or
    `SCTP`, port a number 1 to 65535 or a port name, endPort from port to 65535 (numbers only);
    unset: any port.
    """


class NetworkPolicyConfig(Model):
    """Egress lock-down of one fleet: DNS, HTTPS to the internet, and named in-cluster services."""

    enabled: bool = False
    """Create the NetworkPolicy: ingress denied, egress only to cluster DNS, TCP 443 on the internet
    and the listed in-cluster services. Only enforced where the cluster enforces NetworkPolicy.
    """
    name: DnsSubdomain | None = None  # None: <runner name>-egress
    """`metadata.name` of the NetworkPolicy; unset: `<runner.name>-egress`."""
    # Cut out of the internet rule, with the node metadata server.
    private_ranges: list[Ipv4Cidr] = list(PRIVATE_RANGES)
    """IPv4 CIDRs cut out of the internet rule (`ipBlock.except` of `0.0.0.0/0`, with the metadata
    server 169.254.169.254/32), so each strictly inside it (not `0.0.0.0/0` itself); default
    RFC 1918. Add every cluster or VPC range outside it.
    """
    # None: the in-cluster MCP services the mounted codex config names (none without the mount).
    in_cluster_services: list[InClusterService] | None = None
    """In-cluster destinations allowed; unset: the in-cluster MCP servers the mounted codex config
    names (none without `codexConfigMount`); `[]`: none.
    """
    extra_egress: list[EgressRule] = []
    """More `egress` rules appended as written (`{to, ports}`), for what workflows need beyond
    HTTPS.
    """
