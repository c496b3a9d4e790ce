"""Rules across keys of a runner stack, on the models that parsed, and the loader that applies
them: ``load_runner_stack`` raises them together with every type error,
each naming its full key, e.g. ``runner.replicas: must be >= 0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from runner_k8s.config.fields import is_extended_resource, normal_path
from runner_k8s.config.model import KeyPath, misplaced_secrets, parse_partly
from runner_k8s.config.runner import (
    SELF_HOSTED,
    Resources,
    RunnerConfig,
    RunnerStackConfig,
    Toleration,
)
from runner_k8s.errors import ConfigError, repeats
from runner_k8s.kube.images import is_digest, parse_image, parse_version, runner_version, show
from runner_k8s.kube.network_policy import egress_rule_problems
from runner_k8s.kube.quantity import parse_quantity
from runner_k8s.kube.schema import affinity_problems, egress_problems
from runner_k8s.stacks import SHARED_PROJECT

# The pod annotations gh-runner writes itself (rollout digests); podAnnotations may not use it.
ROLLOUT_ANNOTATION_PREFIX = "gh-runner/"
# The API server's limit on all annotations of an object together (keys and values).
ANNOTATIONS_MAX_BYTES = 256 * 1024


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


def _pvc_mounts_required(at: str, name: str) -> str:
    return (
        f"{at}.pvcMounts: is required: list the home claims to mount, e.g. [{{name: home, "
        f"claimName: {name}-home, mountPath: /home/runner}}], or write [] for none"
    )


def check_runner(runner: RunnerConfig, at: str) -> list[str]:
    """Rules across keys of one runner; ``at`` is the key the runner block sits under."""
    volumes: list[tuple[str, str]] = []
    mounts: list[tuple[str, str]] = []
    problems: list[str] = []
    if runner.pvc_mounts is None:
        # Explicit rather than a default: the old default (<name>-home at /home/runner) was never
        # production's layout, and a pod on a claim that does not exist stays Pending.
        problems.append(_pvc_mounts_required(at, runner.name))
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
    problems += _check_resources(runner.resources, f"{at}.resources")
    problems += _check_tolerations(runner.tolerations, f"{at}.tolerations")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in runner.pod_annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        problems.append(f"{at}.podAnnotations: {size} bytes, over the 256 KiB Kubernetes allows")
    return problems


def pass_through_problems(runner: Any, at: str) -> list[str]:
    """The blocks written in Kubernetes shape (``affinity``, ``networkPolicy.extraEgress``)
    against the Kubernetes schema and the API server's own rules; ``runner`` as written."""
    if not isinstance(runner, Mapping):
        return []
    problems = []
    affinity = runner.get("affinity")
    if isinstance(affinity, dict) and affinity:
        problems += affinity_problems(affinity, f"{at}.affinity")
    policy = runner.get("networkPolicy")
    egress = policy.get("extraEgress") if isinstance(policy, Mapping) else None
    if isinstance(egress, list) and egress and all(isinstance(r, dict) for r in egress):
        in_schema = egress_problems(egress, f"{at}.networkPolicy.extraEgress")
        keys = [p.partition(": ")[0] for p in in_schema]
        problems += in_schema + [
            # A rule about what holds a value the schema refused already ("names no peer" for a
            # peer with a misspelt ipBlok) would say the same thing twice.
            p
            for p in egress_rule_problems(egress, f"{at}.networkPolicy.extraEgress")
            if not any(k.startswith(p.partition(": ")[0] + ".") for k in keys)
        ]
    return problems


def _whole_number(quantity: Decimal) -> bool:
    # Not `% 1`: Decimal cannot take the remainder of 1e300 (DivisionImpossible).
    return quantity == quantity.to_integral_value()


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
            if is_extended_resource(resource) and not _whole_number(parse_quantity(quantity)):
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


# Stand-ins for the required values of a runner that failed, so the rules across keys can still
# judge the rest; no problem about them is reported (Parsed.about_dropped).
_STAND_INS: dict[KeyPath, Any] = {
    ("runner", "name"): "runner",
    ("runner", "image"): "stand-in:0.0.0",
}


def load_runner_stack(
    values: Mapping[str, Any], secret_keys: set[str] | None = None, earlier: Sequence[str] = ()
) -> RunnerStackConfig:
    """Validate a runner stack's config and raise every problem at once: ``earlier`` ones (the
    stack file's own), secrets where none may be, every value that does not parse, and the rules
    across keys on the values that did. ``secret_keys``: where the ``--secret`` values are."""
    problems = [*earlier, *misplaced_secrets(secret_keys or set(), allowed=set())]
    parsed = parse_partly(RunnerStackConfig, values, _STAND_INS)
    problems += parsed.problems
    # Checked on the values as written (they pass through as written), each reported once.
    named = {p.partition(": ")[0] for p in problems}
    problems += [
        p
        for p in pass_through_problems(values.get("runner"), "runner")
        if p.partition(": ")[0] not in named
    ]
    config = parsed.model
    if config is not None:
        across = check_runner(config.runner, "runner")
        if config.allow_cross_stack and config.shared_stack is None:
            across.append("allowCrossStack: only meaningful together with sharedStack")
        problems += [p for p in across if not parsed.about_dropped(p)]
    if problems:
        raise ConfigError(problems)
    assert config is not None  # no problem: everything parsed
    return config
