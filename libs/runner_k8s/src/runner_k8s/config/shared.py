"""The shared stack's settings (namespace, GitHub wiring, the codex ConfigMap) and their loader.

Every problem names its full config key. What the shared stack hands to the runner stacks is
the separate contract in ``wiring``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import ConfigDict, Field, SecretStr, model_validator

from runner_k8s.config.fields import GITHUB_REPO, DataKey, DnsLabel, DnsSubdomain, TomlText
from runner_k8s.config.model import Model, misplaced_secrets, parse_partly
from runner_k8s.config.provider import ProviderConfig
from runner_k8s.errors import ConfigError

# A ConfigMap's data, keys and values together, may not exceed 1 MiB (the API server's limit).
CONFIG_MAP_MAX_BYTES = 1024 * 1024


# --- the shared stack --------------------------------------------------------------------------


class SecretKeyRef(Model):
    name: DnsSubdomain
    """Name of the Secret (DNS-1123 subdomain); becomes `valueFrom.secretKeyRef.name` of the
    runner's env var.
    """
    key: DataKey
    """Data key inside that Secret; becomes `valueFrom.secretKeyRef.key`."""


class SecretRefs(Model):
    """The existing Secrets the runners read; managed elsewhere, only referenced here."""

    github_url: SecretKeyRef = SecretKeyRef(name="github-runner-config", key="github-url")
    """Where runners read `GITHUB_URL` (the repository or organization they register with), unless
    `githubRepo` is set.
    """
    github_pat: SecretKeyRef = SecretKeyRef(name="github-runner-config", key="github-pat")
    """Where runners read `GITHUB_PAT`, the token that registers them, unless `githubToken` is set.
    """
    mcp_token: SecretKeyRef | None = SecretKeyRef(name="github-mcp-credentials", key="github-pat")
    """Where runners read `GITHUB_TOKEN`, the token of the GitHub MCP server the codex config talks
    to; `null`: no `GITHUB_TOKEN` in the pods (a cluster without the MCP server's Secret).
    """
    # The Secret the shared stack creates itself when `githubToken` is set.
    managed_token: SecretKeyRef = SecretKeyRef(name="gh-runner-github-token", key="github-pat")
    """Name and key of the Secret this stack creates from `githubToken` (only then); runners then
    read `GITHUB_PAT` from it.
    """


def _toml_required_when_enabled(schema: dict[str, Any]) -> None:
    """The schema says what _toml_when_enabled checks: `enabled: false`, or a `configToml`."""
    schema["anyOf"] = [
        {"properties": {"enabled": {"const": False}}, "required": ["enabled"]},
        {"properties": {"configToml": {"type": "string"}}, "required": ["configToml"]},
    ]


class CodexConfig(Model):
    model_config = ConfigDict(json_schema_extra=_toml_required_when_enabled)

    enabled: bool = True
    """Create the codex ConfigMap. `false`: no ConfigMap, and a runner with `codexConfigMount` is
    refused.
    """
    name: DnsSubdomain = "codex-config-gh-runner"
    """`metadata.name` of the ConfigMap; fixed (not auto-named) so the first `pulumi up` adopts the
    existing one.
    """
    key: DataKey = "config.toml"
    """The ConfigMap's `data` key the file is stored under; a runner's `codexConfigMount.key` must
    name it.
    """
    # Kept verbatim: it is the Codex CLI's own file, not ours to reformat.
    config_toml: TomlText | None = None
    """The Codex CLI `config.toml`, stored verbatim in the ConfigMap's `data`; must parse as TOML;
    required when `enabled`. Its in-cluster `[mcp_servers.*]` URLs feed the default
    `networkPolicy.inClusterServices`.
    """

    @model_validator(mode="after")
    def _toml_when_enabled(self) -> CodexConfig:
        if self.enabled and self.config_toml is None:
            raise ValueError("configToml is required when codexConfig.enabled is true")
        return self


class SharedConfig(Model):
    namespace: DnsLabel = "my-reforge-ai"
    """Namespace of every object of every stack (DNS-1123 label); runner stacks take it from this
    stack's `wiring`. It must already exist: gh-runner never creates or deletes it.
    """
    github_repo: Annotated[str, Field(pattern=GITHUB_REPO.pattern)] | None = None
    """`OWNER/REPO`. When set, runners get `GITHUB_URL` as a plain env value
    (`<githubUrl>/<githubRepo>`) instead of from `secretRefs.githubUrl`.
    """
    github_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")] = (
        "https://github.com"
    )
    """Base URL of GitHub (or GitHub Enterprise), `http(s)://host[/path]`; only with `githubRepo`.
    """
    github_token: SecretStr | None = None
    """Registration token (a GitHub PAT), Pulumi secret only (`pulumi config set --secret
    githubToken`); plaintext is refused. When set, this stack creates the Secret
    `secretRefs.managedToken` from it and runners read `GITHUB_PAT` there.
    """
    secret_refs: SecretRefs = SecretRefs()
    """The existing Secrets the runners read, each `{name, key}`; managed outside gh-runner, only
    referenced.
    """
    codex_config: CodexConfig = CodexConfig(enabled=False)
    """The Codex CLI config, one ConfigMap mounted into the runners that ask for it
    (`runner.codexConfigMount`). Unset: disabled.
    """
    provider: ProviderConfig = ProviderConfig()
    """The stack's explicit Kubernetes provider; may be set with `--secret` (a kubeconfig can carry
    credentials).
    """


def load_shared(
    values: Mapping[str, Any], secret_keys: set[str], earlier: Sequence[str] = ()
) -> SharedConfig:
    """Validate the shared stack's config and raise every problem at once (``earlier`` ones, the
    stack file's own, first). ``secret_keys``: where the ``--secret`` values are."""
    problems = [*earlier, *misplaced_secrets(secret_keys, allowed={"githubToken"})]
    if "githubToken" in values and "githubToken" not in secret_keys:
        # Refuse before anything else so the plaintext never travels further.
        problems.append(
            "githubToken: must be a Pulumi secret; remove it and set it again with "
            "`pulumi config set --secret githubToken` (plaintext values are refused)"
        )
        values = {k: v for k, v in values.items() if k != "githubToken"}
    parsed = parse_partly(SharedConfig, values)
    problems += parsed.problems
    if parsed.model is not None:
        across = check_shared(parsed.model, set(values))
        problems += [p for p in across if not parsed.about_dropped(p)]
    if problems:
        raise ConfigError(problems)
    assert parsed.model is not None  # no problem: everything parsed
    return parsed.model


def check_shared(shared: SharedConfig, keys_set: set[str]) -> list[str]:
    problems = []
    if "githubUrl" in keys_set and shared.github_repo is None:
        problems.append("githubUrl: only used together with githubRepo; set githubRepo as well")
    if shared.github_repo is not None and shared.github_repo.split("/")[1] in (".", ".."):
        problems.append(f"githubRepo: {shared.github_repo!r} names no repository")
    refs = shared.secret_refs
    owners = [
        f"secretRefs.{key}"
        for key, ref in (
            ("githubUrl", refs.github_url),
            ("githubPat", refs.github_pat),
            ("mcpToken", refs.mcp_token),
        )
        if ref is not None and ref.name == refs.managed_token.name
    ]
    if owners:
        # The shared stack creates managedToken: on an existing Secret it would take the
        # Secret over (upsert), rewrite its data and delete it on `pulumi destroy`.
        problems.append(
            f"secretRefs.managedToken.name: {refs.managed_token.name!r} is the Secret of "
            f"{' and '.join(owners)}, which exists already; the shared "
            "stack creates managedToken itself, so it would take that Secret over and delete it "
            "on destroy: give managedToken its own name"
        )
    codex = shared.codex_config
    if codex.enabled and codex.config_toml is not None:
        size = len(codex.key.encode()) + len(codex.config_toml.encode())
        if size > CONFIG_MAP_MAX_BYTES:
            problems.append(
                f"codexConfig.configToml: {size} bytes with its key, over the 1 MiB "
                f"({CONFIG_MAP_MAX_BYTES} bytes) a ConfigMap may hold"
            )
    return problems
