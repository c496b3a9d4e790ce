"""The opt-in hardening beyond the baseline, at the library level: labels and image versions,
the shared-home warning, the egress NetworkPolicy and the config-rollout annotations."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import runner_values

from runner_k8s.config import SharedConfig, load_runner_stack, load_shared, shared_home_warnings
from runner_k8s.errors import ConfigError
from runner_k8s.images import parse_image, runner_version
from runner_k8s.manifests import runner_deployment, runner_manifests
from runner_k8s.markers import DEPLOY_TIME_MARKER, SECRET_MARKER
from runner_k8s.objects import Manifest
from runner_k8s.rollout import CODEX_CONFIG_ANNOTATION, GITHUB_TOKEN_ANNOTATION
from runner_k8s.wiring import (
    McpService,
    SharedWiring,
    build_wiring,
    mcp_services,
    payload_sha256,
    read_wiring,
)

DIGEST = "sha256:" + "ab" * 32


def deployment(shared: SharedConfig, **runner: Any) -> Manifest:
    return runner_deployment(
        load_runner_stack(runner_values(**runner)).runner, build_wiring(shared)
    )


def pod(manifest: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def runner_error(**runner: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_runner_stack(runner_values(**runner))
    return str(caught.value)


# --- labels and versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([""], "runner.labels[0]: must not be empty"),
        (["ok", "two words"], "runner.labels[1]: 'two words' must not contain whitespace"),
        (["tab\there"], "runner.labels[0]: 'tab\\there' must not contain whitespace"),
        (["a,b"], "runner.labels[0]: 'a,b' must not contain ','"),
        (
            ["gpu", "x", "GPU"],
            "runner.labels[2]: duplicate label 'GPU' (also runner.labels[0]; "
            "GitHub compares labels case-insensitively)",
        ),
        (["Self-Hosted"], "runner.labels[0]: 'Self-Hosted' is a label GitHub gives every"),
    ],
)
def test_bad_labels_name_their_index(labels: list[str], expected: str) -> None:
    assert expected in runner_error(labels=labels)


def test_runs_on_puts_self_hosted_first() -> None:
    runner = load_runner_stack(runner_values(labels=["gemini-2.5-flash", "gemini-2.5-pro"])).runner
    assert runner.runs_on == ["self-hosted", "gemini-2.5-flash", "gemini-2.5-pro"]
    assert load_runner_stack(runner_values()).runner.runs_on == ["self-hosted"]


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("ghcr.io/spigell/codex-github-runner:2.329.0-7e2153", (2, 329, 0)),
        ("ghcr.io/x/runner:v2.330.1", (2, 330, 1)),
        ("registry:5000/runner:2.1.0", (2, 1, 0)),
        ("ghcr.io/x/runner:2.329.0-7e2153@" + DIGEST, None),  # the digest wins, the tag is moot
        ("ghcr.io/x/runner@" + DIGEST, None),
        ("ghcr.io/x/runner:main", None),
        ("ghcr.io/x/runner:2.329", None),
        ("ghcr.io/x/runner:2.329.0.1", None),
    ],
)
def test_runner_version_from_the_tag(image: str, version: tuple[int, int, int] | None) -> None:
    assert runner_version(image) == version


def test_a_registry_port_is_not_a_tag() -> None:
    ref = parse_image("registry:5000/runner")
    assert (ref.repository, ref.tag, ref.digest) == ("registry:5000/runner", None, None)


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/x/runner", "ghcr.io/x/runner:latest", "registry:5000/runner"],
)
def test_unpinned_images_are_refused(image: str) -> None:
    message = runner_error(image=image)
    assert message.startswith(f"runner.image: {image!r} is not pinned")
    assert "@sha256:" in message


@pytest.mark.parametrize(
    "image", ["ghcr.io/x/runner@" + DIGEST, "ghcr.io/x/runner:latest@" + DIGEST]
)
def test_a_digest_pins_even_without_a_tag(image: str) -> None:
    assert load_runner_stack(runner_values(image=image, minRunnerVersion="2.329.0"))


def test_a_malformed_digest_is_refused() -> None:
    assert runner_error(image="ghcr.io/x/runner@sha256:abc").startswith(
        "runner.image: the digest after '@' must be sha256: and 64 hex digits"
    )


def test_a_tag_below_the_minimum_runner_version_stops_with_the_reason() -> None:
    message = runner_error(image="ghcr.io/x/runner:2.328.9-abc", minRunnerVersion="2.329.0")
    assert message.startswith(
        "runner.image: runner 2.328.9 (from the tag) is below runner.minRunnerVersion 2.329.0"
    )
    assert "RUNNER_DISABLE_UPDATES=1" in message
    assert "stops receiving jobs once GitHub deprecates its version" in message


@pytest.mark.parametrize("tag", ["2.329.0-7e2153", "2.329.1", "3.0.0", "v2.400.0"])
def test_a_tag_at_or_above_the_minimum_passes(tag: str) -> None:
    runner = load_runner_stack(
        runner_values(image=f"ghcr.io/x/runner:{tag}", minRunnerVersion="2.329.0")
    ).runner
    assert runner.min_runner_version == "2.329.0"


def test_a_minimum_needs_a_tag_that_names_a_version() -> None:
    message = runner_error(image="ghcr.io/x/runner:main", minRunnerVersion="2.329.0")
    assert message.startswith("runner.image: tag 'main' names no runner version")
    assert "runner.minRunnerVersion (2.329.0) cannot be checked" in message


@pytest.mark.parametrize("value", ["2.329", "v2.329.0", "latest", ""])
def test_bad_minimum_runner_version(value: str) -> None:
    assert runner_error(minRunnerVersion=value).startswith(
        f"runner.minRunnerVersion: {value!r} is not a runner version X.Y.Z"
    )


# --- the shared-home trap ------------------------------------------------------------------------

TWO_HOMES = [
    {"name": "home", "claimName": "home-a", "mountPath": "/home/runner"},
    {"name": "cache", "claimName": "cache-b", "mountPath": "/cache"},
]


def home_warnings(**runner: Any) -> list[str]:
    return shared_home_warnings(load_runner_stack(runner_values(**runner)).runner)


def test_two_replicas_on_one_claim_warn_naming_runner_and_claim() -> None:
    [warning] = home_warnings()
    assert warning.startswith(
        "runner codex-gh-runner: its 2 replicas share PersistentVolumeClaim codex-gh-runner-home;"
    )
    assert "Multi-Attach" in warning
    assert "runner.homeVolume.colocate: true" in warning
    assert "runner.homeVolume.accessMode: ReadWriteMany" in warning


def test_one_warning_per_claim() -> None:
    warnings = home_warnings(replicas=3, pvcMounts=TWO_HOMES)
    assert [w.split(";")[0] for w in warnings] == [
        "runner codex-gh-runner: its 3 replicas share PersistentVolumeClaim home-a",
        "runner codex-gh-runner: its 3 replicas share PersistentVolumeClaim cache-b",
    ]


@pytest.mark.parametrize(
    "runner",
    [
        {"homeVolume": {"colocate": True}},
        {"homeVolume": {"accessMode": "ReadWriteMany"}},
        {"replicas": 1},
        {"replicas": 0},
        {"pvcMounts": []},
    ],
)
def test_no_warning_once_safe_or_chosen(runner: dict[str, Any]) -> None:
    assert home_warnings(**runner) == []


def test_an_explicit_read_write_once_still_warns() -> None:
    assert len(home_warnings(homeVolume={"accessMode": "ReadWriteOnce", "colocate": False})) == 1


def test_bad_access_mode_names_its_key() -> None:
    assert runner_error(homeVolume={"accessMode": "ReadOnlyMany"}).startswith(
        "runner.homeVolume.accessMode: must be one of"
    )


OWN_PODS_ON_ONE_NODE = {
    "labelSelector": {"matchLabels": {"app": "codex-gh-runner"}},
    "topologyKey": "kubernetes.io/hostname",
}


def test_colocate_requires_the_fleets_own_pods_on_one_node(shared: SharedConfig) -> None:
    spec = pod(deployment(shared, homeVolume={"colocate": True}))
    assert spec["affinity"] == {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [OWN_PODS_ON_ONE_NODE]}
    }
    assert "affinity" not in pod(deployment(shared))


def test_colocate_keeps_the_operators_affinity(shared: SharedConfig) -> None:
    mine = {"labelSelector": {"matchLabels": {"app": "mcp-github"}}, "topologyKey": "zone"}
    preferred = [{"weight": 1, "podAffinityTerm": mine}]
    node = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}
    runner = load_runner_stack(
        runner_values(
            homeVolume={"colocate": True},
            affinity={
                "nodeAffinity": node,
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [mine],
                    "preferredDuringSchedulingIgnoredDuringExecution": preferred,
                },
            },
        )
    ).runner
    first = pod(runner_deployment(runner, build_wiring(shared)))["affinity"]
    assert first == {
        "nodeAffinity": node,
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [mine, OWN_PODS_ON_ONE_NODE],
            "preferredDuringSchedulingIgnoredDuringExecution": preferred,
        },
    }
    # The config is not changed by building from it: a second build adds the term once.
    assert pod(runner_deployment(runner, build_wiring(shared)))["affinity"] == first


# --- egress lock-down ----------------------------------------------------------------------------

DEV_TOML = 'model = "gpt-5-codex"\n[mcp_servers.github-mcp]\nurl = "http://mcp-github:8080/mcp/"\n'
MCP_GITHUB = McpService(server="github-mcp", service="mcp-github", namespace="ns", port=8080)


def codex_shared(toml: str = DEV_TOML, **values: Any) -> SharedConfig:
    return load_shared({"namespace": "ns", "codexConfig": {"configToml": toml}, **values}, set())


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


# --- config rollouts -----------------------------------------------------------------------------


def annotations(manifest: Manifest) -> dict[str, str]:
    found: dict[str, str] = manifest["spec"]["template"]["metadata"].get("annotations", {})
    return found


def test_payload_digests_ignore_key_order() -> None:
    assert payload_sha256({"a": "1", "b": "2"}) == payload_sha256({"b": "2", "a": "1"})
    assert payload_sha256({"a": "1"}) != payload_sha256({"a": "2"})


def test_the_codex_digest_follows_the_toml_only() -> None:
    def digest(shared: SharedConfig) -> str | None:
        digests = build_wiring(shared).rollout_digests
        assert digests is not None
        return digests.codex_config_sha256

    base = digest(codex_shared())
    assert base is not None
    assert digest(codex_shared(DEV_TOML + "# edited\n")) != base
    assert digest(codex_shared(namespace="elsewhere")) == base
    renamed = {"codexConfig": {"configToml": DEV_TOML, "name": "other-name"}, "namespace": "ns"}
    assert digest(load_shared(renamed, set())) == base
    assert digest(load_shared({"codexConfig": {"enabled": False}}, set())) is None


def token_digest(token: str | None, **values: Any) -> str | None:
    shared = load_shared(
        {**values, **({"githubToken": token} if token is not None else {})}, {"githubToken"}
    )
    digests = build_wiring(shared).rollout_digests
    assert digests is not None
    return digests.github_token_sha256


def test_the_token_digest_is_only_there_with_a_managed_secret() -> None:
    assert token_digest(None) is None
    assert token_digest("ghp_x") == payload_sha256({"github-pat": "ghp_x"})


def test_the_token_digest_follows_the_token_only() -> None:
    first = token_digest("ghp_first")
    assert first is not None and "ghp_first" not in first
    assert token_digest("ghp_second") != first
    assert token_digest("ghp_first", namespace="elsewhere") == first
    renamed = {"managedToken": {"name": "other-secret", "key": "github-pat"}}
    assert token_digest("ghp_first", secretRefs=renamed) == first


def test_a_token_never_decrypted_shows_the_deploy_time_marker() -> None:
    # What the render and mock runs read from a stack file's `secure:` value.
    assert token_digest(SECRET_MARKER) == DEPLOY_TIME_MARKER


def test_rollout_annotations_only_when_on_and_only_for_what_the_runner_reads() -> None:
    shared = codex_shared()
    sha = payload_sha256({"config.toml": DEV_TOML})
    assert annotations(deployment(shared, codexConfigMount={})) == {}
    on = deployment(shared, codexConfigMount={}, rolloutOnConfigChange=True)
    assert annotations(on) == {CODEX_CONFIG_ANNOTATION: sha}
    assert annotations(deployment(shared, rolloutOnConfigChange=True)) == {}
    mine = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    both = deployment(shared, codexConfigMount={}, rolloutOnConfigChange=True, podAnnotations=mine)
    assert annotations(both) == {**mine, CODEX_CONFIG_ANNOTATION: sha}


def test_every_runner_reads_the_managed_registration_secret() -> None:
    shared = load_shared(
        {"githubToken": "ghp_x", "codexConfig": {"configToml": DEV_TOML}}, {"githubToken"}
    )
    runner = load_runner_stack(runner_values(rolloutOnConfigChange=True)).runner
    manifest = runner_deployment(runner, build_wiring(shared))
    assert annotations(manifest) == {
        GITHUB_TOKEN_ANNOTATION: payload_sha256({"github-pat": "ghp_x"})
    }


def test_the_rollout_prefix_is_reserved() -> None:
    message = runner_error(podAnnotations={"gh-runner/codex-config-sha256": "x"})
    assert message.startswith("runner.podAnnotations.gh-runner/codex-config-sha256: the gh-runner/")


def test_old_shared_wiring_without_digests() -> None:
    output = build_wiring(codex_shared()).as_stack_output()
    del output["rolloutDigests"]
    old = read_wiring(output)
    runner = load_runner_stack(
        runner_values(codexConfigMount={}, rolloutOnConfigChange=True)
    ).runner
    with pytest.raises(ConfigError) as caught:
        runner_deployment(runner, old)
    assert str(caught.value) == (
        "runner.rolloutOnConfigChange: the shared stack's wiring has no rolloutDigests yet (it "
        "was last updated by an older gh-runner); run `pulumi up` in the shared stack first"
    )
    off = load_runner_stack(runner_values(codexConfigMount={})).runner
    assert annotations(runner_deployment(off, old)) == {}


def test_wiring_validation_stays_strict() -> None:
    output = build_wiring(codex_shared()).as_stack_output()
    output["rolloutDigests"]["codexConfigSha512"] = "x"
    with pytest.raises(ConfigError, match=r"wiring\.rolloutDigests\.codexConfigSha512: unknown"):
        read_wiring(output)
