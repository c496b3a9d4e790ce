"""The join of ``gh-runner status``: each fleet's pods and registrations into rows and verdicts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from runner_k8s.status import DEFAULT_GRACE
from runner_k8s.status.model import (
    RESTART_BACKOFF_CAP,
    UNHEALABLE_WAITING,
    ClusterFacts,
    Fleet,
    FleetReport,
    Pod,
    Row,
    Runner,
    Scope,
    Verdict,
)

# --- the join ----------------------------------------------------------------------------------


def folded(labels: Iterable[str]) -> frozenset[str]:
    # GitHub matches labels case-insensitively (`GPU` and `gpu` are one label).
    return frozenset(label.casefold() for label in labels)


def pod_shaped(fleet: Fleet, name: str) -> bool:
    """Named as a ReplicaSet of this Deployment names its pods: NAME-<template hash>-<5 chars>."""
    return re.fullmatch(rf"{re.escape(fleet.name)}-[a-z0-9]+-[a-z0-9]{{5}}", name) is not None


def belongs(fleet: Fleet, runner: Runner) -> bool:
    """A registration with no pod of this fleet is shown with the fleet when it is named like one
    of its pods, or carries exactly the fleet's labels (a fleet with no labels claims none that
    way: every runner of the repository would match). Shown, not owned: see ``_orphan_row``."""
    if pod_shaped(fleet, runner.name):
        return True
    return bool(fleet.labels) and folded(runner.labels) == folded(fleet.labels)


def label_drift(fleet: Fleet, runner: Runner) -> tuple[list[str], list[str]]:
    """(missing, unexpected): labels of runner.labels it lacks, custom labels it has beyond them.
    A configured label that GitHub also gives as read-only (e.g. `linux`) counts as present."""
    want = folded(fleet.labels)
    has = folded(runner.labels) | folded(runner.system_labels)
    missing = sorted(label for label in fleet.labels if label.casefold() not in has)
    unexpected = sorted(label for label in runner.labels if label.casefold() not in want)
    return missing, unexpected


def human_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _not_running(pod: Pod) -> str:
    why = pod.waiting or pod.phase
    if pod.last_exit:
        why += f", last {pod.last_exit}"
    if pod.mount_event:
        why += f": {pod.mount_event}"
    return why


def _pod_row(fleet: Fleet, pod: Pod, runner: Runner | None, now: datetime, grace: timedelta) -> Row:
    logs = f"`kubectl -n {fleet.namespace} logs {pod.name}`"
    # GitHub's "online" is only as fresh as the runner's last contact: a runner process that died
    # leaves its registration online for a while. So a registration serves only while its pod's
    # runner actually runs.
    if runner is not None and runner.online and pod.running_since is not None:
        missing, unexpected = label_drift(fleet, runner)
        if not missing and not unexpected:
            return Row(pod.name, Verdict.SERVING, pod, runner)
        differences = [f"missing {', '.join(missing)}"] if missing else []
        differences += [f"unexpected {', '.join(unexpected)}"] if unexpected else []
        problem = (
            f"runner {runner.name}: registered labels differ from runner.labels "
            f"[{', '.join(fleet.labels)}] ({'; '.join(differences)}; compared case-insensitively, "
            "as GitHub does): its pod started with other RUNNER_LABELS (stack not updated?) or "
            "the labels were edited on GitHub; jobs for this fleet may not reach it"
        )
        return Row(pod.name, Verdict.LABEL_DRIFT, pod, runner, problem)
    if pod.terminating:
        return Row(pod.name, Verdict.TERMINATING, pod, runner)
    if pod.running_since is None:
        if pod.between_jobs_since is not None:
            idle = now - pod.between_jobs_since
            if idle <= RESTART_BACKOFF_CAP:
                # An ephemeral runner exits 0 after its job; the kubelet restarts it in place.
                return Row(pod.name, Verdict.BETWEEN_JOBS, pod, runner)
            problem = (
                f"pod {pod.name}: its runner exited 0 after a job {human_age(idle)} ago and has "
                f"not been restarted, though the kubelet's back-off is at most "
                f"{human_age(RESTART_BACKOFF_CAP)}; see `kubectl -n {fleet.namespace} describe "
                f"pod {pod.name}`"
            )
            return Row(pod.name, Verdict.NOT_RUNNING, pod, runner, problem)
        problem = f"pod {pod.name}: not running ({_not_running(pod)})"
        if runner is not None and runner.online:
            problem += (
                f"; GitHub still shows runner {runner.name} online, from before its runner "
                "stopped (GitHub marks it offline only when the runner's session times out)"
            )
        return Row(pod.name, Verdict.NOT_RUNNING, pod, runner, problem)
    running_for = now - pod.running_since
    if running_for < grace:
        # Registration takes a few seconds after the container starts; an offline registration
        # of the same name is about to be replaced (RUNNER_REPLACE).
        return Row(pod.name, Verdict.STARTING, pod, runner)
    if runner is not None:
        problem = (
            f"runner {runner.name}: registered but offline while its pod has run for "
            f"{human_age(running_for)}: the runner process is not connected to GitHub; see {logs}"
        )
        return Row(pod.name, Verdict.OFFLINE, pod, runner, problem)
    problem = (
        f"pod {pod.name}: running for {human_age(running_for)} but not registered with the "
        f"{fleet.scope}; the usual causes: the registration token (GITHUB_PAT expired, revoked "
        f"or without {_registration_permission(fleet.scope)}), GITHUB_URL not naming the "
        f"{fleet.scope}, or a runner version GitHub no longer accepts (updates are disabled in "
        f"the image); {logs} says which"
    )
    return Row(pod.name, Verdict.NOT_REGISTERED, pod, None, problem)


def _registration_permission(scope: Scope) -> str:
    if scope.kind == "organization":
        return 'organization permission "Self-hosted runners": write'
    return "repository permission Administration: write"


def _foreign(fleet: Fleet, runner: Runner) -> list[str]:
    """Why an offline registration with no pod cannot be proven this fleet's own."""
    why = []
    if not pod_shaped(fleet, runner.name):
        why.append(f"not named like a pod of {fleet.name}")
    if not runner.ephemeral:
        why.append("not ephemeral")
    return why


def _orphan_row(fleet: Fleet, runner: Runner) -> Row:
    """A registration of the fleet's shape or labels with no pod of the fleet.

    Only a ghost may ever be deleted, and a ghost is only what this fleet provably left behind:
    offline, not busy, ephemeral (as every runner of the fleet registers) and named like one of
    its pods. Anything else may be another fleet's, another cluster's or a hand-started runner;
    GitHub itself removes an offline runner after 14 days (an ephemeral one after 1 day)."""
    if runner.online:
        problem = (
            f"runner {runner.name}: online with this fleet's labels but no pod of the fleet runs "
            "it: another cluster, namespace or a hand-started runner takes this fleet's jobs"
        )
        return Row(runner.name, Verdict.NO_POD, None, runner, problem)
    why = _foreign(fleet, runner)
    if why:
        note = (
            f"runner {runner.name} (id {runner.id}): foreign runner: not removed (offline with "
            f"this fleet's labels, but {' and '.join(why)})"
        )
        return Row(runner.name, Verdict.FOREIGN, None, runner, note=note)
    if runner.busy:
        problem = (
            f"runner {runner.name} (id {runner.id}): offline with no pod, but GitHub still "
            "marks it busy; left alone until GitHub gives up the job"
        )
        return Row(runner.name, Verdict.GHOST_BUSY, None, runner, problem)
    problem = (
        f"runner {runner.name} (id {runner.id}): ghost, offline with no pod (killed before "
        "it could unregister); remove it with --remove-ghosts"
    )
    return Row(runner.name, Verdict.GHOST, None, runner, problem)


def judge(
    fleet: Fleet,
    cluster: ClusterFacts,
    runners: Sequence[Runner],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> FleetReport:
    """One fleet's rows and, when it is not healthy, the reasons why."""
    by_name = {r.name: r for r in runners}
    pods = sorted(cluster.pods, key=lambda p: p.name)
    pod_names = {p.name for p in pods}
    rows = [_pod_row(fleet, pod, by_name.get(pod.name), now, grace) for pod in pods]
    rows += [
        _orphan_row(fleet, r)
        for r in sorted(runners, key=lambda r: r.name)
        if r.name not in pod_names and belongs(fleet, r)
    ]

    problems: list[str] = []
    unhealable: list[str] = []
    deployment = cluster.deployment
    where = f"Deployment {fleet.namespace}/{fleet.name}"
    if deployment is None:
        problems.append(f"{where} not found: `pulumi up` the stack of {fleet.stack}")
        unhealable.append(problems[-1])
    elif deployment.desired != fleet.replicas:
        problems.append(
            f"{where} asks for {deployment.desired} replicas but runner.replicas is "
            f"{fleet.replicas}: scaled outside Pulumi, or the stack is not updated"
        )
    serving = sum(1 for r in rows if r.verdict is Verdict.SERVING)
    between = sum(1 for r in rows if r.verdict is Verdict.BETWEEN_JOBS)
    if serving + between < fleet.replicas:
        starting = sum(1 for r in rows if r.verdict is Verdict.STARTING)
        waiting = f", {between} between jobs" if between else ""
        waiting += f", {starting} starting within the {human_age(grace)} grace" if starting else ""
        problems.insert(0, f"{serving} of {fleet.replicas} runners serving{waiting}")
    problems += [r.problem for r in rows if r.problem is not None]
    unhealable += [
        r.problem
        for r in rows
        if r.problem is not None and r.pod is not None and _cannot_heal(r.pod)
    ]
    return FleetReport(fleet, deployment, tuple(rows), tuple(problems), tuple(unhealable))


def _cannot_heal(pod: Pod) -> bool:
    """A fault the kubelet's retries will not cure: a wrong or missing image, a failed mount."""
    return pod.running_since is None and (pod.waiting in UNHEALABLE_WAITING or pod.mount_failed)
