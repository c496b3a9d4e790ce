"""The rules every Kubernetes object of the gh-runner stacks must meet, as pure functions.

A rule takes one object as the policy engine sees it (the resource inputs: the manifest dict,
camelCase, exactly what ``runner_k8s.offline.render`` prints) and returns its violations, each
naming the field path (and the container, for container fields), plus what it could not check yet
because a value is only known at apply. No Pulumi here: the pack's shell adapts these to
CrossGuard, and the tests call them directly on the render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from runner_k8s.build.shared_objects import REGISTRATION_TOKEN_LABEL

from .unknowns import Field, NotYetKnown, root

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class Result:
    violations: tuple[str, ...] = ()
    # "cannot check X until apply: <path> is not known during preview", one line per gap.
    unknown: tuple[str, ...] = ()


@dataclass
class _Findings:
    violations: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @contextmanager
    def checking(self, what: str) -> Iterator[None]:
        """Run one check; a value the engine cannot tell yet skips it, saying what waits."""
        try:
            yield
        except NotYetKnown as gap:
            self.unknown.append(
                f"cannot check {what} until apply: {gap.path} is not known during preview"
            )

    def run(self, what: str, messages: Iterable[str]) -> None:
        """Collect one check's messages; ``messages`` is lazy (a generator), so a value not
        known yet stops only this check."""
        with self.checking(what):
            for message in messages:
                self.violations.append(message)

    def result(self) -> Result:
        return Result(tuple(self.violations), tuple(self.unknown))


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    check: Callable[[Manifest], Result]


# --- where the pod is ------------------------------------------------------------------------

# The pod template of every kind that runs pods, as a dotted path ("" is the object itself).
POD_TEMPLATES = {
    "Pod": "",
    "Deployment": "spec.template",
    "StatefulSet": "spec.template",
    "DaemonSet": "spec.template",
    "ReplicaSet": "spec.template",
    "ReplicationController": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _kind(obj: Manifest) -> str | None:
    kind = obj.get("kind")
    return kind if isinstance(kind, str) else None


def _pod_template(obj: Manifest) -> Field | None:
    path = POD_TEMPLATES.get(_kind(obj) or "")
    if path is None:
        return None
    top = root(obj)
    return top.at(path) if path else top


def _containers(spec: Field, findings: _Findings) -> Iterator[Field]:
    for key in CONTAINER_LISTS:
        with findings.checking(f"the {key}"):
            yield from spec[key].items()


def _container(container: Field) -> str:
    return f'container "{container.peek("name")}"'


# --- Pod Security Standard "restricted" ----------------------------------------------------
# Checks and allowed values follow k8s.io/pod-security-admission v0.37 (policy version
# "latest") for Linux pods. Its relaxations for Windows pods (spec.os.name) and user-namespaced
# pods (hostUsers: false) are not applied: the runners are neither, so the pack is stricter.

RESTRICTED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")
APPARMOR_TYPES = ("RuntimeDefault", "Localhost")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)
ADDABLE_CAPABILITIES = ("NET_BIND_SERVICE",)
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HANDLERS = ("lifecycle.postStart", "lifecycle.preStop")


def _one_of(allowed: Iterable[str]) -> str:
    return " or ".join(a for a in allowed if a)


def _host_namespaces(spec: Field) -> Iterator[str]:
    for key in HOST_NAMESPACES:
        setting = spec[key]
        if setting.known() is True:
            yield f"{setting.path} must be unset or false"


def _volume(volume: Field) -> Iterator[str]:
    sources = [
        key for key, source in volume.entries() if key != "name" and source.value is not None
    ]
    forbidden = [s for s in sources if s not in RESTRICTED_VOLUME_TYPES]
    if forbidden:
        yield (
            f'volume "{volume.peek("name")}" ({volume.path}) is {", ".join(forbidden)}; '
            f"allowed volume types: {', '.join(RESTRICTED_VOLUME_TYPES)}"
        )


def _sysctls(spec: Field) -> Iterator[str]:
    for sysctl in spec.at("securityContext.sysctls").items():
        name = sysctl["name"]
        if name.known() not in SAFE_SYSCTLS:
            yield f"{name.path} {name.known()!r} is not a safe sysctl"


def _apparmor_annotations(template: Field) -> Iterator[str]:
    for key, value in template.at("metadata.annotations").entries():
        if not key.startswith(APPARMOR_ANNOTATION):
            continue
        profile = value.known()
        if profile not in ("", "runtime/default") and not str(profile).startswith("localhost/"):
            yield (f"{value.path} must be runtime/default or localhost/<profile>, not {profile!r}")


def _security_context(context: Field, who: str) -> Iterator[str]:
    """What is forbidden at both levels, the pod's securityContext and each container's."""
    prefix = f"{who}: " if who else ""
    if context["runAsNonRoot"].known() is False:
        yield f"{prefix}{context.path}.runAsNonRoot must not be false"
    if context["runAsUser"].known() == 0:
        yield f"{prefix}{context.path}.runAsUser must not be 0 (root)"
    seccomp = context.at("seccompProfile.type")
    if context["seccompProfile"].known() is not None and seccomp.known() not in SECCOMP_TYPES:
        yield f"{prefix}{seccomp.path} must be {_one_of(SECCOMP_TYPES)}, not {seccomp.known()!r}"
    apparmor = context.at("appArmorProfile.type")
    if context["appArmorProfile"].known() is not None and apparmor.known() not in APPARMOR_TYPES:
        yield (
            f"{prefix}{apparmor.path} must be {_one_of(APPARMOR_TYPES)}, not {apparmor.known()!r}"
        )
    selinux = context["seLinuxOptions"]
    if (selinux["type"].known() or "") not in SELINUX_TYPES:
        yield (
            f"{prefix}{selinux.path}.type must be unset or {_one_of(SELINUX_TYPES)}, "
            f"not {selinux['type'].known()!r}"
        )
    for key in ("user", "role"):
        if selinux[key].known():
            yield f"{prefix}{selinux.path}.{key} must be unset"
    host_process = context.at("windowsOptions.hostProcess")
    if host_process.known() is True:
        yield f"{prefix}{host_process.path} must be unset or false"


def _pod_security_context(spec: Field) -> Iterator[str]:
    yield from _security_context(spec["securityContext"], "")


# Container checks take (pod spec, container): some need the pod-level defaults.


def _container_security_context(_spec: Field, container: Field) -> Iterator[str]:
    yield from _security_context(container["securityContext"], _container(container))


def _privileges(_spec: Field, container: Field) -> Iterator[str]:
    who, context = _container(container), container["securityContext"]
    if context["privileged"].known() is True:
        yield f"{who}: {context.path}.privileged must be unset or false"
    if context["allowPrivilegeEscalation"].known() is not False:
        yield f"{who}: {context.path}.allowPrivilegeEscalation must be false"
    capabilities = context["capabilities"]
    if "ALL" not in (capabilities["drop"].known() or []):
        yield f"{who}: {capabilities.path}.drop must include ALL"
    added = [c for c in capabilities["add"].known() or [] if c not in ADDABLE_CAPABILITIES]
    if added:
        yield (
            f"{who}: {capabilities.path}.add may only hold {_one_of(ADDABLE_CAPABILITIES)}, "
            f"not {', '.join(map(str, added))}"
        )
    proc_mount = context["procMount"]
    if proc_mount.known() not in (None, "Default"):
        yield f"{who}: {proc_mount.path} must be unset or Default, not {proc_mount.known()!r}"


def _pod_level_defaults(spec: Field, container: Field) -> Iterator[str]:
    """runAsNonRoot and seccompProfile may be set once for the pod or in every container. A
    pod-level value that is set but wrong is reported once, by the pod's check."""
    who, context = _container(container), container["securityContext"]
    pod = spec["securityContext"]
    if context["runAsNonRoot"].known() is None and pod["runAsNonRoot"].known() is None:
        yield (
            f"{who}: runAsNonRoot must be true in {pod.path}.runAsNonRoot "
            f"or {context.path}.runAsNonRoot"
        )
    if context["seccompProfile"].known() is None and pod["seccompProfile"].known() is None:
        yield (
            f"{who}: seccompProfile.type must be {_one_of(SECCOMP_TYPES)} in "
            f"{pod.path}.seccompProfile or {context.path}.seccompProfile"
        )


def _host_ports(_spec: Field, container: Field) -> Iterator[str]:
    for port in container["ports"].items():
        host_port = port["hostPort"]
        if host_port.known() not in (None, 0):
            yield f"{_container(container)}: {host_port.path} must be unset or 0"


def _host_fields(_spec: Field, container: Field) -> Iterator[str]:
    for handler in (*PROBES, *LIFECYCLE_HANDLERS):
        for action in ("httpGet", "tcpSocket"):
            host = container.at(f"{handler}.{action}.host")
            if host.known():
                yield f"{_container(container)}: {host.path} must be unset"


_CONTAINER_CHECKS: tuple[tuple[str, Callable[[Field, Field], Iterator[str]]], ...] = (
    ("the security context", _container_security_context),
    ("the privileges", _privileges),
    ("runAsNonRoot and seccompProfile", _pod_level_defaults),
    ("the host ports", _host_ports),
    ("the probe and lifecycle hosts", _host_fields),
)


def pod_security_restricted(obj: Manifest) -> Result:
    findings = _Findings()
    with findings.checking("the pod template"):
        template = _pod_template(obj)
        if template is None:
            return findings.result()
        spec = template["spec"]
        findings.run("the host namespaces", _host_namespaces(spec))
        findings.run("the pod security context", _pod_security_context(spec))
        findings.run("the sysctls", _sysctls(spec))
        findings.run("the AppArmor annotations", _apparmor_annotations(template))
        with findings.checking("the volumes"):
            for volume in spec["volumes"].items():
                findings.run(f'volume "{volume.peek("name")}"', _volume(volume))
        for container in _containers(spec, findings):
            for what, container_check in _CONTAINER_CHECKS:
                findings.run(f"{what} of {_container(container)}", container_check(spec, container))
    return findings.result()


# --- the other rules -------------------------------------------------------------------------


def no_service_account_token(obj: Manifest) -> Result:
    findings = _Findings()
    with findings.checking("automountServiceAccountToken"):
        template = _pod_template(obj)
        if template is not None:
            setting = template.at("spec.automountServiceAccountToken")
            if setting.known() is not False:
                findings.violations.append(f"{setting.path} must be false")
    return findings.result()


# Kinds the cluster owns and the stacks only reference.
REFERENCED_ONLY = ("PersistentVolumeClaim", "Namespace", "Secret")


def no_pvc_namespace_or_secret(obj: Manifest) -> Result:
    findings = _Findings()
    kind = _kind(obj)
    if kind not in REFERENCED_ONLY:
        return findings.result()
    name = root(obj)["metadata"].peek("name")
    with findings.checking(f"whether {kind} {name} is the runner registration Secret"):
        label, value = REGISTRATION_TOKEN_LABEL
        labels = root(obj).at("metadata.labels")
        if kind == "Secret" and labels[label].known() == value:
            return findings.result()
        findings.violations.append(
            f"{kind} {name} must not be created here: the cluster owns it and the stacks only "
            f"reference it (the one Secret allowed is the registration token, labelled "
            f"{label}={value})"
        )
    return findings.result()


AUTONAMED = "pulumi.com/autonamed"


def explicit_name(obj: Manifest) -> Result:
    findings = _Findings()
    kind = _kind(obj)
    if kind is None or "apiVersion" not in obj or kind.endswith("List"):
        return findings.result()
    metadata = root(obj)["metadata"]
    with findings.checking("metadata.name"):
        name = metadata["name"].known()
        if not isinstance(name, str) or not name:
            findings.violations.append(
                "metadata.name must be set: an object without one gets a generated name, "
                "so it is never the production object it should be"
            )
    with findings.checking(f"the {AUTONAMED} annotation"):
        if metadata["annotations"][AUTONAMED].known() == "true":
            findings.violations.append(
                f"metadata.name {metadata.peek('name')!r} was generated by Pulumi "
                f"({AUTONAMED}): set metadata.name"
            )
    return findings.result()


# name[:tag][@digest]; a registry port (host:5000/...) is not a tag.
_DIGEST = re.compile(r"@[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def image_pin_problem(image: str) -> str | None:
    """Why an image reference does not pin what runs, or None when it does."""
    if "@" in image:
        return None if _DIGEST.search(image) else "has a malformed digest"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag, which means latest"
    if last.rsplit(":", 1)[1] == "latest":
        return "is tagged latest"
    return None


def _image(container: Field) -> Iterator[str]:
    image = container["image"]
    value = image.known()
    if not isinstance(value, str) or not value:
        yield f"{_container(container)}: {image.path} must be set"
        return
    problem = image_pin_problem(value)
    if problem:
        yield (
            f"{_container(container)}: {image.path} {value!r} {problem}: "
            "pin a version tag or a digest"
        )


def pinned_images(obj: Manifest) -> Result:
    findings = _Findings()
    with findings.checking("the images"):
        template = _pod_template(obj)
        if template is not None:
            for container in _containers(template["spec"], findings):
                findings.run(f"the image of {_container(container)}", _image(container))
    return findings.result()


RULES = (
    Rule(
        "pod-security-restricted",
        'Every pod meets the Pod Security Standard "restricted" profile.',
        pod_security_restricted,
    ),
    Rule(
        "no-service-account-token",
        "Pods do not mount a Kubernetes API token (automountServiceAccountToken: false): "
        "runner jobs run untrusted workflow code.",
        no_service_account_token,
    ),
    Rule(
        "no-pvc-namespace-or-secret",
        "The stacks create no PersistentVolumeClaim, Namespace or Secret: the cluster owns "
        "them. The one exception is the registration token Secret made from githubToken.",
        no_pvc_namespace_or_secret,
    ),
    Rule(
        "explicit-name",
        "Every Kubernetes object has an explicit metadata.name, so it is the production "
        "object and never a generated copy.",
        explicit_name,
    ),
    Rule(
        "pinned-images",
        "Every container image is pinned: a tag other than latest, or a digest.",
        pinned_images,
    ),
)


def check(obj: Manifest) -> dict[str, Result]:
    """Every rule on one object: {rule name: result}."""
    return {rule.name: rule.check(obj) for rule in RULES}
