"""The loader's NetworkPolicy rules (runner_k8s.kube.network_policy, ported from Kubernetes'
validation code) against the real kube-apiserver of the pinned release: for each egress rule,
the API server accepts it exactly when the loader finds no problem in it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gh_runner_harness.control_plane import ControlPlane
from runner_k8s.kube.network_policy import egress_rule_problems

pytestmark = pytest.mark.cluster


def _rule(to: list[dict[str, Any]] | None = None, ports: list[Any] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if to is not None:
        rule["to"] = to
    if ports is not None:
        rule["ports"] = ports
    return rule


def _block(cidr: str, *excepts: str) -> dict[str, Any]:
    block: dict[str, Any] = {"cidr": cidr}
    if excepts:
        block["except"] = list(excepts)
    return {"ipBlock": block}


EGRESS_RULES: list[tuple[str, dict[str, Any]]] = [
    ("https", _rule([_block("0.0.0.0/0", "10.0.0.0/8")], [{"protocol": "TCP", "port": 443}])),
    ("udp dns", _rule(ports=[{"protocol": "UDP", "port": 53}])),
    ("sctp", _rule(ports=[{"protocol": "SCTP", "port": 9}])),
    ("icmp", _rule(ports=[{"protocol": "ICMP"}])),
    ("lowercase tcp", _rule(ports=[{"protocol": "tcp", "port": 443}])),
    ("port 0", _rule(ports=[{"port": 0}])),
    ("port 65536", _rule(ports=[{"port": 65536}])),
    ("port range", _rule(ports=[{"port": 8000, "endPort": 8080}])),
    ("port range of one", _rule(ports=[{"port": 8000, "endPort": 8000}])),
    ("reversed range", _rule(ports=[{"port": 8080, "endPort": 8000}])),
    ("range past 65535", _rule(ports=[{"port": 8080, "endPort": 65536}])),
    ("endPort alone", _rule(ports=[{"endPort": 8080}])),
    ("named port", _rule(ports=[{"port": "https"}])),
    ("named port range", _rule(ports=[{"port": "https", "endPort": 500}])),
    ("quoted number", _rule(ports=[{"port": "443"}])),
    ("port name with --", _rule(ports=[{"port": "my--port"}])),
    ("port name of 16", _rule(ports=[{"port": "abcdefghijklmnop"}])),
    ("cidr", _rule([_block("10.0.0.0/8")])),
    ("not a cidr", _rule([_block("not-a-cidr")])),
    ("no prefix length", _rule([_block("10.0.0.1")])),
    ("netmask", _rule([_block("10.0.0.0/255.0.0.0")])),
    ("prefix 33", _rule([_block("10.0.0.0/33")])),
    ("host bits", _rule([_block("10.1.2.3/8")])),
    ("leading zeros", _rule([_block("010.000.0.0/08")])),
    ("ipv6", _rule([_block("2001:db8::/32", "2001:db8:1::/48")])),
    ("ipv6 zone", _rule([_block("fe80::1%eth0/64")])),
    ("except equal", _rule([_block("0.0.0.0/0", "0.0.0.0/0")])),
    ("except equal, other spelling", _rule([_block("10.0.0.0/8", "10.1.2.3/8")])),
    ("except wider", _rule([_block("10.0.0.0/16", "10.0.0.0/8")])),
    ("except outside", _rule([_block("10.0.0.0/8", "192.168.0.0/16")])),
    ("except other family", _rule([_block("0.0.0.0/0", "::/1")])),
    ("except host bits", _rule([_block("10.0.0.0/8", "10.1.2.3/16")])),
    ("except not a cidr", _rule([_block("10.0.0.0/8", "nope")])),
    ("private ranges 0/0", _rule([_block("0.0.0.0/0", "169.254.169.254/32", "0.0.0.0/0")])),
    ("empty peer", _rule([{}])),
    ("ipBlock and podSelector", _rule([{**_block("10.0.0.0/8"), "podSelector": {}}])),
    ("pod and namespace selector", _rule([{"podSelector": {}, "namespaceSelector": {}}])),
    ("bad label key", _rule([{"podSelector": {"matchLabels": {"-x": "y"}}}])),
    ("bad label value", _rule([{"podSelector": {"matchLabels": {"x": "y y"}}}])),
    (
        "In without values",
        _rule([{"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}]),
    ),
    (
        "Exists with values",
        _rule(
            [
                {
                    "namespaceSelector": {
                        "matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]
                    }
                }
            ]
        ),
    ),
    (
        "unknown operator",
        _rule([{"podSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]}}]),
    ),
]


@pytest.fixture(scope="module")
def policy_namespace(control_plane: ControlPlane) -> str:
    name = "netpol-rules"
    document = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    result = control_plane.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(document))
    assert result.returncode == 0, result.stderr
    return name


@pytest.mark.parametrize("rule", [r for _, r in EGRESS_RULES], ids=[n for n, _ in EGRESS_RULES])
def test_the_loader_refuses_what_the_api_server_refuses(
    control_plane: ControlPlane, policy_namespace: str, rule: dict[str, Any]
) -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "case", "namespace": policy_namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]},
    }
    created = control_plane.kubectl(
        "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(policy)
    )
    problems = egress_rule_problems([rule], "extraEgress")
    assert (created.returncode == 0) == (problems == []), (created.stderr, problems)
