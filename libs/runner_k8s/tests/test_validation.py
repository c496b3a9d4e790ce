"""Every class of value Kubernetes, the kubelet or GitHub would refuse, refused by the loaders the
programs use, each problem on its own line naming its full key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runner_fixtures import HOME, runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.config.runner_checks import check_shared_stack, load_runner_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.errors import ConfigError
from runner_k8s.wiring import build_wiring

SHARED_WITH_CODEX = {
    "codexConfig": {"enabled": True, "configToml": 'model = "gpt-5-codex"\n'},
}
CODEX_MOUNT = {"volumeName": "codex", "mountPath": "/home/runner/.codex/config.toml"}
SECRET_MOUNT = {"name": "ssh", "secretName": "runner-ssh", "mountPath": "/home/runner/.ssh"}


def runner_problems(values: dict[str, Any], secret_keys: set[str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_runner_stack(values, secret_keys)
    return caught.value.problems


def shared_problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_shared(values, set())
    return caught.value.problems


def named(problems: list[str], key: str) -> str:
    """The one problem naming ``key`` (exactly: ``key: ...``)."""
    lines = [p for p in problems if p.startswith(f"{key}: ")]
    assert len(lines) == 1, f"{key} not named once in {problems}"
    return lines[0]


def toleration(**fields: Any) -> dict[str, Any]:
    return {"tolerations": [fields]}


def secret_items(*paths: str) -> dict[str, Any]:
    items = [{"key": f"k{i}", "path": p} for i, p in enumerate(paths)]
    return {"secretMounts": [{**SECRET_MOUNT, "items": items}]}


def extra_egress(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"networkPolicy": {"enabled": True, "extraEgress": list(rules)}}


BAD_RUNNER: list[tuple[str, dict[str, Any], str, str]] = [
    # (class, runner overrides, the key named, a word of the message)
    (
        "quantity",
        {"resources": {"requests": {"cpu": "-1"}}},
        "runner.resources.requests.cpu",
        "negative",
    ),
    (
        "quantity",
        {"resources": {"limits": {"memory": "-4Gi"}}},
        "runner.resources.limits.memory",
        "negative",
    ),
    (
        "resource name",
        {"resources": {"requests": {"cpuu": "1"}}},
        "runner.resources.requests.cpuu",
        "not a container resource",
    ),
    (
        "resource name",
        {"resources": {"limits": {"example.com/a/b": "1"}}},
        "runner.resources.limits.example.com/a/b",
        "not a valid resource name",
    ),
    (
        "resource name",
        {"resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {}}},
        "runner.resources.requests.nvidia.com/gpu",
        "equal",
    ),
    (
        "resource name",
        {"resources": {"requests": {}, "limits": {"nvidia.com/gpu": "0.5"}}},
        "runner.resources.limits.nvidia.com/gpu",
        "whole number",
    ),
    ("int32", {"replicas": 2**31}, "runner.replicas", "<= 2147483647"),
    (
        "int32",
        {"securityContext": {"runAsUser": 2**31}},
        "runner.securityContext.runAsUser",
        "<= 2147483647",
    ),
    ("int32", {"securityContext": {"fsGroup": -1}}, "runner.securityContext.fsGroup", ">= 0"),
    (
        "int32",
        {"securityContext": {"runAsGroup": 2**32}},
        "runner.securityContext.runAsGroup",
        "<=",
    ),
    (
        "int64",
        {"terminationGracePeriodSeconds": 2**64},
        "runner.terminationGracePeriodSeconds",
        "<= 9223372036854775807",
    ),
    (
        "int64",
        toleration(operator="Exists", effect="NoExecute", tolerationSeconds=2**63),
        "runner.tolerations[0].tolerationSeconds",
        "<=",
    ),
    (
        "label",
        {"nodeSelector": {"bad key": "v"}},
        "runner.nodeSelector.bad key",
        "not a valid label key",
    ),
    (
        "label",
        {"nodeSelector": {"Example.com/pool": "v"}},
        "runner.nodeSelector.Example.com/pool",
        "prefix",
    ),
    ("label", {"nodeSelector": {"a/b/c": "v"}}, "runner.nodeSelector.a/b/c", "at most one '/'"),
    ("label", {"nodeSelector": {"x" * 64: "v"}}, f"runner.nodeSelector.{'x' * 64}", "63"),
    (
        "label",
        {"nodeSelector": {"pool": "bad value!"}},
        "runner.nodeSelector.pool",
        "not a valid label value",
    ),
    (
        "label",
        {"nodeSelector": {"pool": "v" * 64}},
        "runner.nodeSelector.pool",
        "not a valid label value",
    ),
    (
        "label",
        {"podAnnotations": {"/safe-to-evict": "false"}},
        "runner.podAnnotations./safe-to-evict",
        "not a valid annotation key",
    ),
    ("label", {"podAnnotations": {"a": "x" * (256 * 1024)}}, "runner.podAnnotations", "256 KiB"),
    (
        "label",
        {"networkPolicy": {"inClusterServices": [{"podSelector": {"app": "-x"}, "port": 1}]}},
        "runner.networkPolicy.inClusterServices[0].podSelector.app",
        "not a valid label value",
    ),
    (
        "label",
        toleration(key="bad key", operator="Exists"),
        "runner.tolerations[0].key",
        "not a valid label key",
    ),
    (
        "toleration",
        toleration(key="k", operator="Exists", value="v"),
        "runner.tolerations[0].value",
        "empty when operator is Exists",
    ),
    (
        "toleration",
        toleration(value="v"),
        "runner.tolerations[0].operator",
        "Exists when the key is empty",
    ),
    (
        "toleration",
        toleration(key="k", value="v", effect="NoSchedule", tolerationSeconds=60),
        "runner.tolerations[0].tolerationSeconds",
        "NoExecute",
    ),
    ("key path", secret_items("/etc/key"), "runner.secretMounts[0].items[0].path", "relative"),
    ("key path", secret_items("a/../../b"), "runner.secretMounts[0].items[0].path", "'..'"),
    ("key path", secret_items("..data"), "runner.secretMounts[0].items[0].path", "'..'"),
    ("key path", secret_items(""), "runner.secretMounts[0].items[0].path", "empty"),
    ("key path", secret_items("a", "./a"), "runner.secretMounts[0].items[1].path", "duplicate"),
    ("image", {"image": "ghcr.io/Spigell/runner:2.329.0"}, "runner.image", "lowercase"),
    ("image", {"image": "ghcr.io/x/runner:" + "t" * 129}, "runner.image", "tag"),
    ("image", {"image": "ghcr.io/x/runner:-tag"}, "runner.image", "image reference"),
    ("image", {"image": "ghcr.io//runner:1"}, "runner.image", "image reference"),
    (
        "port",
        extra_egress({"ports": [{"port": 70000}]}),
        "runner.networkPolicy.extraEgress[0].ports[0].port",
        "65535",
    ),
    (
        "port",
        extra_egress({"ports": [{"port": 80, "endPort": 79}]}),
        "runner.networkPolicy.extraEgress[0].ports[0].endPort",
        "greater than or equal to port",
    ),
    (
        "port",
        {"networkPolicy": {"inClusterServices": [{"podSelector": {"a": "b"}, "port": 0}]}},
        "runner.networkPolicy.inClusterServices[0].port",
        ">= 1",
    ),
    (
        "schema",
        {"affinity": {"nodeAffinity": {"nodeSelectorTermz": []}}},
        "runner.affinity.nodeAffinity.nodeSelectorTermz",
        "unknown field",
    ),
    (
        "schema",
        {
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": "high",
                            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"},
                        }
                    ]
                }
            }
        },
        "runner.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
        "integer",
    ),
    (
        "schema",
        extra_egress({"to": [{"ipBlok": {"cidr": "10.0.0.0/8"}}]}),
        "runner.networkPolicy.extraEgress[0].to[0].ipBlok",
        "unknown field",
    ),
    (
        "schema",
        extra_egress({"ports": [{"protocl": "TCP", "port": 80}]}),
        "runner.networkPolicy.extraEgress[0].ports[0].protocl",
        "unknown field",
    ),
    (
        "default mode",
        {"secretMounts": [{**SECRET_MOUNT, "defaultMode": "0440"}]},
        "runner.secretMounts[0].defaultMode",
        "288",
    ),
    (
        "default mode",
        {"secretMounts": [{**SECRET_MOUNT, "defaultMode": "0o440"}]},
        "runner.secretMounts[0].defaultMode",
        "not a string",
    ),
    (
        "default mode",
        {"secretMounts": [{**SECRET_MOUNT, "defaultMode": 0o1000}]},
        "runner.secretMounts[0].defaultMode",
        "<= 511",
    ),
    (
        "mount path",
        {"pvcMounts": [{**HOME, "mountPath": "/actions-runner/_work/"}]},
        "runner.workVolume.mountPath",
        "duplicate mount path",
    ),
    (
        "mount path",
        {"secretMounts": [{**SECRET_MOUNT, "mountPath": "/home//runner"}]},
        "runner.secretMounts[0].mountPath",
        "duplicate mount path",
    ),
    ("home", {"pvcMounts": None}, "runner.pvcMounts", "[] for none"),
    (
        "env",
        {"env": {"API_KEY": {"secretKeyRef": {"name": "Bad_Name", "key": "k"}}}},
        "runner.env.API_KEY.secretKeyRef.name",
        "DNS-1123",
    ),
    (
        "env",
        {"env": {"API_KEY": {"secretKeyRef": {"name": "s", "key": "bad/key"}}}},
        "runner.env.API_KEY.secretKeyRef.key",
        "not a valid key",
    ),
    ("env", {"env": {"API_KEY": {"valueFrom": {}}}}, "runner.env.API_KEY.valueFrom", "unknown key"),
    ("env", {"env": {"API_KEY": 3}}, "runner.env.API_KEY", "secretKeyRef"),
]


@pytest.mark.parametrize(
    ("runner", "key", "word"),
    [pytest.param(r, k, w, id=f"{c}:{k}") for c, r, k, w in BAD_RUNNER],
)
def test_bad_runner_value_is_refused_naming_its_key(
    runner: dict[str, Any], key: str, word: str
) -> None:
    problem = named(runner_problems(runner_values(**runner)), key)
    assert word in problem


def test_all_bad_labels_are_reported_not_only_the_first() -> None:
    problems = runner_problems(
        runner_values(
            nodeSelector={"bad key": "v", "ok": "bad value!", "fine": "ok"},
            podAnnotations={"-x": "1"},
            labels=["a,b", "c d"],
        )
    )
    for key in (
        "runner.nodeSelector.bad key",
        "runner.nodeSelector.ok",
        "runner.podAnnotations.-x",
        "runner.labels[0]",
        "runner.labels[1]",
    ):
        named(problems, key)
    assert len(problems) == 5


def test_all_schema_problems_of_a_pass_through_block_at_once() -> None:
    problems = runner_problems(
        runner_values(
            affinity={"nodeAffinity": {"nodeSelectorTermz": [], "typo": 1}},
            networkPolicy={"extraEgress": [{"to": [{"ipBlok": {}}]}, {"ports": [{"portt": 1}]}]},
        )
    )
    assert problems == [
        "runner.affinity.nodeAffinity.nodeSelectorTermz: unknown field",
        "runner.affinity.nodeAffinity.typo: unknown field",
        "runner.networkPolicy.extraEgress[0].to[0].ipBlok: unknown field",
        "runner.networkPolicy.extraEgress[1].ports[0].portt: unknown field",
    ]


@pytest.mark.parametrize(
    "runner",
    [
        {"resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}},
        {"resources": {"requests": {"hugepages-2Mi": "0", "ephemeral-storage": "1Gi"}}},
        {"nodeSelector": {"cloud.google.com/gke-nodepool": "runners", "empty": ""}},
        {"podAnnotations": {"Example.COM/Mixed_Case": "x"}},  # lowercased by the API server
        toleration(operator="Exists"),
        toleration(key="k", operator="Equal", value="v", effect="NoExecute", tolerationSeconds=-1),
        secret_items("id_ed25519", "dir/file", "a..b"),
        {"image": "localhost:5000/team/runner_x__y:2.329.0"},
        {"image": "[::1]:5000/runner@sha256:" + "a" * 64},
        {"secretMounts": [{**SECRET_MOUNT, "defaultMode": 0o440}]},
        {"pvcMounts": []},
        {"replicas": 2**31 - 1, "terminationGracePeriodSeconds": 2**63 - 1},
        extra_egress({"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "https"}]}),
    ],
)
def test_what_kubernetes_accepts_is_accepted(runner: dict[str, Any]) -> None:
    load_runner_stack(runner_values(**runner))


def test_env_from_a_secret_key_and_plain_values_render() -> None:
    runner = load_runner_stack(
        runner_values(env={"PLAIN": "1", "API_KEY": {"secretKeyRef": {"name": "k", "key": "v"}}})
    ).runner
    env = runner_deployment(runner, build_wiring(load_shared({}, set())))["spec"]["template"][
        "spec"
    ]["containers"][0]["env"]
    assert env[-2:] == [
        {"name": "PLAIN", "value": "1"},
        {"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "v"}}},
    ]


def test_a_secret_is_named_by_its_path() -> None:
    problems = runner_problems(runner_values(env={"FOO": "[secret]"}), {"runner.env.FOO"})
    assert problems[0].startswith("runner.env.FOO: holds a secret value")


def test_a_flattened_key_gets_the_path_hint() -> None:
    [problem] = runner_problems({**runner_values(), "runner.replicas": 3})
    assert problem.startswith("runner.replicas: unknown key; ")
    assert "pulumi config set --path runner.replicas VALUE" in problem


# --- the shared stack and the wiring -----------------------------------------------------------

BAD_SHARED: list[tuple[dict[str, Any], str, str]] = [
    (
        {"secretRefs": {"managedToken": {"name": "github-runner-config", "key": "t"}}},
        "secretRefs.managedToken.name",
        "secretRefs.githubUrl",
    ),
    (
        {"secretRefs": {"managedToken": {"name": "github-mcp-credentials", "key": "t"}}},
        "secretRefs.managedToken.name",
        "secretRefs.mcpToken",
    ),
    ({"githubRepo": "owner/.."}, "githubRepo", "names no repository"),
    ({"githubRepo": "owner/."}, "githubRepo", "names no repository"),
    (
        {"codexConfig": {"enabled": True, "configToml": "# " + "x" * (1024 * 1024)}},
        "codexConfig.configToml",
        "1 MiB",
    ),
]


@pytest.mark.parametrize(("values", "key", "word"), BAD_SHARED)
def test_bad_shared_value_is_refused_naming_its_key(
    values: dict[str, Any], key: str, word: str
) -> None:
    assert word in named(shared_problems(values), key)


def test_the_mcp_token_can_be_switched_off() -> None:
    wiring = build_wiring(load_shared({"secretRefs": {"mcpToken": None}}, set()))
    assert [var.name for var in wiring.github_env] == ["GITHUB_URL", "GITHUB_PAT"]


def test_a_codex_mount_of_a_key_the_config_map_lacks_is_refused() -> None:
    wiring = build_wiring(load_shared(SHARED_WITH_CODEX, set()))
    runner = load_runner_stack(
        runner_values(codexConfigMount={**CODEX_MOUNT, "key": "codex.toml"})
    ).runner
    with pytest.raises(ConfigError) as caught:
        runner_deployment(runner, wiring)
    assert str(caught.value).startswith(
        "runner.codexConfigMount.key: 'codex.toml' is not a key of the shared ConfigMap"
    )
    fine = load_runner_stack(runner_values(codexConfigMount=CODEX_MOUNT)).runner
    runner_deployment(fine, wiring)


@pytest.mark.parametrize(
    ("shared_stack", "allow", "stack", "refused"),
    [
        ("organization/gh-runner-shared/dev", False, "prod", True),
        ("organization/gh-runner-shared/dev", True, "prod", False),
        ("organization/gh-runner-shared/prod", False, "prod", False),
        (None, False, "prod", False),
    ],
)
def test_a_shared_stack_of_another_stack_name_needs_allow_cross_stack(
    shared_stack: str | None, allow: bool, stack: str, refused: bool
) -> None:
    values: dict[str, Any] = runner_values()
    if shared_stack is not None:
        values["sharedStack"] = shared_stack
    if allow:
        values["allowCrossStack"] = True
    problems = check_shared_stack(load_runner_stack(values), stack)
    assert bool(problems) == refused
    if refused:
        assert problems[0].startswith("sharedStack: 'organization/gh-runner-shared/dev' is the ")


def test_allow_cross_stack_alone_is_refused() -> None:
    assert named(runner_problems({**runner_values(), "allowCrossStack": True}), "allowCrossStack")


# --- stack files -------------------------------------------------------------------------------


def stack_dir(tmp_path: Path, stack_file: str, project: str = "gh-runner-codex") -> Path:
    (tmp_path / "Pulumi.yaml").write_text(f"name: {project}\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_file)
    return tmp_path


@pytest.mark.parametrize(
    ("stack_file", "expected"),
    [
        ("config:\n  runner: {}\n  runner: {}\n", "duplicate key 'runner' (line 3, column 3)"),
        ("config:\n  runner:\n    name: a\n    name: b\n", "duplicate key 'name'"),
        ("- config\n", "Pulumi.dev.yaml: must be a mapping (config: ...), not a list or a scalar"),
        ("just text\n", "Pulumi.dev.yaml: must be a mapping (config: ...), not a list or a scalar"),
        (
            "config:\n  gh-runner-codx:runner: {}\n",
            "gh-runner-codx:runner: unknown namespace 'gh-runner-codx', read by nothing "
            "(this project is gh-runner-codex; did you mean gh-runner-codex:runner?)",
        ),
        ("config:\n  kubernetes:context: x\n  pulumi:tags: {}\n", None),
        # A Kubernetes stack has no gcp provider: as the JSON Schema says, the key is refused.
        ("config:\n  gcp:project: p\n", "gcp:project: unknown namespace 'gcp', read by nothing"),
    ],
)
def test_stack_file_shape_errors_are_one_clear_line(
    tmp_path: Path, stack_file: str, expected: str | None
) -> None:
    directory = stack_dir(tmp_path, stack_file)
    if expected is None:
        assert load_stack_config(directory, "dev").provider_values["kubernetes:context"] == "x"
        return
    # A file that cannot be read raises; a key it cannot place is a problem raised by the loader,
    # together with the loader's own (so a misspelt prefix hides nothing).
    try:
        [line] = load_stack_config(directory, "dev", collect=True).problems
    except ConfigError as caught:
        [line] = caught.problems
    if expected is not None and "unknown namespace" in expected:
        with pytest.raises(ConfigError):  # raised at once unless the caller collects
            load_stack_config(directory, "dev")
    assert expected in line
    assert line.startswith(str(directory / "Pulumi.dev.yaml"))


def test_stack_file_records_where_secrets_are(tmp_path: Path) -> None:
    directory = stack_dir(
        tmp_path, "config:\n  runner:\n    env:\n      FOO:\n        secure: v1:abc\n"
    )
    config = load_stack_config(directory, "dev")
    assert config.secret_keys == {"runner"}
    assert config.secret_paths == {"runner.env.FOO"}


def test_the_program_names_a_secret_by_its_path_from_the_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine says only that `runner` is secret; the stack file in the root says where.
    from runner_k8s.config import engine as program

    (tmp_path / "Pulumi.prod.yaml").write_text(
        "config:\n  gh-runner-codex:runner:\n    env:\n      FOO:\n        secure: v1:abc\n"
    )
    monkeypatch.setattr(program.pulumi, "get_root_directory", lambda: str(tmp_path))
    monkeypatch.setattr(program.pulumi, "get_stack", lambda: "prod")
    assert program._secret_paths({"runner"}) == {"runner.env.FOO"}
    monkeypatch.setattr(program.pulumi, "get_root_directory", lambda: "")
    assert program._secret_paths({"runner"}) == {"runner"}


def test_schema_problems_come_with_the_other_problems() -> None:
    problems = runner_problems(
        runner_values(
            replicas=-1,
            affinity={"nodeAffinity": {"nodeSelectorTermz": []}, "podAfinity": {}},
        )
    )
    assert problems == [
        "runner.replicas: must be >= 0",
        "runner.affinity.podAfinity: unknown key",
        "runner.affinity.nodeAffinity.nodeSelectorTermz: unknown field",
    ]


def test_the_program_refuses_a_misspelt_prefix_as_render_does() -> None:
    # The engine hands a program every config key; the one under a namespace nothing reads is
    # reported with the loader's own problems, as the offline render reports it.
    from pulumi.runtime import config as runtime_config

    from runner_k8s.config.engine import misspelt_namespaces

    runtime_config.set_all_config(
        {"gh-runner-codex:runner": "{}", "gh-runner-codx:runner": "{}", "kubernetes:context": "c"}
    )
    try:
        assert misspelt_namespaces("gh-runner-codex") == [
            "gh-runner-codx:runner: unknown namespace 'gh-runner-codx', read by nothing "
            "(this project is gh-runner-codex; did you mean gh-runner-codex:runner?)"
        ]
    finally:
        runtime_config.set_all_config({})
