"""The rules called directly: each bad object is a good rendered one with one mutation, and it
must produce exactly its one violation and nothing else."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gh_runner_policies.rules import RESTRICTED_VOLUME_TYPES, check, image_pin_problem
from gh_runner_policies.unknowns import UNKNOWN

Manifest = dict[str, Any]


def findings(obj: Manifest) -> dict[str, list[str]]:
    """Every violation, by rule; rules with none left out."""
    return {name: list(r.violations) for name, r in check(obj).items() if r.violations}


def gaps(obj: Manifest) -> dict[str, list[str]]:
    return {name: list(r.unknown) for name, r in check(obj).items() if r.unknown}


def mutated(good: Manifest, mutate: Callable[[Manifest], object]) -> Manifest:
    bad = copy.deepcopy(good)
    mutate(bad)
    return bad


def pod(d: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = d["spec"]["template"]["spec"]
    return spec


def runner(d: Manifest) -> dict[str, Any]:
    container: dict[str, Any] = pod(d)["containers"][0]
    return container


def pod_sc(d: Manifest) -> dict[str, Any]:
    context: dict[str, Any] = pod(d)["securityContext"]
    return context


def runner_sc(d: Manifest) -> dict[str, Any]:
    context: dict[str, Any] = runner(d)["securityContext"]
    return context


def source(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A home volume's claim swapped for another source (update the volume with it)."""
    return {"persistentVolumeClaim": None, kind: spec}


def moved(source: dict[str, Any], target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only at ``target``, no longer at ``source``."""
    source.pop(key)
    target[key] = value


P = "spec.template.spec"
C = f"{P}.containers[0]"
RUNNER = 'container "runner"'


def test_every_rendered_object_passes(rendered: list[Manifest]) -> None:
    assert {m["kind"] for m in rendered} == {"ConfigMap", "Deployment"}
    for obj in rendered:
        assert findings(obj) == {}, obj["metadata"]["name"]
        assert gaps(obj) == {}, obj["metadata"]["name"]


PSS = "pod-security-restricted"

BAD_PODS: list[tuple[str, Callable[[Manifest], object], str]] = [
    (
        "hostNetwork",
        lambda d: pod(d).update(hostNetwork=True),
        f"{P}.hostNetwork must be unset or false",
    ),
    ("hostPID", lambda d: pod(d).update(hostPID=True), f"{P}.hostPID must be unset or false"),
    ("hostIPC", lambda d: pod(d).update(hostIPC=True), f"{P}.hostIPC must be unset or false"),
    (
        "hostPath volume",
        lambda d: pod(d)["volumes"].append({"name": "docker", "hostPath": {"path": "/var/run"}}),
        f'volume "docker" ({P}.volumes[3]) is hostPath; allowed volume types: '
        + ", ".join(RESTRICTED_VOLUME_TYPES),
    ),
    (
        "nfs volume",
        lambda d: pod(d)["volumes"][0].update(source("nfs", {"server": "nas", "path": "/"})),
        f'volume "codex-home" ({P}.volumes[0]) is nfs; allowed volume types: '
        + ", ".join(RESTRICTED_VOLUME_TYPES),
    ),
    (
        "privileged",
        lambda d: runner_sc(d).update(privileged=True),
        f"{RUNNER}: {C}.securityContext.privileged must be unset or false",
    ),
    (
        "allowPrivilegeEscalation unset",
        lambda d: runner_sc(d).pop("allowPrivilegeEscalation"),
        f"{RUNNER}: {C}.securityContext.allowPrivilegeEscalation must be false",
    ),
    (
        "allowPrivilegeEscalation true",
        lambda d: runner_sc(d).update(allowPrivilegeEscalation=True),
        f"{RUNNER}: {C}.securityContext.allowPrivilegeEscalation must be false",
    ),
    (
        "capabilities not dropped",
        lambda d: runner_sc(d).pop("capabilities"),
        f"{RUNNER}: {C}.securityContext.capabilities.drop must include ALL",
    ),
    (
        "capability added",
        lambda d: runner_sc(d)["capabilities"].update(add=["NET_BIND_SERVICE", "SYS_ADMIN"]),
        f"{RUNNER}: {C}.securityContext.capabilities.add may only hold NET_BIND_SERVICE, "
        "not SYS_ADMIN",
    ),
    (
        "runAsNonRoot nowhere",
        lambda d: pod_sc(d).pop("runAsNonRoot"),
        f"{RUNNER}: runAsNonRoot must be true in {P}.securityContext.runAsNonRoot "
        f"or {C}.securityContext.runAsNonRoot",
    ),
    (
        "runAsNonRoot false for the pod",
        lambda d: pod_sc(d).update(runAsNonRoot=False),
        f"{P}.securityContext.runAsNonRoot must not be false",
    ),
    (
        "runAsNonRoot false for a container",
        lambda d: runner_sc(d).update(runAsNonRoot=False),
        f"{RUNNER}: {C}.securityContext.runAsNonRoot must not be false",
    ),
    (
        "root user for the pod",
        lambda d: pod_sc(d).update(runAsUser=0),
        f"{P}.securityContext.runAsUser must not be 0 (root)",
    ),
    (
        "root user for a container",
        lambda d: runner_sc(d).update(runAsUser=0),
        f"{RUNNER}: {C}.securityContext.runAsUser must not be 0 (root)",
    ),
    (
        "seccomp nowhere",
        lambda d: pod_sc(d).pop("seccompProfile"),
        f"{RUNNER}: seccompProfile.type must be RuntimeDefault or Localhost in "
        f"{P}.securityContext.seccompProfile or {C}.securityContext.seccompProfile",
    ),
    (
        "seccomp unconfined for the pod",
        lambda d: pod_sc(d).update(seccompProfile={"type": "Unconfined"}),
        f"{P}.securityContext.seccompProfile.type must be RuntimeDefault or Localhost, "
        "not 'Unconfined'",
    ),
    (
        "seccomp unconfined for a container",
        lambda d: runner_sc(d).update(seccompProfile={"type": "Unconfined"}),
        f"{RUNNER}: {C}.securityContext.seccompProfile.type must be RuntimeDefault or "
        "Localhost, not 'Unconfined'",
    ),
    (
        "AppArmor unconfined",
        lambda d: pod_sc(d).update(appArmorProfile={"type": "Unconfined"}),
        f"{P}.securityContext.appArmorProfile.type must be RuntimeDefault or Localhost, "
        "not 'Unconfined'",
    ),
    (
        "AppArmor annotation",
        lambda d: d["spec"]["template"]["metadata"].update(
            annotations={"container.apparmor.security.beta.kubernetes.io/runner": "unconfined"}
        ),
        "spec.template.metadata.annotations.container.apparmor.security.beta.kubernetes.io/"
        "runner must be runtime/default or localhost/<profile>, not 'unconfined'",
    ),
    (
        "SELinux type",
        lambda d: runner_sc(d).update(seLinuxOptions={"type": "spc_t"}),
        f"{RUNNER}: {C}.securityContext.seLinuxOptions.type must be unset or container_t or "
        "container_init_t or container_kvm_t or container_engine_t, not 'spc_t'",
    ),
    (
        "SELinux user",
        lambda d: pod_sc(d).update(seLinuxOptions={"user": "system_u"}),
        f"{P}.securityContext.seLinuxOptions.user must be unset",
    ),
    (
        "Windows host process",
        lambda d: runner_sc(d).update(windowsOptions={"hostProcess": True}),
        f"{RUNNER}: {C}.securityContext.windowsOptions.hostProcess must be unset or false",
    ),
    (
        "unsafe sysctl",
        lambda d: pod_sc(d).update(sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
        f"{P}.securityContext.sysctls[0].name 'kernel.msgmax' is not a safe sysctl",
    ),
    (
        "host port",
        lambda d: runner(d).update(ports=[{"containerPort": 8080, "hostPort": 8080}]),
        f"{RUNNER}: {C}.ports[0].hostPort must be unset or 0",
    ),
    (
        "unmasked /proc",
        lambda d: runner_sc(d).update(procMount="Unmasked"),
        f"{RUNNER}: {C}.securityContext.procMount must be unset or Default, not 'Unmasked'",
    ),
    (
        "probe on another host",
        lambda d: runner(d).update(
            livenessProbe={"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}}
        ),
        f"{RUNNER}: {C}.livenessProbe.httpGet.host must be unset",
    ),
    (
        "privileged init container",
        lambda d: pod(d).update(
            initContainers=[
                {**copy.deepcopy(runner(d)), "name": "setup"}
                | {"securityContext": {**runner_sc(d), "privileged": True}}
            ]
        ),
        f'container "setup": {P}.initContainers[0].securityContext.privileged '
        "must be unset or false",
    ),
    (
        "ephemeral container that may escalate",
        lambda d: pod(d).update(
            ephemeralContainers=[
                {**copy.deepcopy(runner(d)), "name": "debug"}
                | {"securityContext": {**runner_sc(d), "allowPrivilegeEscalation": True}}
            ]
        ),
        f'container "debug": {P}.ephemeralContainers[0].securityContext.'
        "allowPrivilegeEscalation must be false",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [(m, msg) for _, m, msg in BAD_PODS], ids=[i for i, _, _ in BAD_PODS]
)
def test_each_restricted_control_is_one_violation(
    deployment: Manifest, mutate: Callable[[Manifest], object], message: str
) -> None:
    assert findings(mutated(deployment, mutate)) == {PSS: [message]}


ALLOWED: list[tuple[str, Callable[[Manifest], object]]] = [
    ("NET_BIND_SERVICE", lambda d: runner_sc(d)["capabilities"].update(add=["NET_BIND_SERVICE"])),
    (
        "runAsNonRoot on the container only",
        lambda d: moved(pod_sc(d), runner_sc(d), "runAsNonRoot", True),
    ),
    (
        "seccomp Localhost on the container only",
        lambda d: moved(pod_sc(d), runner_sc(d), "seccompProfile", {"type": "Localhost"}),
    ),
    ("a safe sysctl", lambda d: pod_sc(d).update(sysctls=[{"name": "net.ipv4.tcp_syncookies"}])),
    ("host port 0", lambda d: runner(d).update(ports=[{"containerPort": 80, "hostPort": 0}])),
    ("procMount Default", lambda d: runner_sc(d).update(procMount="Default")),
    ("SELinux container_t", lambda d: pod_sc(d).update(seLinuxOptions={"type": "container_t"})),
    ("AppArmor Localhost", lambda d: pod_sc(d).update(appArmorProfile={"type": "Localhost"})),
    ("hostNetwork false", lambda d: pod(d).update(hostNetwork=False)),
    *[
        (
            f"{source} volume",
            lambda d, s=source: pod(d)["volumes"].append({"name": "extra", s: {}}),
        )
        for source in RESTRICTED_VOLUME_TYPES
    ],
]


@pytest.mark.parametrize("mutate", [m for _, m in ALLOWED], ids=[i for i, _ in ALLOWED])
def test_what_restricted_allows_passes(
    deployment: Manifest, mutate: Callable[[Manifest], object]
) -> None:
    assert findings(mutated(deployment, mutate)) == {}


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: pod(d).pop("automountServiceAccountToken"),
        lambda d: pod(d).update(automountServiceAccountToken=True),
    ],
    ids=["unset", "true"],
)
def test_service_account_token(deployment: Manifest, mutate: Callable[[Manifest], object]) -> None:
    assert findings(mutated(deployment, mutate)) == {
        "no-service-account-token": [f"{P}.automountServiceAccountToken must be false"]
    }


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("ghcr.io/spigell/codex-github-runner:latest", "is tagged latest"),
        ("ghcr.io/spigell/codex-github-runner", "has no tag, which means latest"),
        ("registry.local:5000/runner", "has no tag, which means latest"),
        ("ghcr.io/spigell/codex-github-runner@sha256:1234", "has a malformed digest"),
    ],
)
def test_unpinned_images(deployment: Manifest, image: str, problem: str) -> None:
    bad = mutated(deployment, lambda d: runner(d).update(image=image))
    assert findings(bad) == {
        "pinned-images": [f"{RUNNER}: {C}.image {image!r} {problem}: pin a version tag or a digest"]
    }


DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/spigell/codex-github-runner:2.329.0-7e2153",
        f"ghcr.io/spigell/codex-github-runner@{DIGEST}",
        f"ghcr.io/spigell/codex-github-runner:latest@{DIGEST}",
        "registry.local:5000/runner:1.2",
        "runner:latest-but-pinned",
    ],
)
def test_pinned_images(image: str) -> None:
    assert image_pin_problem(image) is None


def test_a_missing_image_is_named(deployment: Manifest) -> None:
    bad = mutated(deployment, lambda d: runner(d).pop("image"))
    assert findings(bad) == {"pinned-images": [f"{RUNNER}: {C}.image must be set"]}


def test_names_must_be_explicit(deployment: Manifest) -> None:
    unnamed = mutated(deployment, lambda d: d["metadata"].pop("name"))
    assert findings(unnamed) == {
        "explicit-name": [
            "metadata.name must be set: an object without one gets a generated name, so it is "
            "never the production object it should be"
        ]
    }
    # What pulumi-kubernetes hands the policy after it auto-named an object.
    autonamed = mutated(
        deployment,
        lambda d: d["metadata"].update(
            name="codex-gh-runner-x1y2z3", annotations={"pulumi.com/autonamed": "true"}
        ),
    )
    assert findings(autonamed) == {
        "explicit-name": [
            "metadata.name 'codex-gh-runner-x1y2z3' was generated by Pulumi "
            "(pulumi.com/autonamed): set metadata.name"
        ]
    }


@pytest.mark.parametrize("kind", ["PersistentVolumeClaim", "Namespace", "Secret"])
def test_cluster_owned_kinds_are_not_created(rendered: list[Manifest], kind: str) -> None:
    [config_map] = [m for m in rendered if m["kind"] == "ConfigMap"]
    bad = mutated(config_map, lambda m: m.update(kind=kind))
    assert findings(bad) == {
        "no-pvc-namespace-or-secret": [
            f"{kind} codex-config-gh-runner must not be created here: the cluster owns it and "
            "the stacks only reference it (the one Secret allowed is the registration token, "
            "labelled app.kubernetes.io/component=runner-registration-token)"
        ]
    }


def test_a_pod_outside_a_deployment_is_checked_too(deployment: Manifest) -> None:
    template = deployment["spec"]["template"]
    bare = {"apiVersion": "v1", "kind": "Pod", "metadata": {**template["metadata"], "name": "p"}}
    bare["spec"] = copy.deepcopy(template["spec"])
    assert findings(bare) == {}
    bare["spec"]["hostPID"] = True
    assert findings(bare) == {PSS: ["spec.hostPID must be unset or false"]}


# --- values not known during preview ----------------------------------------------------------


def test_an_unknown_namespace_is_not_a_gap(deployment: Manifest) -> None:
    # The namespace comes from the shared stack's StackReference; no rule needs it.
    preview = mutated(deployment, lambda d: d["metadata"].update(namespace=UNKNOWN))
    assert findings(preview) == {}
    assert gaps(preview) == {}


def test_an_unknown_image_is_reported_not_guessed(deployment: Manifest) -> None:
    preview = mutated(deployment, lambda d: runner(d).update(image=UNKNOWN))
    assert findings(preview) == {}
    assert gaps(preview) == {
        "pinned-images": [
            f"cannot check the image of {RUNNER} until apply: {C}.image is not known during preview"
        ]
    }


def test_an_unknown_field_skips_only_its_own_check(deployment: Manifest) -> None:
    def mutate(d: Manifest) -> None:
        runner_sc(d).update(privileged=True)
        pod_sc(d)["seccompProfile"] = UNKNOWN

    preview = mutated(deployment, mutate)
    assert findings(preview) == {
        PSS: [f"{RUNNER}: {C}.securityContext.privileged must be unset or false"]
    }
    assert gaps(preview) == {
        PSS: [
            "cannot check the pod security context until apply: "
            f"{P}.securityContext.seccompProfile is not known during preview",
            f"cannot check runAsNonRoot and seccompProfile of {RUNNER} until apply: "
            f"{P}.securityContext.seccompProfile is not known during preview",
        ]
    }


def test_a_wholly_unknown_spec_is_reported_by_every_pod_rule(deployment: Manifest) -> None:
    preview = mutated(deployment, lambda d: d.update(spec=UNKNOWN))
    assert findings(preview) == {}
    unknown = "until apply: spec is not known during preview"
    assert gaps(preview) == {
        PSS: [f"cannot check the pod template {unknown}"],
        "no-service-account-token": [f"cannot check automountServiceAccountToken {unknown}"],
        "pinned-images": [f"cannot check the images {unknown}"],
    }


def test_an_unknown_container_list_is_one_gap(deployment: Manifest) -> None:
    preview = mutated(deployment, lambda d: pod(d).update(containers=UNKNOWN))
    gap = f"cannot check the containers until apply: {P}.containers is not known during preview"
    assert gaps(preview) == {PSS: [gap], "pinned-images": [gap]}
    assert findings(preview) == {}


def test_an_unknown_name_is_a_gap_not_a_violation(deployment: Manifest) -> None:
    preview = mutated(deployment, lambda d: d["metadata"].update(name=UNKNOWN))
    assert findings(preview) == {}
    assert gaps(preview) == {
        "explicit-name": [
            "cannot check metadata.name until apply: metadata.name is not known during preview"
        ]
    }
