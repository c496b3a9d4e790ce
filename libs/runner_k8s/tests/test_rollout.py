"""Config rollouts: the payload digests the shared stack exports (wiring) and the pod-template
annotations they become (rollout.py)."""

from __future__ import annotations

from typing import Any

import pytest
from runner_fixtures import DEV_TOML, codex_shared, deployment, runner_error, runner_values

from runner_k8s.build.fleet import runner_deployment
from runner_k8s.build.rollout import CODEX_CONFIG_ANNOTATION, GITHUB_TOKEN_ANNOTATION
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import DEPLOY_TIME_MARKER, SECRET_MARKER
from runner_k8s.kube.objects import Manifest
from runner_k8s.wiring import build_wiring, payload_sha256, read_wiring


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
