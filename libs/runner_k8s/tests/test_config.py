"""The config models: defaults, and one clear message naming the key for every bad input."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import runner_values

from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import load_shared
from runner_k8s.errors import ConfigError


def runner_error(**runner: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_runner_stack(runner_values(**runner))
    return str(caught.value)


def shared_error(values: dict[str, Any], secret_keys: set[str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_shared(values, secret_keys or set())
    return str(caught.value)


def test_runner_defaults_are_the_production_shape() -> None:
    runner = load_runner_stack(runner_values()).runner
    assert runner.replicas == 2
    assert runner.image_pull_policy == "Always"
    assert (runner.ephemeral, runner.replace_existing, runner.disable_updates) == (True,) * 3
    assert runner.resources.requests == {"cpu": "0.5", "memory": "1Gi"}
    assert runner.resources.limits == {"cpu": "2", "memory": "4Gi"}
    assert (runner.security_context.run_as_user, runner.security_context.fs_group) == (1001, 1001)
    [home] = runner.home_volumes
    assert home.claim_name == "codex-gh-runner-home"


def test_shared_defaults() -> None:
    shared = load_shared({}, set())
    assert shared.namespace == "my-reforge-ai"
    assert shared.secret_refs.github_pat.name == "github-runner-config"
    assert shared.secret_refs.mcp_token.name == "github-mcp-credentials"
    assert not shared.codex_config.enabled


def test_shared_stack_name_defaults_to_this_stack() -> None:
    config = load_runner_stack(runner_values())
    assert config.shared_stack_name("prod") == "organization/gh-runner-shared/prod"
    config = load_runner_stack({**runner_values(), "sharedStack": "acme/gh-runner-shared/x"})
    assert config.shared_stack_name("prod") == "acme/gh-runner-shared/x"


@pytest.mark.parametrize(
    ("runner", "expected"),
    [
        ({"replicas": -1}, "runner.replicas: must be >= 0"),
        ({"replicas": 1.5}, "runner.replicas: must be an integer"),
        ({"replicas": "two"}, "runner.replicas: must be an integer"),
        ({"image": ""}, "runner.image: must not be empty"),
        ({"image": "   "}, "runner.image: must not be empty"),
        ({"name": "Codex_Runner"}, "runner.name: 'Codex_Runner' is not a DNS-1123 label"),
        ({"name": "x" * 64}, "is not a DNS-1123 label"),
        ({"imagePullPolicy": "Sometimes"}, "runner.imagePullPolicy: must be one of"),
        ({"replicaz": 2}, "runner.replicaz: unknown key"),
        ({"labels": ["a,b"]}, "runner.labels[0]:"),
        ({"resources": {"requests": {"cpu": "lots"}}}, "runner.resources.requests.cpu: must be a"),
        (
            {"resources": {"requests": {"cpu": "3"}, "limits": {"cpu": "2"}}},
            "runner.resources.requests.cpu: 3 exceeds runner.resources.limits.cpu (2)",
        ),
        ({"securityContext": {"runAsUser": 0}}, "runner.securityContext.runAsUser: must be >= 1"),
        ({"env": {"GITHUB_PAT": "x"}}, "runner.env.GITHUB_PAT: is set by gh-runner itself"),
        ({"env": {"1BAD": "x"}}, "runner.env.1BAD"),
        ({"terminationGracePeriodSeconds": -5}, "runner.terminationGracePeriodSeconds: must be"),
        ({"tolerations": [{"effect": "Sometimes"}]}, "runner.tolerations[0].effect: must be"),
        (
            {"pvcMounts": [{"name": "home", "claimName": "c", "mountPath": "relative"}]},
            "runner.pvcMounts[0].mountPath: 'relative' must be an absolute path",
        ),
    ],
)
def test_bad_runner_values_name_their_key(runner: dict[str, Any], expected: str) -> None:
    message = runner_error(**runner)
    assert expected in message
    assert "Traceback" not in message


def test_missing_runner_keys() -> None:
    with pytest.raises(ConfigError, match=r"runner\.image: is required"):
        load_runner_stack({"runner": {"name": "x"}})
    with pytest.raises(ConfigError, match=r"^runner: is required$"):
        load_runner_stack({})


def test_unknown_top_level_key() -> None:
    with pytest.raises(ConfigError, match=r"^runnner: unknown key$"):
        load_runner_stack({**runner_values(), "runnner": {}})


def test_duplicate_volume_names() -> None:
    message = runner_error(
        pvcMounts=[{"name": "work", "claimName": "c", "mountPath": "/home/runner"}],
    )
    assert message == (
        "runner.workVolume.name: duplicate volume name 'work' "
        "(also used by runner.pvcMounts[0].name)"
    )


def test_duplicate_mount_paths() -> None:
    message = runner_error(
        secretMounts=[{"name": "s", "secretName": "s", "mountPath": "/actions-runner/_work"}],
    )
    assert message == (
        "runner.secretMounts[0].mountPath: duplicate mount path '/actions-runner/_work' "
        "(also used by runner.workVolume.mountPath)"
    )


def test_several_problems_one_message_one_line_each() -> None:
    message = runner_error(replicas=-1, image="")
    assert message.splitlines() == [
        "runner.image: must not be empty",
        "runner.replicas: must be >= 0",
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"namespace": "My_Namespace"}, "namespace: 'My_Namespace' is not a DNS-1123 label"),
        ({"namespace": "a" * 64}, "namespace: "),
        ({"codexConfig": {"configToml": "model = "}}, "codexConfig.configToml: is not valid TOML"),
        ({"codexConfig": {"enabled": True}}, "codexConfig: configToml is required"),
        ({"codexConfig": {"name": "Bad Name", "configToml": ""}}, "codexConfig.name:"),
        ({"githubRepo": "not a repo"}, "githubRepo:"),
        ({"githubUrl": "https://ghe.example.com"}, "githubUrl: only used together with githubRepo"),
        ({"secretRefs": {"githubPat": {"name": "x"}}}, "secretRefs.githubPat.key: is required"),
        ({"namespce": "x"}, "namespce: unknown key"),
    ],
)
def test_bad_shared_values_name_their_key(values: dict[str, Any], expected: str) -> None:
    assert expected in shared_error(values)


def test_plaintext_github_token_is_refused_without_echoing_it() -> None:
    message = shared_error({"githubToken": "ghp_plaintextvalue"})
    assert message.startswith("githubToken: must be a Pulumi secret")
    assert "pulumi config set --secret githubToken" in message
    assert "ghp_plaintextvalue" not in message


def test_secret_github_token_is_accepted_and_hidden() -> None:
    shared = load_shared({"githubToken": "ghp_value"}, {"githubToken"})
    assert shared.github_token is not None
    assert "ghp_value" not in repr(shared)
    assert shared.github_token.get_secret_value() == "ghp_value"


def test_codex_config_toml_is_kept_verbatim() -> None:
    toml = '# keep me\nmodel   =   "x"\n\n[a]\nb = 1\n'
    shared = load_shared({"codexConfig": {"configToml": toml}}, set())
    assert shared.codex_config.config_toml == toml


def test_a_stale_shared_stack_output_is_named() -> None:
    from runner_k8s.wiring import read_wiring

    with pytest.raises(ConfigError) as caught:
        read_wiring({"namespace": "my-reforge-ai"})
    assert str(caught.value).splitlines() == [
        "sharedStack: its wiring.githubEnv: is required",
        "sharedStack: update the shared stack (`pulumi up` there) before this one",
    ]


def test_secrets_outside_github_token_and_provider_are_refused() -> None:
    message = shared_error({"codexConfig": {"configToml": ""}}, {"codexConfig"})
    assert message.startswith("codexConfig: holds a secret value, which would be written")
    with pytest.raises(ConfigError, match=r"^runner: holds a secret value"):
        load_runner_stack(runner_values(env={"API_KEY": "x"}), {"runner"})
    # A kubeconfig may carry credentials: the provider block may be secret.
    load_runner_stack({**runner_values(), "provider": {"kubeconfig": "..."}}, {"provider"})
    load_shared({"provider": {"kubeconfig": "..."}}, {"provider"})
