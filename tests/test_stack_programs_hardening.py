"""The opt-in hardening beyond the baseline, through each stack's real program under mocks and
through the offline render: every switch off (the dev stacks) and on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from stack_fixtures import EditConfig

from runner_k8s.build.rollout import CODEX_CONFIG_ANNOTATION, GITHUB_TOKEN_ANNOTATION
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import DEPLOY_TIME_MARKER
from runner_k8s.offline.mockrun import ProgramRun, run_stack
from runner_k8s.offline.render import render_stack, render_stacks
from runner_k8s.wiring import payload_sha256

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def codex_after_an_old_shared_stack(
    root: Path, strip: Callable[[dict[str, Any]], Any]
) -> ProgramRun:
    """The codex stack's run against the wiring of a shared stack last updated by an older
    gh-runner: ``strip`` removes from the wiring what that version did not export yet."""
    stacks = root / "stacks"
    runs: dict[tuple[Path, str], ProgramRun] = {}
    strip(run_stack(stacks / "shared", "dev", runs=runs).outputs["wiring"])
    return run_stack(stacks / "codex-runner", "dev", runs=runs)


def render_warnings(root: Path, stack: str) -> list[str]:
    warnings: list[str] = []
    render_stacks([root / "stacks" / stack], "dev", warnings)
    return warnings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r: r.update(labels=["gpt-5-codex", "GPT-5-Codex"]),
            "runner.labels[1]: duplicate label 'GPT-5-Codex'",
        ),
        (lambda r: r.update(labels=["gpt 5"]), "runner.labels[0]: 'gpt 5' must not contain"),
        (
            lambda r: r.update(minRunnerVersion="2.330.0"),
            "runner.image: runner 2.329.0 (from the tag) is below runner.minRunnerVersion 2.330.0",
        ),
        (
            lambda r: r.update(image="ghcr.io/spigell/codex-github-runner:latest"),
            "runner.image: 'ghcr.io/spigell/codex-github-runner:latest' is not pinned",
        ),
    ],
)
def test_label_and_version_errors_stop_before_any_resource(
    repo_copy: Path, edit_config: EditConfig, change: Any, message: str
) -> None:
    edit_config(repo_copy, "codex-runner", lambda c: change(c["runner"]))
    run = run_stack(repo_copy / "stacks" / "codex-runner", "dev")
    assert run.error is not None
    assert message in run.error
    assert run.resources == []


def test_the_dev_image_meets_its_own_runner_version(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", lambda c: c["runner"].update(minRunnerVersion="2.329.0"))
    run = run_stack(repo_copy / "stacks" / "codex-runner", "dev")
    assert run.error is None
    assert len(run.of_type(DEPLOYMENT)) == 1


# --- the shared-home trap ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "claim"),
    [("codex-runner", "codex-gh-runner-home"), ("gemini-runner", "gemini-gh-runner-home")],
)
def test_the_dev_fleets_warn_about_their_shared_home(repo: Path, stack: str, claim: str) -> None:
    # The baseline runs 2 replicas on one GKE persistent disk: exactly the risky case.
    run = run_stack(repo / "stacks" / stack, "dev")
    [warning] = run.warnings
    assert f"share PersistentVolumeClaim {claim};" in warning
    assert warning == render_warnings(repo, stack)[0].split(": ", 1)[1]


@pytest.mark.parametrize(
    "home",
    [
        {"homeVolume": {"colocate": True}},
        {"homeVolume": {"accessMode": "ReadWriteMany"}},
        {"replicas": 1},
        # No home volume at all; the explicit volume order then names only the work volume.
        {"pvcMounts": [], "volumeOrder": ["work"]},
    ],
)
def test_no_warning_once_the_operator_chose(
    repo_copy: Path, edit_config: EditConfig, home: dict[str, Any]
) -> None:
    edit_config(repo_copy, "gemini-runner", lambda c: c["runner"].update(home))
    run = run_stack(repo_copy / "stacks" / "gemini-runner", "dev")
    assert run.error is None
    assert run.warnings == []
    assert render_warnings(repo_copy, "gemini-runner") == []


def test_colocate_reaches_the_registered_deployment(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(
        repo_copy, "gemini-runner", lambda c: c["runner"].update(homeVolume={"colocate": True})
    )
    stack_dir = repo_copy / "stacks" / "gemini-runner"
    [deployment] = run_stack(stack_dir, "dev").of_type(DEPLOYMENT)
    assert deployment.inputs["spec"]["template"]["spec"]["affinity"]["podAffinity"] == {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "labelSelector": {"matchLabels": {"app": "gemini-gh-runner"}},
                "topologyKey": "kubernetes.io/hostname",
            }
        ]
    }
    assert [deployment.inputs] == render_stack(stack_dir, "dev")


def test_render_prints_the_warnings_to_stderr(repo: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gh-runner"), "render"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert len(lines) == 2
    assert lines[0].startswith("gh-runner: warning: stacks/codex-runner/Pulumi.dev.yaml: runner ")
    assert "codex-gh-runner-home" in lines[0]
    assert "gemini-gh-runner-home" in lines[1]
    assert "warning" not in result.stdout


# --- egress lock-down ----------------------------------------------------------------------------

POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def enable_policy(config: dict[str, Any]) -> None:
    config["runner"]["networkPolicy"] = {"enabled": True}


@pytest.mark.parametrize("stack", ["codex-runner", "gemini-runner"])
def test_the_policy_is_off_in_dev(repo: Path, stack: str) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    assert run.of_type(POLICY) == []
    assert [m["kind"] for m in render_stack(repo / "stacks" / stack, "dev")] == ["Deployment"]


def test_the_runner_stack_registers_its_policy(repo_copy: Path, edit_config: EditConfig) -> None:
    edit_config(repo_copy, "codex-runner", enable_policy)
    stack_dir = repo_copy / "stacks" / "codex-runner"
    run = run_stack(stack_dir, "dev")
    assert run.error is None
    [deployment] = run.of_type(DEPLOYMENT)
    [policy] = run.of_type(POLICY)
    [component] = run.of_type("gh-runner:k8s:RunnerDeployment")
    assert policy.name == policy.inputs["metadata"]["name"] == "codex-gh-runner-egress"
    assert policy.inputs["metadata"]["namespace"] == deployment.inputs["metadata"]["namespace"]
    assert policy.parent.endswith(f"gh-runner:k8s:RunnerDeployment::{component.name}")
    assert policy.provider == deployment.provider
    selector = deployment.inputs["spec"]["selector"]
    assert policy.inputs["spec"]["podSelector"] == selector
    assert sorted([deployment.inputs, policy.inputs], key=lambda m: m["kind"]) == render_stack(
        stack_dir, "dev"
    )


def mcp_rules(run_or_manifest: dict[str, Any]) -> list[Any]:
    return [r for r in run_or_manifest["spec"]["egress"] if "podSelector" in r["to"][0]]


def test_the_mcp_rule_follows_the_shared_codex_toml(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", enable_policy)
    stacks = repo_copy / "stacks"
    [policy] = run_stack(stacks / "codex-runner", "dev").of_type(POLICY)
    # The DNS rule selects kube-dns pods too; the MCP rule is the one without a namespace.
    [mcp] = [r for r in mcp_rules(policy.inputs) if "namespaceSelector" not in r["to"][0]]
    assert mcp == {
        "to": [{"podSelector": {"matchLabels": {"app": "mcp-github"}}}],
        "ports": [{"protocol": "TCP", "port": 8080}],
    }

    def move_mcp(config: dict[str, Any]) -> None:
        toml = config["codexConfig"]["configToml"]
        config["codexConfig"]["configToml"] = toml.replace(
            "http://mcp-github:8080/", "http://github-tools.mcp.svc.cluster.local:9090/"
        )

    edit_config(repo_copy, "shared", move_mcp)
    [policy] = run_stack(stacks / "codex-runner", "dev").of_type(POLICY)
    assert [r for r in mcp_rules(policy.inputs) if r["ports"][0]["port"] != 53] == [
        {
            "to": [
                {
                    "podSelector": {"matchLabels": {"app": "github-tools"}},
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "mcp"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 9090}],
        }
    ]


def test_a_fleet_without_the_codex_mount_gets_dns_and_https_only(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "gemini-runner", enable_policy)
    [policy] = run_stack(repo_copy / "stacks" / "gemini-runner", "dev").of_type(POLICY)
    ports = [[p["port"] for p in rule["ports"]] for rule in policy.inputs["spec"]["egress"]]
    assert ports == [[53, 53], [443]]


def test_old_shared_outputs_stop_the_policy_and_the_deployment(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", enable_policy)
    run = codex_after_an_old_shared_stack(
        repo_copy, lambda w: w["codexConfigMap"].pop("mcpServices")
    )
    assert run.error is not None
    assert "runner.networkPolicy.inClusterServices: defaults to the MCP services" in run.error
    assert "`pulumi up` in the shared stack first" in run.error
    assert run.of_type(DEPLOYMENT) == run.of_type(POLICY) == []


# --- config rollouts -----------------------------------------------------------------------------


def rollout_on(config: dict[str, Any]) -> None:
    config["runner"]["rolloutOnConfigChange"] = True


def pod_annotations(inputs: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = inputs["spec"]["template"]["metadata"].get("annotations", {})
    return found


def codex_annotations(root: Path) -> dict[str, str]:
    """The codex fleet's pod annotations, under mocks; checked equal to the render's."""
    stack_dir = root / "stacks" / "codex-runner"
    run = run_stack(stack_dir, "dev")
    assert run.error is None, run.error
    [deployment] = run.of_type(DEPLOYMENT)
    [rendered] = render_stack(stack_dir, "dev")
    assert pod_annotations(deployment.inputs) == pod_annotations(rendered)
    return pod_annotations(deployment.inputs)


@pytest.mark.parametrize("stack", ["codex-runner", "gemini-runner"])
def test_no_rollout_annotation_in_dev(repo: Path, stack: str) -> None:
    [deployment] = run_stack(repo / "stacks" / stack, "dev").of_type(DEPLOYMENT)
    assert pod_annotations(deployment.inputs) == {}


def test_the_annotation_changes_when_and_only_when_the_toml_changes(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", rollout_on)
    shared = load_stack_config(repo_copy / "stacks" / "shared", "dev").values["codexConfig"]
    first = codex_annotations(repo_copy)
    assert first == {CODEX_CONFIG_ANNOTATION: payload_sha256({"config.toml": shared["configToml"]})}

    # Anything else in the shared stack: the digest stays, so nothing rolls for it.
    edit_config(repo_copy, "shared", lambda c: c.update(githubRepo="my-reforge-ai/app"))
    edit_config(repo_copy, "shared", lambda c: c["provider"].update(retainOnDelete=True))
    assert codex_annotations(repo_copy) == first
    edit_config(repo_copy, "shared", lambda c: c.update(namespace="runners-canary"))
    assert codex_annotations(repo_copy) == first

    edit_config(
        repo_copy,
        "shared",
        lambda c: c["codexConfig"].update(configToml=shared["configToml"] + 'model = "o3"\n'),
    )
    edited = codex_annotations(repo_copy)
    assert edited.keys() == first.keys()
    assert edited != first


def test_a_fleet_without_the_codex_mount_gets_no_codex_digest(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "gemini-runner", rollout_on)
    stack_dir = repo_copy / "stacks" / "gemini-runner"
    [deployment] = run_stack(stack_dir, "dev").of_type(DEPLOYMENT)
    assert pod_annotations(deployment.inputs) == {}


def token_annotation(repo_copy: Path, token: str, stack: str = "codex-runner") -> str:
    """The runner's token digest after a shared run with ``token`` as the decrypted githubToken."""
    stacks = repo_copy / "stacks"
    config = load_stack_config(stacks / "shared", "dev")
    config = replace(
        config, values={**config.values, "githubToken": token}, secret_keys={"githubToken"}
    )
    runs: dict[tuple[Path, str], Any] = {}
    shared = run_stack(stacks / "shared", "dev", config=config, runs=runs)
    assert shared.error is None
    run = run_stack(stacks / stack, "dev", runs=runs)
    assert run.error is None, run.error
    for seen in (shared, run):
        assert token not in repr(seen.outputs) + repr(seen.resources) + repr(seen.warnings)
    [deployment] = run.of_type(DEPLOYMENT)
    return pod_annotations(deployment.inputs)[GITHUB_TOKEN_ANNOTATION]


def test_the_token_digest_changes_with_the_secret_payload_only(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    for stack in ("codex-runner", "gemini-runner"):
        edit_config(repo_copy, stack, rollout_on)
    first = token_annotation(repo_copy, "ghp_first_token")
    # The Secret's payload digested like the ConfigMap's, in plain text: a secret digest would
    # have blinded the annotation (and the whole Deployment spec) in the mock run.
    assert first == payload_sha256({"github-pat": "ghp_first_token"})
    assert token_annotation(repo_copy, "ghp_first_token") == first
    assert token_annotation(repo_copy, "ghp_first_token", "gemini-runner") == first
    assert token_annotation(repo_copy, "ghp_second_token") != first
    edit_config(repo_copy, "shared", lambda c: c.update(namespace="runners-canary"))
    assert token_annotation(repo_copy, "ghp_first_token") == first


def test_an_encrypted_token_is_digested_at_deploy_time(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    # A stack file's `secure:` value is never decrypted here, so neither the render nor the mock
    # run can digest it: both show the marker, and the registered Deployment is still the render.
    edit_config(repo_copy, "shared", lambda c: c.update(githubToken={"secure": "v1:AAAA"}))
    edit_config(repo_copy, "codex-runner", rollout_on)
    stacks = repo_copy / "stacks"
    shared = run_stack(stacks / "shared", "dev")
    assert shared.outputs["wiring"]["rolloutDigests"]["githubTokenSha256"] == DEPLOY_TIME_MARKER
    # No provider beside the stack's one explicit Kubernetes provider.
    assert {r.type for r in shared.resources} == {
        "gh-runner:k8s:SharedResources",
        "pulumi:providers:kubernetes",
        "kubernetes:core/v1:ConfigMap",
        "kubernetes:core/v1:Secret",
    }
    run = run_stack(stacks / "codex-runner", "dev")
    assert run.error is None, run.error
    [deployment] = run.of_type(DEPLOYMENT)
    assert [deployment.inputs] == render_stack(stacks / "codex-runner", "dev")
    assert pod_annotations(deployment.inputs)[GITHUB_TOKEN_ANNOTATION] == DEPLOY_TIME_MARKER


def test_old_shared_outputs_stop_the_rollout_switch(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "codex-runner", rollout_on)
    run = codex_after_an_old_shared_stack(repo_copy, lambda w: w.pop("rolloutDigests"))
    assert run.error is not None
    assert "runner.rolloutOnConfigChange: the shared stack's wiring has no rolloutDigests" in (
        run.error
    )
    assert "run `pulumi up` in the shared stack first" in run.error
    assert run.of_type(DEPLOYMENT) == []


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ({"labels": ["gpt-5-codex", "gpt-5-codex"]}, "runner.labels[1]: duplicate label"),
        ({"minRunnerVersion": "2.330.0"}, "is below runner.minRunnerVersion 2.330.0"),
        ({"networkPolicy": {"privateRanges": ["10/8"]}}, "runner.networkPolicy.privateRanges[0]"),
    ],
)
def test_the_render_names_the_same_keys(
    repo_copy: Path, edit_config: EditConfig, runner: dict[str, Any], message: str
) -> None:
    edit_config(repo_copy, "codex-runner", lambda c: c["runner"].update(runner))
    with pytest.raises(ConfigError) as caught:
        render_stacks([repo_copy / "stacks" / "codex-runner"], "dev")
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(repo_copy / "stacks" / "codex-runner"))
