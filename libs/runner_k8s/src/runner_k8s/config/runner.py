"""A runner stack's settings: one fleet (``runner``), its shared stack and its provider. The rules
across keys, and the loader, are in ``runner_checks``.

Defaults reproduce today's production manifest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from runner_k8s.config.fields import (
    STACK_REF,
    AbsolutePath,
    AnnotationKey,
    DataKey,
    DnsLabel,
    DnsSubdomain,
    EnvName,
    FileMode,
    Image,
    Int32,
    Int64,
    LabelKey,
    LabelValue,
    NonNegativeInt64,
    Quantity,
    RelativePath,
    ResourceName,
    RunnerLabel,
    RunnerVersionText,
    UserId,
)
from runner_k8s.config.model import Model
from runner_k8s.config.provider import ProviderConfig
from runner_k8s.config.runner_egress import NetworkPolicyConfig, schema_without
from runner_k8s.config.shared import SecretKeyRef
from runner_k8s.stacks import SHARED_PROJECT

# GitHub gives every self-hosted runner this label itself; `runs-on` lists it first.
SELF_HOSTED = "self-hosted"


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

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # What the validators below take, which pydantic cannot see: the plain string, or an
        # object with exactly one source.
        model = handler.resolve_ref_schema(handler(core_schema))
        value, ref = model["properties"]["value"], model["properties"]["secretKeyRef"]
        secret_ref = next(o for o in ref["anyOf"] if "$ref" in o)
        return {
            "description": model.get("description", ""),
            "anyOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {
                        "value": {**schema_without(value, "anyOf", "default"), "type": "string"}
                    },
                    "required": ["value"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "secretKeyRef": {**schema_without(ref, "anyOf", "default"), **secret_ref},
                        "value": {"type": "null"},
                    },
                    "required": ["secretKeyRef"],
                    "additionalProperties": False,
                },
            ],
        }

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


def _pvc_mounts_required(schema: dict[str, Any]) -> None:
    """The schema says what check_runner enforces: `pvcMounts` is required, and a list."""
    mounts = schema["properties"]["pvcMounts"]
    listed = next(o for o in mounts["anyOf"] if o.get("type") == "array")
    schema["properties"]["pvcMounts"] = {**schema_without(mounts, "anyOf", "default"), **listed}
    schema["required"] = [*schema.get("required", []), "pvcMounts"]


class RunnerConfig(Model):
    model_config = ConfigDict(json_schema_extra=_pvc_mounts_required)

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
    env: dict[EnvName, EnvValue] = {}
    """Extra env vars of the container, appended after gh-runner's own (which they may not shadow):
    `NAME: value`, or `NAME: {secretKeyRef: {name, key}}` to read the value from a Secret's key.
    Never a Pulumi secret (its value would land in the Deployment in plain text).
    """
    # Required: the home claims, or [] for none. It once defaulted to <name>-home at
    # /home/runner, a path production never used, so leaving it out is refused (check_runner,
    # with a hint the plain "is required" lacks; the schema says required, see model_config).
    pvc_mounts: list[PvcMount] | None = None
    """Home volumes: existing PersistentVolumeClaims mounted into the runner. Required: list them,
    or write `[]` for none (gh-runner never creates a claim, and a pod on a claim that does not
    exist stays Pending).
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
    """`true`: `sharedStack` may name the shared stack of another stack name, e.g. a staging fleet
    on prod's shared stack (otherwise that is refused: a copied prod file would read dev's
    namespace and Secrets); only together with `sharedStack`.
    """
    provider: ProviderConfig = ProviderConfig()
    """The stack's explicit Kubernetes provider; may be set with `--secret`."""
    runner: RunnerConfig
    """The fleet: one Deployment (and, when enabled, its NetworkPolicy)."""

    def shared_stack_name(self, stack: str) -> str:
        return self.shared_stack or f"organization/{SHARED_PROJECT}/{stack}"
