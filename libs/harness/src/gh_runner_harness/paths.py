"""Where things are: the repository, the parity spec beside it, and the stacks."""

from __future__ import annotations

from pathlib import Path

from runner_k8s.stacks import KUBERNETES_STACKS, find_repo_root

REPO = find_repo_root(Path(__file__).parent)
# The manifest running in production today, laid beside the clone (never copied into it).
BASELINE = REPO.parent / "shared" / "baseline" / "gh-runner-deployment.yaml"
# The Kubernetes stacks by directory name, in the order they are applied.
K8S_STACKS = tuple(s.short_name for s in KUBERNETES_STACKS)
