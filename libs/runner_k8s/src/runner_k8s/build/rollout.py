"""Config rollouts: digests of what the shared stack hands the runners, as pod annotations.

The codex config is mounted with ``subPath``, which Kubernetes never refreshes in a running pod,
so a TOML edit reaches a runner only when its pod is recreated. A digest of the payload in the
pod template turns the edit into a change of the Deployment, and `pulumi up` rolls it.
"""

from __future__ import annotations

from runner_k8s.config.runner import RunnerConfig
from runner_k8s.config.runner_checks import ROLLOUT_ANNOTATION_PREFIX
from runner_k8s.wiring import SharedWiring

CODEX_CONFIG_ANNOTATION = f"{ROLLOUT_ANNOTATION_PREFIX}codex-config-sha256"
GITHUB_TOKEN_ANNOTATION = f"{ROLLOUT_ANNOTATION_PREFIX}github-token-sha256"


def rollout_annotations(runner: RunnerConfig, wiring: SharedWiring) -> dict[str, str]:
    """With ``rolloutOnConfigChange``, a digest of each shared payload this runner reads: the
    codex config when it mounts it, the registration Secret when the shared stack manages it
    (every runner's GITHUB_PAT then comes from it)."""
    digests = wiring.rollout_digests
    if not runner.rollout_on_config_change or digests is None:
        return {}
    annotations = {}
    if runner.codex_config_mount is not None and digests.codex_config_sha256 is not None:
        annotations[CODEX_CONFIG_ANNOTATION] = digests.codex_config_sha256
    if digests.github_token_sha256 is not None:
        annotations[GITHUB_TOKEN_ANNOTATION] = digests.github_token_sha256
    return annotations
