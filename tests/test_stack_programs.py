"""Each stack's real __main__.py under Pulumi mocks, config from its Pulumi.dev.yaml."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from stack_fixtures import K8S_STACKS, EditConfig

from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.kube.objects import SKIP_AWAIT
from runner_k8s.offline.mockrun import ProgramRun, Registration, run_stack
from runner_k8s.offline.render import render_stack, render_stacks

PROVIDER = "pulumi:providers:kubernetes"
# Objects that exist in the cluster and are managed elsewhere: never registered.
FORBIDDEN_TYPES = {
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:Namespace",
}
PRE_EXISTING_SECRETS = {"github-runner-config", "github-mcp-credentials"}


def kubernetes_objects(run: ProgramRun) -> list[Registration]:
    return [r for r in run.resources if r.custom and r.type.startswith("kubernetes:")]


def by_object(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Registration order follows when each resource's inputs resolve, so compare as a set.
    return sorted(manifests, key=lambda m: (m["kind"], m["metadata"]["name"]))


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_registered_objects_equal_the_render(repo: Path, stack: str) -> None:
    stack_dir = repo / "stacks" / stack
    run = run_stack(stack_dir, "dev")
    assert run.error is None
    registered = [r.inputs for r in kubernetes_objects(run)]
    assert registered, "the stack registered no Kubernetes object"
    assert by_object(registered) == by_object(render_stack(stack_dir, "dev"))


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_one_explicit_provider_with_adoption_options(repo: Path, stack: str) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    [provider] = run.of_type(PROVIDER)
    assert provider.inputs["upsertExistingObjects"] == "true"
    assert provider.inputs["enableConfigMapMutable"] == "true"
    # No force unless asked for: a conflict with a hand edit stops `up`.
    assert "enablePatchForce" not in provider.inputs
    for obj in kubernetes_objects(run):
        assert obj.provider.startswith(f"urn:pulumi:dev::{run.project}::")
        assert f"{PROVIDER}::{provider.name}" in obj.provider, obj.name


def test_provider_options_come_from_config(repo_copy: Path, edit_config: EditConfig) -> None:
    def change(config: dict[str, Any]) -> None:
        config["provider"] = {
            "context": "gke_p_z_c",
            "kubeconfig": "apiVersion: v1\nkind: Config\n",
            "upsertExistingObjects": False,
            "enableConfigMapMutable": False,
            "patchForce": True,
        }

    edit_config(repo_copy, "shared", change)
    run = run_stack(repo_copy / "stacks" / "shared", "dev")
    [provider] = run.of_type(PROVIDER)
    assert provider.inputs == {
        "context": "gke_p_z_c",
        "kubeconfig": SECRET_MARKER,
        "upsertExistingObjects": "false",
        "enableConfigMapMutable": "false",
        "enablePatchForce": "true",
    }


def without_skip_await(manifest: dict[str, Any]) -> dict[str, Any]:
    annotations = dict(manifest["metadata"].get("annotations", {}))
    assert annotations.pop(SKIP_AWAIT) == "true", manifest["metadata"]["name"]
    metadata = {k: v for k, v in manifest["metadata"].items() if k != "annotations"}
    return {
        **manifest,
        "metadata": {**metadata, **({"annotations": annotations} if annotations else {})},
    }


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_test_only_provider_switches(repo_copy: Path, edit_config: EditConfig, stack: str) -> None:
    """renderYamlToDirectory reaches the provider; skipAwait annotates every object and changes
    nothing else about it (the render, which never shows it, is still what is registered)."""
    out = str(repo_copy / "rendered")
    edit_config(
        repo_copy, stack, lambda c: c["provider"].update(renderYamlToDirectory=out, skipAwait=True)
    )
    stack_dir = repo_copy / "stacks" / stack
    run = run_stack(stack_dir, "dev")
    assert run.error is None
    [provider] = run.of_type(PROVIDER)
    assert provider.inputs["renderYamlToDirectory"] == out
    registered = [without_skip_await(r.inputs) for r in kubernetes_objects(run)]
    assert by_object(registered) == by_object(render_stack(stack_dir, "dev"))


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_skip_await_is_off_by_default(repo: Path, stack: str) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    [provider] = run.of_type(PROVIDER)
    assert "renderYamlToDirectory" not in provider.inputs
    for obj in kubernetes_objects(run):
        assert SKIP_AWAIT not in obj.inputs["metadata"].get("annotations", {}), obj.name


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_never_registers_what_the_cluster_already_owns(repo: Path, stack: str) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    for registration in run.resources:
        assert registration.type not in FORBIDDEN_TYPES
        if registration.type == "kubernetes:core/v1:Secret":
            assert registration.inputs["metadata"]["name"] not in PRE_EXISTING_SECRETS


@pytest.mark.parametrize("stack", K8S_STACKS)
def test_objects_have_their_production_names(repo: Path, stack: str) -> None:
    # Explicit metadata.name everywhere: Pulumi auto-naming would add a random suffix.
    run = run_stack(repo / "stacks" / stack, "dev")
    for obj in kubernetes_objects(run):
        assert obj.inputs["metadata"]["name"] == obj.name


def test_shared_stack_exports_the_wiring(repo: Path) -> None:
    run = run_stack(repo / "stacks" / "shared", "dev")
    assert run.outputs["namespace"] == "my-reforge-ai"
    wiring = run.outputs["wiring"]
    assert wiring["namespace"] == "my-reforge-ai"
    assert wiring["codexConfigMap"]["name"] == "codex-config-gh-runner"
    assert [e["name"] for e in wiring["githubEnv"]] == ["GITHUB_URL", "GITHUB_PAT", "GITHUB_TOKEN"]


@pytest.mark.parametrize("stack", ["codex-runner", "gemini-runner"])
def test_runner_stacks_export_their_deployment(repo: Path, stack: str) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    [deployment] = run.of_type("kubernetes:apps/v1:Deployment")
    labels = load_stack_config(repo / "stacks" / stack, "dev").values["runner"]["labels"]
    assert run.outputs == {
        "deployment": deployment.inputs["metadata"]["name"],
        "namespace": "my-reforge-ai",
        "runsOn": ["self-hosted", *labels],
    }


def test_changing_only_the_shared_namespace_moves_both_fleets(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    edit_config(repo_copy, "shared", lambda c: c.update(namespace="runners-canary"))
    stacks = repo_copy / "stacks"
    for stack in ("codex-runner", "gemini-runner"):
        [deployment] = kubernetes_objects(run_stack(stacks / stack, "dev"))
        assert deployment.inputs["metadata"]["namespace"] == "runners-canary"
    rendered = render_stacks([stacks / s for s in K8S_STACKS], "dev")
    assert {m["metadata"]["namespace"] for m in rendered} == {"runners-canary"}


def test_github_token_secret_path(repo_copy: Path, edit_config: EditConfig) -> None:
    def change(config: dict[str, Any]) -> None:
        config["githubToken"] = {"secure": "v1:AAAAciphertextAAAA"}

    edit_config(repo_copy, "shared", change)
    stacks = repo_copy / "stacks"
    shared = run_stack(stacks / "shared", "dev")
    assert shared.error is None
    [secret] = shared.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["metadata"]["name"] == "gh-runner-github-token"
    # Registered as a Pulumi secret (blinded by the mock run), never as plaintext.
    assert secret.inputs["stringData"] == {"github-pat": SECRET_MARKER}
    registered = [r.inputs for r in kubernetes_objects(shared)]
    assert by_object(registered) == by_object(render_stack(stacks / "shared", "dev"))
    [deployment] = kubernetes_objects(run_stack(stacks / "codex-runner", "dev"))
    env = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    pat = next(e for e in env if e["name"] == "GITHUB_PAT")
    assert pat["valueFrom"]["secretKeyRef"] == {
        "name": "gh-runner-github-token",
        "key": "github-pat",
    }


def test_plaintext_github_token_stops_the_program(repo_copy: Path, edit_config: EditConfig) -> None:
    edit_config(repo_copy, "shared", lambda c: c.update(githubToken="ghp_plaintext"))
    run = run_stack(repo_copy / "stacks" / "shared", "dev")
    assert run.error is not None
    assert "githubToken: must be a Pulumi secret" in run.error
    assert "ghp_plaintext" not in run.error
    assert run.resources == []


@pytest.mark.parametrize(
    ("stack", "change", "message"),
    [
        (
            "codex-runner",
            lambda c: c["runner"].update(replicas=-1),
            "runner.replicas: must be >= 0",
        ),
        ("codex-runner", lambda c: c["runner"].update(image=""), "runner.image: must not be empty"),
        ("gemini-runner", lambda c: c["runner"].update(name="Gemini"), "runner.name: 'Gemini'"),
        ("gemini-runner", lambda c: c.update(bogus=1), "bogus: unknown key"),
        ("shared", lambda c: c.update(namespace="My_NS"), "namespace: 'My_NS' is not a DNS-1123"),
        (
            "shared",
            lambda c: c["codexConfig"].update(configToml="model = = 1"),
            "codexConfig.configToml: is not valid TOML",
        ),
    ],
)
def test_bad_config_stops_before_any_resource(
    repo_copy: Path, edit_config: EditConfig, stack: str, change: Any, message: str
) -> None:
    edit_config(repo_copy, stack, change)
    run = run_stack(repo_copy / "stacks" / stack, "dev")
    assert run.error is not None
    assert message in run.error
    assert "Traceback" not in run.error
    assert run.resources == []


def test_dev_stack_files_hold_no_secret(repo: Path) -> None:
    for stack in (*K8S_STACKS, "bootstrap"):
        path = repo / "stacks" / stack / "Pulumi.dev.yaml"
        if path.is_file():
            config = load_stack_config(path.parent, "dev")
            assert config.secret_keys == set(), path
            assert "secure:" not in path.read_text(), path


def test_runner_mounting_a_config_map_the_shared_stack_lacks(
    repo_copy: Path, edit_config: EditConfig
) -> None:
    # Only known once the StackReference answers: the Deployment must still never be registered.
    edit_config(repo_copy, "shared", lambda c: c["codexConfig"].update(enabled=False))
    run = run_stack(repo_copy / "stacks" / "codex-runner", "dev")
    assert run.error is not None
    assert "runner.codexConfigMount: the shared stack has no codex ConfigMap" in run.error
    assert run.of_type("kubernetes:apps/v1:Deployment") == []
    # The gemini fleet does not mount it and is unaffected.
    gemini = run_stack(repo_copy / "stacks" / "gemini-runner", "dev")
    assert gemini.error is None
    assert len(gemini.of_type("kubernetes:apps/v1:Deployment")) == 1


def test_github_token_is_registered_as_a_pulumi_secret(repo: Path) -> None:
    # A decrypted value, as the engine hands it over: it must only ever travel as a secret.
    stack_dir = repo / "stacks" / "shared"
    config = load_stack_config(stack_dir, "dev")
    config = replace(
        config,
        values={**config.values, "githubToken": "ghp_decrypted_value"},
        secret_keys={"githubToken"},
    )
    run = run_stack(stack_dir, "dev", config=config)
    assert run.error is None
    [secret] = run.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"] == {"github-pat": SECRET_MARKER}
    assert "ghp_decrypted_value" not in repr(run.resources) + repr(run.outputs)


@pytest.mark.parametrize(
    ("stack", "component"),
    [
        ("shared", "gh-runner:k8s:SharedResources"),
        ("codex-runner", "gh-runner:k8s:RunnerDeployment"),
        ("gemini-runner", "gh-runner:k8s:RunnerDeployment"),
    ],
)
def test_objects_are_children_of_the_stack_component(
    repo: Path, stack: str, component: str
) -> None:
    run = run_stack(repo / "stacks" / stack, "dev")
    [owner] = run.of_type(component)
    assert not owner.custom
    for obj in kubernetes_objects(run):
        assert obj.parent.endswith(f"{component}::{owner.name}"), obj.parent
