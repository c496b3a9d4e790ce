"""The egress NetworkPolicy (egress.py), and the MCP services the shared stack derives for it
from the codex config (wiring.mcp_services)."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import codex_shared, runner_error, runner_values

from runner_k8s.build.fleet import runner_manifests
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig
from runner_k8s.errors import ConfigError
from runner_k8s.kube.objects import Manifest
from runner_k8s.wiring import McpService, SharedWiring, build_wiring, mcp_services, read_wiring

MCP_GITHUB = McpService(server="github-mcp", service="mcp-github", namespace="ns", port=8080)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://mcp-github:8080/mcp/", [MCP_GITHUB]),
        ("http://MCP-GitHub:8080/", [MCP_GITHUB]),
        ("http://mcp-github.tools.svc:9000/", [("mcp-github", "tools", 9000)]),
        ("http://mcp-github.tools.svc.cluster.local/", [("mcp-github", "tools", 80)]),
        ("https://mcp-github/", [("mcp-github", "ns", 443)]),
        ("https://api.githubcopilot.com/mcp/", []),  # the internet: the 443 rule covers it
        ("http://mcp-github.tools:8080/", []),  # two labels: maybe in the cluster, maybe not
        ("http://10.1.2.3:8080/", []),
        ("http://mcp-github:notaport/", []),
    ],
)
def test_mcp_services_derived_from_the_codex_toml(url: str, expected: list[Any]) -> None:
    toml = f'[mcp_servers.github-mcp]\nurl = "{url}"\n'
    found = mcp_services(toml, "ns")
    assert [(s.service, s.namespace, s.port) for s in found] == [
        e if isinstance(e, tuple) else (e.service, e.namespace, e.port) for e in expected
    ]


def test_stdio_mcp_servers_and_other_tables_are_skipped() -> None:
    toml = '[mcp_servers.local]\ncommand = "npx"\n[mcp_servers.remote]\nurl = "http://a:1/"\n'
    assert [s.server for s in mcp_services(toml, "ns")] == ["remote"]
    assert mcp_services('model = "x"\n', "ns") == []


def test_the_shared_wiring_lists_the_mcp_services() -> None:
    wiring = build_wiring(codex_shared())
    assert wiring.codex_config_map is not None
    assert wiring.codex_config_map.mcp_services == [MCP_GITHUB]


def policy_of(shared: SharedConfig, **runner: Any) -> Manifest:
    manifests = runner_manifests(
        load_runner_stack(runner_values(**runner)).runner, build_wiring(shared)
    )
    assert [m["kind"] for m in manifests] == ["Deployment", "NetworkPolicy"]
    return manifests[1]


DNS_RULE = {
    "to": [
        {
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}
HTTPS_RULE = {
    "to": [
        {
            "ipBlock": {
                "cidr": "0.0.0.0/0",
                "except": [
                    "169.254.169.254/32",
                    "10.0.0.0/8",
                    "172.16.0.0/12",
                    "192.168.0.0/16",
                ],
            }
        }
    ],
    "ports": [{"protocol": "TCP", "port": 443}],
}
MCP_RULE = {
    "to": [{"podSelector": {"matchLabels": {"app": "mcp-github"}}}],
    "ports": [{"protocol": "TCP", "port": 8080}],
}


def test_the_policy_for_a_fleet_that_mounts_the_codex_config() -> None:
    policy = policy_of(codex_shared(), networkPolicy={"enabled": True}, codexConfigMount={})
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["metadata"] == {
        "name": "codex-gh-runner-egress",
        "namespace": "ns",
        "labels": {"app": "codex-gh-runner"},
    }
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "codex-gh-runner"}},
        "policyTypes": ["Ingress", "Egress"],
        "egress": [DNS_RULE, HTTPS_RULE, MCP_RULE],
    }


def test_the_policy_selects_exactly_the_deployments_pods() -> None:
    runner = load_runner_stack(runner_values(networkPolicy={"enabled": True})).runner
    deployment, policy = runner_manifests(runner, build_wiring(codex_shared()))
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["podSelector"] == {"matchLabels": selector}
    assert deployment["spec"]["template"]["metadata"]["labels"] == selector


def test_a_fleet_without_the_codex_config_gets_no_mcp_rule() -> None:
    policy = policy_of(codex_shared(), networkPolicy={"enabled": True})
    assert policy["spec"]["egress"] == [DNS_RULE, HTTPS_RULE]


def test_off_by_default() -> None:
    runner = load_runner_stack(runner_values(codexConfigMount={})).runner
    assert [m["kind"] for m in runner_manifests(runner, build_wiring(codex_shared()))] == [
        "Deployment"
    ]


def test_explicit_services_ranges_name_and_extra_rules() -> None:
    extra = {"to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}], "ports": [{"port": 22}]}
    policy = policy_of(
        codex_shared(),
        codexConfigMount={},
        networkPolicy={
            "enabled": True,
            "name": "codex-lockdown",
            "privateRanges": ["10.0.0.0/8", "100.64.0.0/10"],
            "inClusterServices": [
                {"podSelector": {"app": "cache"}, "port": 6379, "namespace": "infra"}
            ],
            "extraEgress": [extra, {"ports": [{"protocol": "TCP", "port": 80}]}],
        },
    )
    assert policy["metadata"]["name"] == "codex-lockdown"
    [dns, https, cache, *rest] = policy["spec"]["egress"]
    assert dns == DNS_RULE
    assert https["to"][0]["ipBlock"]["except"] == [
        "169.254.169.254/32",
        "10.0.0.0/8",
        "100.64.0.0/10",
    ]
    assert cache == {
        "to": [
            {
                "podSelector": {"matchLabels": {"app": "cache"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "infra"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 6379}],
    }
    assert rest == [extra, {"ports": [{"protocol": "TCP", "port": 80}]}]


def test_an_empty_service_list_drops_the_derived_mcp_rule() -> None:
    policy = policy_of(
        codex_shared(),
        codexConfigMount={},
        networkPolicy={"enabled": True, "inClusterServices": []},
    )
    assert policy["spec"]["egress"] == [DNS_RULE, HTTPS_RULE]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            {"privateRanges": ["10.0.0.0/33"]},
            "runner.networkPolicy.privateRanges[0]: '10.0.0.0/33'",
        ),
        ({"privateRanges": ["fd00::/8"]}, "runner.networkPolicy.privateRanges[0]: 'fd00::/8' must"),
        ({"name": "Bad_Name"}, "runner.networkPolicy.name: 'Bad_Name' is not a DNS-1123"),
        (
            {"inClusterServices": [{"podSelector": {"app": "x"}, "port": 0}]},
            "runner.networkPolicy.inClusterServices[0].port: must be >= 1",
        ),
        (
            {"inClusterServices": [{"podSelector": {}, "port": 80}]},
            "runner.networkPolicy.inClusterServices[0].podSelector:",
        ),
        ({"extraEgress": [{"port": 22}]}, "runner.networkPolicy.extraEgress[0].port: unknown key"),
        ({"enable": True}, "runner.networkPolicy.enable: unknown key"),
    ],
)
def test_bad_network_policy_values_name_their_key(policy: dict[str, Any], expected: str) -> None:
    assert expected in runner_error(networkPolicy=policy)


def old_wiring(shared: SharedConfig) -> SharedWiring:
    """The wiring of a shared stack last updated before the MCP services were derived."""
    output = build_wiring(shared).as_stack_output()
    del output["codexConfigMap"]["mcpServices"]
    return read_wiring(output)


def test_old_shared_wiring_cannot_supply_the_default_services() -> None:
    runner = load_runner_stack(
        runner_values(codexConfigMount={}, networkPolicy={"enabled": True})
    ).runner
    with pytest.raises(ConfigError) as caught:
        runner_manifests(runner, old_wiring(codex_shared()))
    message = str(caught.value)
    assert message.startswith("runner.networkPolicy.inClusterServices: defaults to the MCP")
    assert "`pulumi up` in the shared stack first" in message
    # Listing them explicitly, or not enabling the policy, needs nothing new from it.
    explicit = runner.model_copy(
        update={
            "network_policy": runner.network_policy.model_copy(update={"in_cluster_services": []})
        }
    )
    assert len(runner_manifests(explicit, old_wiring(codex_shared()))) == 2
    off = load_runner_stack(runner_values(codexConfigMount={})).runner
    assert len(runner_manifests(off, old_wiring(codex_shared()))) == 1
