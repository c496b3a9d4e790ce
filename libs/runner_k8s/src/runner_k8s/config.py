"""The settings models: what an operator may set in ``Pulumi.<stack>.yaml``, and the loaders.

Field types (``fields``) check each value; the ``check_*`` functions here add the rules that span
several keys (unique volume names, requests within limits...) and return problems, which the
loaders raise together. Every problem names its full config key, e.g.
``runner.replicas: must be >= 0``. Defaults reproduce today's production manifest. What the
shared stack hands to the runner stacks is the separate contract in ``wiring``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, model_validator

from .env_names import RESERVED_ENV
from .errors import ConfigError, repeats
from .fields import (
    ENV_NAME,
    GITHUB_REPO,
    STACK_REF,
    AbsolutePath,
    AnnotationKey,
    DataKey,
    DnsLabel,
    DnsSubdomain,
    FileMode,
    Image,
    Int32,
    Int64,
    Ipv4Cidr,
    LabelKey,
    LabelValue,
    Model,
    NonNegativeInt64,
    Port,
    Quantity,
    RelativePath,
    ResourceName,
    RunnerLabel,
    RunnerVersionText,
    TomlText,
    UserId,
    is_extended_resource,
    normal_path,
    validate,
)
from .images import is_digest, parse_image, parse_version, runner_version, show
from .kube_schema import affinity_problems, egress_problems
from .quantity import parse_quantity
from .stacks import SHARED_PROJECT

# The pod annotations gh-runner writes itself (rollout digests); podAnnotations may not use it.
ROLLOUT_ANNOTATION_PREFIX = "gh-runner/"
# GitHub gives every self-hosted runner this label itself; `runs-on` lists it first.
SELF_HOSTED = "self-hosted"
# RFC 1918: node, pod and Service ranges of a default GKE VPC-native cluster, and the VPC itself.
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
# A ConfigMap's data, keys and values together, may not exceed 1 MiB (the API server's limit).
CONFIG_MAP_MAX_BYTES = 1024 * 1024
# The API server's limit on all annotations of an object together (keys and values).
ANNOTATIONS_MAX_BYTES = 256 * 1024

# --- the Kubernetes provider -------------------------------------------------------------------


class ProviderConfig(Model):
    """Options of the explicit ``kubernetes.Provider`` each stack creates."""

    context: str | None = None
    """kubeconfig context the stack's `kubernetes.Provider` uses (its `context`); unset: the
    kubeconfig's current context. May be set with `--secret`.
    """
    kubeconfig: str | None = None
    """Path to, or content of, the kubeconfig (the provider's `kubeconfig`, always stored as a
    Pulumi secret); unset: `$KUBECONFIG` or `~/.kube/config`. May be set with `--secret`, since a
    kubeconfig can carry credentials.
    """
    # pulumi-kubernetes >= 4.29 fails with AlreadyExists on create; upsert adopts what kubectl made.
    upsert_existing_objects: bool = True
    """The provider's `upsertExistingObjects`: a create that meets an existing object takes it over
    by server-side apply instead of failing with AlreadyExists (the default since
    pulumi-kubernetes 4.29). `true` by default so the first `pulumi up` adopts what kubectl made.
    """
    # Update the named ConfigMap in place instead of delete-then-create (the name is fixed).
    enable_config_map_mutable: bool = True
    """The provider's `enableConfigMapMutable`: update a ConfigMap in place instead of replacing it
    (delete, then create), which with a fixed name would briefly remove the codex config file.
    """
    # Leave objects in the cluster when Pulumi deletes them (hand the fleet back to kubectl).
    retain_on_delete: bool = False
    """Pulumi's `retainOnDelete` on every object: `pulumi destroy` (or a removal) forgets the object
    and leaves it in the cluster, to hand a fleet back to kubectl.
    """
    # Test-only: write the objects as YAML files into this directory instead of applying them
    # (the engine tier runs the real CLI and provider with no cluster).
    render_yaml_to_directory: str | None = None
    """Test-only (the engine tier): the provider's `renderYamlToDirectory`, writing each object as a
    YAML file into this directory instead of applying it.
    """
    # Test-only: annotate every object `pulumi.com/skipAwait`, for API servers with no controllers
    # or kubelet, where a Deployment never becomes ready. Never for a real cluster: Pulumi would
    # then report a broken rollout as a success.
    skip_await: bool = False
    """Test-only (the cluster tier): annotate every object `pulumi.com/skipAwait`, for an API server
    with no controllers or kubelet. Never on a real cluster: a broken rollout would be reported
    as a success.
    """


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


class CodexConfig(Model):
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


# --- the runner stacks -------------------------------------------------------------------------


class PvcMount(Model):
    name: DnsLabel
    """Volume name in the pod (`volumes[].name`, `volumeMounts[].name`), unique within the pod."""
    claim_name: DnsSubdomain
    """An existing PersistentVolumeClaim (`persistentVolumeClaim.claimName`); gh-runner never
    creates it.
    """
    mount_path: AbsolutePath
    """Absolute path in the runner container (`volumeMounts[].mountPath`), unique within the pod."""
    read_only: bool = False
    """Mount read-only (`readOnly` on the mount and on the claim reference)."""


class WorkVolume(Model):
    name: DnsLabel = "work"
    """Volume name of the scratch emptyDir."""
    mount_path: AbsolutePath = "/actions-runner/_work"
    """Where jobs work (`volumeMounts[].mountPath`); the image's `_work` directory by default."""
    size_limit: Quantity | None = None
    """`emptyDir.sizeLimit`, a Kubernetes quantity such as `20Gi`; unset: no limit (the kubelet
    evicts on node disk pressure).
    """


class CodexConfigMount(Model):
    volume_name: DnsLabel = "codex-config-volume"
    """Volume name of the ConfigMap volume in the pod."""
    mount_path: AbsolutePath = "/home/runner/.codex/config.toml"
    """Absolute path of the file (`volumeMounts[].mountPath` with `subPath`); a `subPath` mount is
    never refreshed in a running pod, see `rolloutOnConfigChange`.
    """
    key: DataKey = "config.toml"
    """The shared ConfigMap's data key mounted as the file (`subPath`); must equal the shared
    stack's `codexConfig.key`.
    """


class KeyToPath(Model):
    key: DataKey
    """Data key of the Secret (`items[].key`)."""
    path: RelativePath
    """Relative file path under the mount (`items[].path`)."""


class SecretMount(Model):
    name: DnsLabel
    """Volume name in the pod, unique within the pod."""
    secret_name: DnsSubdomain
    """An existing Secret (`secret.secretName`); gh-runner never creates it."""
    mount_path: AbsolutePath
    """Absolute directory in the runner container, unique within the pod."""
    read_only: bool = True
    """Mount read-only (`volumeMounts[].readOnly`)."""
    items: list[KeyToPath] | None = None
    """Only these keys, each as its own file (`secret.items`); unset: every key of the Secret."""
    # An integer: 288 or the unquoted YAML 1.1 octal 0440 (both the Pulumi CLI and PyYAML read
    # it as 288). Not 0o440 (PyYAML keeps it a string) and never "0440" (a string).
    default_mode: FileMode | None = None
    """File mode of the files (`secret.defaultMode`), an integer 0 to 511: `288` or the unquoted
    YAML octal `0440` (never `"0440"` or `0o440`); unset: Kubernetes' 0644.
    """


class Resources(Model):
    requests: dict[ResourceName, Quantity] = {"cpu": "0.5", "memory": "1Gi"}
    """Container `resources.requests`, resource name to quantity (`cpu: "0.5"`, `memory: 1Gi`); each
    must not exceed its limit.
    """
    limits: dict[ResourceName, Quantity] = {"cpu": "2", "memory": "4Gi"}
    """Container `resources.limits`, resource name to quantity."""


class SecurityContext(Model):
    """``runner.securityContext``: the pod's user and group ids only. runAsNonRoot, seccomp and
    the dropped capabilities are always enforced, whatever the config says."""

    run_as_user: Annotated[UserId, Field(ge=1)] = 1001
    """Pod `securityContext.runAsUser`, at least 1 (`runAsNonRoot` is always set); 1001 is the
    runner image's user.
    """
    run_as_group: UserId | None = None
    """Pod `securityContext.runAsGroup`; unset: the image's group."""
    fs_group: UserId = 1001
    """Pod `securityContext.fsGroup`: group that owns the mounted volumes, so the runner user can
    write its home claim.
    """


class Toleration(Model):
    key: LabelKey | None = None
    """`tolerations[].key`: the taint key; unset with `Exists` tolerates every taint."""
    operator: Literal["Exists", "Equal"] | None = None
    """`tolerations[].operator`; unset: Kubernetes' `Equal`."""
    value: LabelValue | None = None
    """`tolerations[].value`, for `Equal`."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """`tolerations[].effect`; unset: every effect."""
    toleration_seconds: Int64 | None = None
    """`tolerations[].tolerationSeconds`, for `NoExecute`: how long the pod stays once tainted."""


class Affinity(Model):
    # Passed through as written (Kubernetes camelCase); checked against the API schema in tests.
    node_affinity: dict[str, Any] | None = None
    """Pod `affinity.nodeAffinity`, in Kubernetes shape, passed through."""
    pod_affinity: dict[str, Any] | None = None
    """Pod `affinity.podAffinity`, in Kubernetes shape; `homeVolume.colocate` appends its own term.
    """
    pod_anti_affinity: dict[str, Any] | None = None
    """Pod `affinity.podAntiAffinity`, in Kubernetes shape. A required anti-affinity to the fleet's
    own pods contradicts `homeVolume.colocate`.
    """


class InClusterService(Model):
    """An in-cluster destination, as a NetworkPolicy sees it: the pods behind a Service, on their
    container port (Service IPs are translated to pod IPs before policy applies)."""

    pod_selector: Annotated[dict[LabelKey, LabelValue], Field(min_length=1)]  # matchLabels
    """`matchLabels` of the pods behind the Service (a NetworkPolicy selects pods, not Services); at
    least one label.
    """
    port: Port
    """The pods' container port (not the Service port), 1 to 65535."""
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    """Protocol of that port."""
    namespace: DnsLabel | None = None  # None: the runner's own namespace
    """Namespace of those pods (a `namespaceSelector` on `kubernetes.io/metadata.name`); unset: the
    runner's own namespace.
    """


class EgressRule(Model):
    # One NetworkPolicyEgressRule, passed through in Kubernetes shape (checked against the API
    # schema in tests). An absent `to` or `ports` means "any", as in Kubernetes.
    to: list[dict[str, Any]] | None = None
    """`egress[].to` peers (`ipBlock`, `podSelector`, `namespaceSelector`), Kubernetes shape; unset:
    any destination.
    """
    ports: list[dict[str, Any]] | None = None
    """`egress[].ports` (`{protocol, port, endPort}`), Kubernetes shape; unset: any port."""


class NetworkPolicyConfig(Model):
    """Egress lock-down of one fleet: DNS, HTTPS to the internet, and named in-cluster services."""

    enabled: bool = False
    """Create the NetworkPolicy: ingress denied, egress only to cluster DNS, TCP 443 on the internet
    and the listed in-cluster services. Only enforced where the cluster enforces NetworkPolicy.
    """
    name: DnsSubdomain | None = None  # None: <runner name>-egress
    """`metadata.name` of the NetworkPolicy; unset: `<runner.name>-egress`."""
    # Cut out of the internet rule, with the node metadata server.
    private_ranges: list[Ipv4Cidr] = list(PRIVATE_RANGES)
    """IPv4 CIDRs cut out of the internet rule (`ipBlock.except`, with the metadata server
    169.254.169.254/32); default RFC 1918. Add every cluster or VPC range outside it.
    """
    # None: the in-cluster MCP services the mounted codex config names (none without the mount).
    in_cluster_services: list[InClusterService] | None = None
    """In-cluster destinations allowed; unset: the in-cluster MCP servers the mounted codex config
    names (none without `codexConfigMount`); `[]`: none.
    """
    extra_egress: list[EgressRule] = []
    """More `egress` rules appended as written (`{to, ports}`), for what workflows need beyond
    HTTPS.
    """


class HomeSharing(Model):
    """``runner.homeVolume``: how several replicas may share the home claims (``pvcMounts``)."""

    # A required pod affinity on kubernetes.io/hostname to this fleet's own pods: every replica
    # lands on the node that holds the (ReadWriteOnce) disk.
    colocate: bool = False
    """Add a required pod affinity on `kubernetes.io/hostname` to the fleet's own pods: every
    replica (rollout surge pods included) on the node that holds the ReadWriteOnce disk.
    """
    # A statement about the claims, which live outside gh-runner: ReadWriteMany (e.g. Filestore)
    # may be mounted from several nodes at once.
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"
    """What the home claims are (gh-runner cannot check it): `ReadWriteMany` (e.g. Filestore) may be
    mounted from several nodes and silences the shared-home warning.
    """


class EnvValue(Model):
    """``runner.env.NAME``: a plain value (``NAME: value``), or ``{secretKeyRef: {name, key}}``
    to read it from a Secret's key (an API key for the CLI in the image)."""

    value: str | None = None
    """The plain value; ``NAME: value`` is short for ``NAME: {value: value}``."""
    secret_key_ref: SecretKeyRef | None = None
    """The Secret (in the runner's namespace) and its key holding the value."""

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, data: Any) -> Any:
        # A model rather than `str | Model`: a union would put pydantic's member names into the
        # key of every error (runner.env.FOO.str).
        if isinstance(data, str):
            return {"value": data}
        if not isinstance(data, dict):
            raise ValueError("must be a string, or {secretKeyRef: {name, key}}")
        return data

    @model_validator(mode="after")
    def _one_source(self) -> EnvValue:
        if (self.value is None) == (self.secret_key_ref is None):
            raise ValueError("must be a string, or {secretKeyRef: {name, key}}")
        return self


class RunnerConfig(Model):
    name: DnsLabel
    """The fleet's name (DNS-1123 label): Deployment `metadata.name`, its `app` label and selector.
    """
    image: Image
    """Container `image`, pinned: a tag other than `latest` (the runner version is read from its
    leading `X.Y.Z`) or a digest `@sha256:...`.
    """
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "Always"
    """Container `imagePullPolicy`."""
    replicas: Int32 = 2
    """Deployment `spec.replicas`, an integer >= 0; 0 parks the fleet."""
    labels: list[RunnerLabel] = []
    """Custom runner labels, joined with `,` into `RUNNER_LABELS`; no commas, whitespace or
    case-insensitive duplicates, not `self-hosted` (GitHub adds it).
    """
    # The oldest runner the image may carry (checked against the version in the image tag).
    min_runner_version: RunnerVersionText | None = None
    """`X.Y.Z`: refuse an image whose tag names an older runner version, or none (a digest-pinned
    image is trusted).
    """
    ephemeral: bool = True
    """`RUNNER_EPHEMERAL=1`: one job per runner registration."""
    replace_existing: bool = True
    """`RUNNER_REPLACE=1`: replace a registered runner of the same name."""
    disable_updates: bool = True
    """`RUNNER_DISABLE_UPDATES=1`: the runner never updates itself (the image pins its version)."""
    workdir: Annotated[str, Field(min_length=1)] = "_work"
    """`RUNNER_WORKDIR`, the runner's work directory."""
    env: dict[Annotated[str, Field(pattern=ENV_NAME.pattern)], EnvValue] = {}
    """Extra plain env vars of the container, `NAME: value`, appended after gh-runner's own (which
    they may not shadow). Never a secret: mount a Secret instead.
    """
    # Required: the home claims, or [] for none. It once defaulted to <name>-home at
    # /home/runner, a path production never used, so leaving it out is refused (check_runner).
    pvc_mounts: list[PvcMount] | None = None
    """Home volumes: existing PersistentVolumeClaims mounted into the runner. Unset: one claim
    `<name>-home` at `/home/runner`.
    """
    # The sharing policy of the claims above; its key says "homeVolume" for history's sake.
    home_sharing: HomeSharing = Field(default=HomeSharing(), alias="homeVolume")
    """How several replicas share the `pvcMounts` claims (key `homeVolume`); unset: ReadWriteOnce,
    not colocated, which warns when `replicas > 1`.
    """
    work_volume: WorkVolume = WorkVolume()
    """The jobs' scratch space: an emptyDir, wiped with the pod."""
    codex_config_mount: CodexConfigMount | None = None
    """Mount the shared stack's codex ConfigMap as one file (`subPath`); `null`: not mounted."""
    secret_mounts: list[SecretMount] = []
    """Existing Secrets mounted as files (the way to give jobs a credential)."""
    volume_order: list[DnsLabel] | None = None
    """Pod `volumes` order, by volume name, each volume exactly once; unset: home volumes, work,
    codex config, secret mounts. Feeds the pod-template hash: a new order restarts every runner.
    """
    mount_order: list[DnsLabel] | None = None
    """Container `volumeMounts` order, by volume name, each exactly once; unset: the default order
    above. Feeds the pod-template hash too.
    """
    resources: Resources = Resources()
    """Container `resources`."""
    security_context: SecurityContext = SecurityContext()
    """The pod's user and group ids; `runAsNonRoot`, seccomp `RuntimeDefault`, no privilege
    escalation and all capabilities dropped are always set.
    """
    node_selector: dict[LabelKey, LabelValue] = {}
    """Pod `nodeSelector`, e.g. `{cloud.google.com/gke-nodepool: runners}`."""
    tolerations: list[Toleration] = []
    """Pod `tolerations`."""
    affinity: Affinity | None = None
    """Pod `affinity`; `null`: none (apart from `homeVolume.colocate`)."""
    termination_grace_period_seconds: NonNegativeInt64 | None = None
    """Pod `terminationGracePeriodSeconds`: how long a running job gets after SIGTERM on a rollout
    or scale-down; `null`: Kubernetes' 30.
    """
    pod_annotations: dict[AnnotationKey, str] = {}
    """Extra pod-template annotations; the `gh-runner/` prefix is reserved."""
    network_policy: NetworkPolicyConfig = NetworkPolicyConfig()
    """Egress lock-down of this fleet: a NetworkPolicy selecting its pods."""
    # Digests of the shared payloads this fleet reads, as pod annotations: an edit rolls it.
    rollout_on_config_change: bool = False
    """Annotate the pod template with digests of what the fleet reads from the shared stack
    (`gh-runner/codex-config-sha256`, `gh-runner/github-token-sha256`), so a TOML edit or a token
    rotation rolls the fleet at its next `pulumi up`.
    """

    @property
    def selector_labels(self) -> dict[str, str]:
        """The Deployment's selector and pod labels; the NetworkPolicy selects the same pods."""
        return {"app": self.name}

    @property
    def network_policy_name(self) -> str:
        return self.network_policy.name or f"{self.name}-egress"

    @property
    def runs_on(self) -> list[str]:
        """What a workflow puts in `runs-on` to land on this fleet: GitHub's own label first (the
        image registers without --no-default-labels, so Linux and X64 match as well)."""
        return [SELF_HOSTED, *self.labels]

    @property
    def home_volumes(self) -> list[PvcMount]:
        return self.pvc_mounts or []


class RunnerStackConfig(Model):
    shared_stack: Annotated[str, Field(pattern=STACK_REF.pattern)] | None = None
    """Full name `org/project/stack` of the shared stack whose `wiring` output (StackReference)
    gives the namespace, Secret wiring and ConfigMap; unset: `organization/gh-runner-shared/<this
    stack's name>`.
    """
    allow_cross_stack: bool = False
    """true: ``sharedStack`` may name the shared stack of another stack name (it is refused
    otherwise, see ``check_shared_stack``)."""
    provider: ProviderConfig = ProviderConfig()
    """The stack's explicit Kubernetes provider; may be set with `--secret`."""
    runner: RunnerConfig
    """The fleet: one Deployment (and, when enabled, its NetworkPolicy)."""

    def shared_stack_name(self, stack: str) -> str:
        return self.shared_stack or f"organization/{SHARED_PROJECT}/{stack}"


# --- loading -----------------------------------------------------------------------------------


def _misplaced_secrets(secret_keys: set[str], allowed: set[str]) -> list[str]:
    """Secret config under a key whose value lands in a plain Kubernetes field (env, ConfigMap)
    would be decrypted into the cluster and the state: refuse it. ``provider`` may be secret, since
    a kubeconfig can carry credentials."""
    return [
        f"{key}: holds a secret value, which would be written into the cluster in plain text; "
        "keep secrets in a Kubernetes Secret instead (runner.secretMounts, or "
        "runner.env.NAME: {secretKeyRef: {name, key}})"
        for key in sorted(secret_keys)
        # A key may be a path (runner.env.FOO) when the stack file says where the secret is.
        if re.split(r"[.\[]", key, maxsplit=1)[0] not in allowed | {"provider"}
    ]


def load_shared(values: Mapping[str, Any], secret_keys: set[str]) -> SharedConfig:
    """Validate the shared stack's config. ``secret_keys``: keys set with ``--secret``."""
    problems = _misplaced_secrets(secret_keys, allowed={"githubToken"})
    if "githubToken" in values and "githubToken" not in secret_keys:
        # Refuse before anything else so the plaintext never travels further.
        problems.append(
            "githubToken: must be a Pulumi secret; remove it and set it again with "
            "`pulumi config set --secret githubToken` (plaintext values are refused)"
        )
        values = {k: v for k, v in values.items() if k != "githubToken"}
    shared = validate(SharedConfig, values, problems)
    problems += check_shared(shared, set(values))
    if problems:
        raise ConfigError(problems)
    return shared


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


def load_runner_stack(
    values: Mapping[str, Any], secret_keys: set[str] | None = None
) -> RunnerStackConfig:
    misplaced = _misplaced_secrets(secret_keys or set(), allowed=set())
    if misplaced:
        raise ConfigError(misplaced)
    # Checked on the values as written, so they are reported together with any other problem.
    pass_through = pass_through_problems(values.get("runner"), "runner")
    try:
        config = validate(RunnerStackConfig, values)
    except ConfigError as exc:
        named = {p.partition(": ")[0] for p in exc.problems}
        pass_through = [p for p in pass_through if p.partition(": ")[0] not in named]
        raise ConfigError([*exc.problems, *pass_through]) from None
    problems = check_runner(config.runner, "runner") + pass_through
    if config.allow_cross_stack and config.shared_stack is None:
        problems.append("allowCrossStack: only meaningful together with sharedStack")
    if problems:
        raise ConfigError(problems)
    return config


def check_shared_stack(config: RunnerStackConfig, stack: str) -> list[str]:
    """A runner stack reads the shared stack of its own name unless it says otherwise.

    Stack files are copied from dev to make prod (the README says so); a `sharedStack` naming
    dev's shared stack would then silently give prod's fleets dev's namespace and Secrets. So a
    reference to another stack name is refused unless `allowCrossStack: true` says it is meant
    (e.g. a staging fleet on the shared stack of prod's cluster)."""
    if config.shared_stack is None or config.allow_cross_stack:
        return []
    referenced = config.shared_stack.rsplit("/", 1)[1]
    if referenced == stack:
        return []
    return [
        f"sharedStack: {config.shared_stack!r} is the shared stack of {referenced!r}, not of this "
        f"stack {stack!r}: its fleets would take {referenced}'s namespace and Secrets. Remove "
        f"sharedStack (the default is organization/{SHARED_PROJECT}/{stack}), or set "
        "allowCrossStack: true if that is meant"
    ]


def _duplicates(entries: list[tuple[str, str]], what: str) -> list[str]:
    return [
        f"{key}: duplicate {what} {value!r} (also used by {first})"
        for key, value, first in repeats(entries)
    ]


def check_runner(runner: RunnerConfig, at: str) -> list[str]:
    """Rules across keys of one runner; ``at`` is the key the runner block sits under."""
    volumes: list[tuple[str, str]] = []
    mounts: list[tuple[str, str]] = []
    problems: list[str] = []
    if runner.pvc_mounts is None:
        # Explicit rather than a default: the old default (<name>-home at /home/runner) was never
        # production's layout, and a pod on a claim that does not exist stays Pending.
        problems.append(
            f"{at}.pvcMounts: is required: list the home claims to mount, e.g. [{{name: home, "
            f"claimName: {runner.name}-home, mountPath: /home/runner}}], or write [] for none"
        )
    for i, pvc in enumerate(runner.home_volumes):
        volumes.append((f"{at}.pvcMounts[{i}].name", pvc.name))
        mounts.append((f"{at}.pvcMounts[{i}].mountPath", pvc.mount_path))
    volumes.append((f"{at}.workVolume.name", runner.work_volume.name))
    mounts.append((f"{at}.workVolume.mountPath", runner.work_volume.mount_path))
    if runner.codex_config_mount is not None:
        volumes.append((f"{at}.codexConfigMount.volumeName", runner.codex_config_mount.volume_name))
        mounts.append((f"{at}.codexConfigMount.mountPath", runner.codex_config_mount.mount_path))
    for i, secret in enumerate(runner.secret_mounts):
        volumes.append((f"{at}.secretMounts[{i}].name", secret.name))
        mounts.append((f"{at}.secretMounts[{i}].mountPath", secret.mount_path))
    problems += _duplicates(volumes, "volume name")
    names = [name for _, name in volumes]
    problems += _check_order(runner.volume_order, names, f"{at}.volumeOrder")
    problems += _check_order(runner.mount_order, names, f"{at}.mountOrder")
    # `/home/runner/` and `/home/runner` are one directory to the kubelet.
    problems += _duplicates([(k, normal_path(p)) for k, p in mounts], "mount path")
    for i, secret in enumerate(runner.secret_mounts):
        if secret.items is not None:
            problems += _duplicates(
                [
                    (f"{at}.secretMounts[{i}].items[{j}].path", normal_path(item.path))
                    for j, item in enumerate(secret.items)
                ],
                "path",
            )

    problems += _check_labels(runner.labels, at) + _check_image(runner, at)
    problems += [
        f"{at}.podAnnotations.{key}: the {ROLLOUT_ANNOTATION_PREFIX} prefix is gh-runner's own "
        "(rolloutOnConfigChange); use another prefix"
        for key in runner.pod_annotations
        if key.startswith(ROLLOUT_ANNOTATION_PREFIX)
    ]
    for name in runner.env:
        if name in RESERVED_ENV:
            problems.append(f"{at}.env.{name}: is set by gh-runner itself; use the dedicated key")
    problems += _check_resources(runner.resources, f"{at}.resources")
    problems += _check_tolerations(runner.tolerations, f"{at}.tolerations")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in runner.pod_annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        problems.append(f"{at}.podAnnotations: {size} bytes, over the 256 KiB Kubernetes allows")
    return problems


def pass_through_problems(runner: Any, at: str) -> list[str]:
    """The blocks written in Kubernetes shape (``affinity``, ``networkPolicy.extraEgress``)
    against the Kubernetes schema and the API server's port rules; ``runner`` as written."""
    if not isinstance(runner, Mapping):
        return []
    problems = []
    affinity = runner.get("affinity")
    if isinstance(affinity, dict) and affinity:
        problems += affinity_problems(affinity, f"{at}.affinity")
    policy = runner.get("networkPolicy")
    egress = policy.get("extraEgress") if isinstance(policy, Mapping) else None
    if isinstance(egress, list) and egress and all(isinstance(r, dict) for r in egress):
        problems += egress_problems(egress, f"{at}.networkPolicy.extraEgress")
        problems += _check_egress_ports(egress, f"{at}.networkPolicy.extraEgress")
    return problems


def _check_resources(resources: Resources, at: str) -> list[str]:
    problems = []
    for resource, request in resources.requests.items():
        limit = resources.limits.get(resource)
        if limit is not None and parse_quantity(request) > parse_quantity(limit):
            problems.append(
                f"{at}.requests.{resource}: {request} exceeds {at}.limits.{resource} ({limit})"
            )
        elif is_extended_resource(resource) and (
            limit is None or parse_quantity(request) != parse_quantity(limit)
        ):
            # Extended resources cannot be overcommitted: Kubernetes wants request == limit.
            problems.append(
                f"{at}.requests.{resource}: an extended resource needs an equal "
                f"{at}.limits.{resource}"
            )
    for kind, quantities in (("requests", resources.requests), ("limits", resources.limits)):
        for resource, quantity in quantities.items():
            if is_extended_resource(resource) and parse_quantity(quantity) % 1:
                problems.append(f"{at}.{kind}.{resource}: {quantity} must be a whole number")
    return problems


def _check_tolerations(tolerations: list[Toleration], at: str) -> list[str]:
    """The rules the API server applies to each toleration (core validateTolerations)."""
    problems = []
    for i, toleration in enumerate(tolerations):
        if not toleration.key and toleration.operator != "Exists":
            problems.append(
                f"{at}[{i}].operator: must be Exists when the key is empty (it matches every taint)"
            )
        if toleration.operator == "Exists" and toleration.value:
            problems.append(f"{at}[{i}].value: must be empty when operator is Exists")
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            problems.append(f"{at}[{i}].tolerationSeconds: only allowed with effect NoExecute")
    return problems


def _check_egress_ports(rules: list[dict[str, Any]], at: str) -> list[str]:
    # The schema lets a port be any integer or string (IntOrString); the API server wants a
    # port number 1..65535 (or a named port) and endPort between port and 65535.
    problems = []
    for i, rule in enumerate(rules):
        for j, port in enumerate(rule.get("ports") or []):
            if not isinstance(port, dict):
                continue
            number, end = port.get("port"), port.get("endPort")
            if isinstance(number, int) and not 1 <= number <= 65535:
                problems.append(f"{at}[{i}].ports[{j}].port: must be between 1 and 65535")
            if isinstance(end, int) and not (isinstance(number, int) and number <= end <= 65535):
                problems.append(
                    f"{at}[{i}].ports[{j}].endPort: must be a number from port to 65535"
                )
    return problems


def _check_order(order: list[str] | None, names: list[str], key: str) -> list[str]:
    """An order is a permutation of the fleet's volume names: the builder only reorders, so a
    name missing or unknown here would silently drop or invent a volume."""
    if order is None:
        return []
    missing = [n for n in names if n not in order]
    unknown = [n for n in order if n not in names]
    repeated = sorted({n for n in order if order.count(n) > 1})
    parts = [
        f"{what} {', '.join(found)}"
        for what, found in (("missing", missing), ("unknown", unknown), ("repeated", repeated))
        if found
    ]
    if not parts:
        return []
    return [
        f"{key}: must list each of the fleet's volumes ({', '.join(names)}) exactly once; "
        + "; ".join(parts)
    ]


def shared_home_warnings(runner: RunnerConfig, at: str = "runner") -> list[str]:
    """The shared-home trap: several replicas on one ReadWriteOnce claim work only while they
    share a node. Empty once the operator chose colocation or declared the claims RWX."""
    choice = runner.home_sharing
    if runner.replicas <= 1 or choice.colocate or choice.access_mode == "ReadWriteMany":
        return []
    return [
        f"runner {runner.name}: its {runner.replicas} replicas share PersistentVolumeClaim "
        f"{pvc.claim_name}; on a ReadWriteOnce disk (a GKE persistent disk) a replica scheduled "
        "on another node hangs in ContainerCreating with a Multi-Attach error. Set "
        f"{at}.homeVolume.colocate: true (all replicas on the disk's node) or "
        f"{at}.homeVolume.accessMode: ReadWriteMany (the claim is RWX, e.g. Filestore)"
        for pvc in runner.home_volumes
    ]


def _check_labels(labels: list[str], at: str) -> list[str]:
    # GitHub matches `runs-on` labels case-insensitively, so `GPU` and `gpu` are one label.
    seen: dict[str, int] = {}
    problems = []
    for i, label in enumerate(labels):
        folded = label.casefold()
        if folded == SELF_HOSTED:
            problems.append(
                f"{at}.labels[{i}]: {label!r} is a label GitHub gives every self-hosted runner "
                "already; remove it"
            )
        elif folded in seen:
            problems.append(
                f"{at}.labels[{i}]: duplicate label {label!r} (also {at}.labels[{seen[folded]}]; "
                "GitHub compares labels case-insensitively)"
            )
        else:
            seen[folded] = i
    return problems


def _check_image(runner: RunnerConfig, at: str) -> list[str]:
    """The image must be pinned, and new enough when ``minRunnerVersion`` asks for it."""
    ref = parse_image(runner.image)
    if ref.digest is not None:
        if not is_digest(ref.digest):
            return [f"{at}.image: the digest after '@' must be sha256: and 64 hex digits"]
        # A digest is an explicit pin; the version cannot be read from it, so it is trusted.
        return []
    if ref.tag is None or ref.tag == "latest":
        return [
            f"{at}.image: {runner.image!r} is not pinned: "
            f"{'it has no tag' if ref.tag is None else 'latest moves'}, so the fleet could change "
            "on any pod restart; tag it with the runner version (e.g. :2.329.0-7e2153) or pin a "
            "digest (@sha256:...)"
        ]
    if runner.min_runner_version is None:
        return []
    minimum = parse_version(runner.min_runner_version)
    version = runner_version(runner.image)
    if version is None:
        return [
            f"{at}.image: tag {ref.tag!r} names no runner version, so {at}.minRunnerVersion "
            f"({runner.min_runner_version}) cannot be checked; tag the image with the runner "
            "version first (e.g. :2.329.0-7e2153) or pin it by digest"
        ]
    if minimum is not None and version < minimum:
        return [
            f"{at}.image: runner {show(version)} (from the tag) is below {at}.minRunnerVersion "
            f"{runner.min_runner_version}: a runner that cannot update itself "
            "(RUNNER_DISABLE_UPDATES=1) stops receiving jobs once GitHub deprecates its version; "
            f"use an image built on runner {runner.min_runner_version} or later"
        ]
    return []
