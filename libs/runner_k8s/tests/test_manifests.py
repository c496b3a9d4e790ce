"""The pure builders: hardened defaults, config knobs, and the shared wiring."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.build.shared_objects import codex_config_map, github_token_secret, shared_manifests
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.wiring import build_wiring


def deployment(shared: SharedConfig, **runner: Any) -> dict[str, Any]:
    return runner_deployment(
        load_runner_stack(runner_values(**runner)).runner, build_wiring(shared)
    )


def pod(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec


def env(manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod(manifest)["containers"][0]["env"]
    }


HARDENING_OVERRIDES: list[dict[str, Any]] = [
    {},
    {"securityContext": {"runAsUser": 2000, "fsGroup": 3000, "runAsGroup": 4000}},
    {"replicas": 0, "imagePullPolicy": "IfNotPresent", "nodeSelector": {"pool": "x"}},
]


@pytest.mark.parametrize("overrides", HARDENING_OVERRIDES)
def test_every_runner_is_hardened(shared: SharedConfig, overrides: dict[str, Any]) -> None:
    spec = pod(deployment(shared, **overrides))
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


def test_empty_runner_block_gives_the_production_shape(shared: SharedConfig) -> None:
    manifest = deployment(shared)
    assert manifest["metadata"] == {
        "name": "codex-gh-runner",
        "namespace": "my-reforge-ai",
        "labels": {"app": "codex-gh-runner"},
    }
    assert manifest["spec"]["selector"] == {"matchLabels": {"app": "codex-gh-runner"}}
    assert manifest["spec"]["replicas"] == 2
    spec = pod(manifest)
    assert spec["securityContext"]["runAsUser"] == 1001
    assert spec["securityContext"]["fsGroup"] == 1001
    assert list(env(manifest)) == [
        "GITHUB_URL",
        "GITHUB_PAT",
        "GITHUB_TOKEN",
        "RUNNER_LABELS",
        "RUNNER_EPHEMERAL",
        "RUNNER_REPLACE",
        "RUNNER_DISABLE_UPDATES",
        "RUNNER_WORKDIR",
    ]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"] == {"claimName": "codex-gh-runner-home"}
    assert volumes["work"] == {"name": "work", "emptyDir": {}}


def test_runner_knobs_reach_the_pod(shared: SharedConfig) -> None:
    manifest = deployment(
        shared,
        replicas=5,
        labels=["a", "b"],
        ephemeral=False,
        env={"EXTRA": "1"},
        terminationGracePeriodSeconds=120,
        podAnnotations={"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        nodeSelector={"cloud.google.com/gke-nodepool": "runners"},
        tolerations=[{"key": "runners", "operator": "Exists", "effect": "NoSchedule"}],
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "Exists"}]}
                    ]
                }
            }
        },
        secretMounts=[
            {
                "name": "ssh",
                "secretName": "runner-ssh",
                "mountPath": "/home/runner/.ssh",
                "items": [{"key": "id", "path": "id_ed25519"}],
                "defaultMode": 0o400,
            }
        ],
        workVolume={"sizeLimit": "20Gi"},
    )
    assert manifest["spec"]["replicas"] == 5
    variables = env(manifest)
    assert variables["RUNNER_LABELS"] == "a,b"
    assert "RUNNER_EPHEMERAL" not in variables
    assert list(variables)[-1] == "EXTRA"
    spec = pod(manifest)
    assert spec["terminationGracePeriodSeconds"] == 120
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "runners"}
    assert spec["tolerations"] == [{"key": "runners", "operator": "Exists", "effect": "NoSchedule"}]
    assert "nodeAffinity" in spec["affinity"]
    template_meta = manifest["spec"]["template"]["metadata"]
    assert template_meta["annotations"] == {
        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["ssh"]["secret"] == {
        "secretName": "runner-ssh",
        "items": [{"key": "id", "path": "id_ed25519"}],
        "defaultMode": 0o400,
    }
    assert volumes["work"]["emptyDir"] == {"sizeLimit": "20Gi"}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["ssh"] == {"name": "ssh", "mountPath": "/home/runner/.ssh", "readOnly": True}


def test_codex_config_mount_uses_the_shared_config_map(shared: SharedConfig) -> None:
    manifest = deployment(
        shared, codexConfigMount={"mountPath": "/etc/codex.toml", "key": "config.toml"}
    )
    spec = pod(manifest)
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["codex-config-volume"]["configMap"] == {"name": "codex-config-gh-runner"}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["codex-config-volume"]["subPath"] == "config.toml"


def test_codex_config_mount_without_a_config_map_names_the_key() -> None:
    no_codex = load_shared({}, set())
    with pytest.raises(ConfigError, match=r"^runner\.codexConfigMount: the shared stack has no"):
        deployment(no_codex, codexConfigMount={})


def test_wiring_reads_the_existing_secrets_by_default(shared: SharedConfig) -> None:
    wiring = build_wiring(shared).as_stack_output()
    assert wiring["namespace"] == "my-reforge-ai"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in wiring["githubEnv"]}
    assert refs == {
        "GITHUB_URL": {"name": "github-runner-config", "key": "github-url"},
        "GITHUB_PAT": {"name": "github-runner-config", "key": "github-pat"},
        "GITHUB_TOKEN": {"name": "github-mcp-credentials", "key": "github-pat"},
    }
    assert wiring["codexConfigMap"] == {
        "name": "codex-config-gh-runner",
        "key": "config.toml",
        "mcpServices": [],  # the fixture's config.toml names no MCP server
    }


def test_github_repo_gives_a_plain_url() -> None:
    shared = load_shared(
        {"githubRepo": "my-reforge-ai/app", "githubUrl": "https://ghe.example/"}, set()
    )
    [url, *_] = build_wiring(shared).github_env
    assert url.value == "https://ghe.example/my-reforge-ai/app"
    assert url.value_from is None


def test_github_token_makes_a_secret_and_rewires_the_pat() -> None:
    shared = load_shared({"githubToken": "ghp_x"}, {"githubToken"})
    secret = github_token_secret(shared)
    assert secret["metadata"] == {
        "name": "gh-runner-github-token",
        "namespace": "my-reforge-ai",
        "labels": {"app.kubernetes.io/component": "runner-registration-token"},
    }
    assert secret["stringData"] == {"github-pat": SECRET_MARKER}
    pat = {e.name: e for e in build_wiring(shared).github_env}["GITHUB_PAT"]
    assert pat.value_from is not None
    assert pat.value_from.secret_key_ref.name == "gh-runner-github-token"
    assert "ghp_x" not in str(shared_manifests(shared))


def test_disabled_codex_config_makes_no_config_map() -> None:
    shared = load_shared({"codexConfig": {"enabled": False}}, set())
    assert codex_config_map(shared) is None
    assert build_wiring(shared).codex_config_map is None
    assert shared_manifests(shared) == []


def test_namespace_moves_every_object() -> None:
    shared = load_shared({"namespace": "elsewhere", "codexConfig": {"configToml": ""}}, set())
    [config_map] = shared_manifests(shared)
    assert config_map["metadata"]["namespace"] == "elsewhere"
    assert deployment(shared)["metadata"]["namespace"] == "elsewhere"


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def test_volumes_and_mounts_follow_their_own_configured_order(shared: SharedConfig) -> None:
    secret = {"name": "creds", "secretName": "s", "mountPath": "/creds"}
    default = pod(deployment(shared, secretMounts=[secret]))
    assert names(default["volumes"]) == ["home", "work", "creds"]
    assert names(default["containers"][0]["volumeMounts"]) == ["home", "work", "creds"]
    ordered = pod(
        deployment(
            shared,
            secretMounts=[secret],
            volumeOrder=["work", "creds", "home"],
            mountOrder=["creds", "home", "work"],
        )
    )
    assert names(ordered["volumes"]) == ["work", "creds", "home"]
    assert names(ordered["containers"][0]["volumeMounts"]) == ["creds", "home", "work"]
    # The same entries, only moved.
    by_name = {v["name"]: v for v in default["volumes"]}
    assert all(by_name[v["name"]] == v for v in ordered["volumes"])
