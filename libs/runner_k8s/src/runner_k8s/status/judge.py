"""The join of ``gh-runner status``: each fleet's pods and registrations into rows and verdicts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from runner_k8s.status.model import (
    DEFAULT_GRACE,
    ClusterFacts,
    Fleet,
    FleetReport,
    Pod,
    Row,
    Runner,
    Verdict,
)

# --- the join ----------------------------------------------------------------------------------


def folded(labels: Iterable[str]) -> frozenset[str]:
    # GitHub matches labels case-insensitively (`GPU` and `gpu` are one label).
    return frozenset(label.casefold() for label in labels)


def _replica_set_pod(fleet: Fleet, name: str) -> bool:
    """Named as a ReplicaSet of this Deployment names its pods: NAME-<template hash>-<5 chars>."""
    return re.fullmatch(rf"{re.escape(fleet.name)}-[a-z0-9]+-[a-z0-9]{{5}}", name) is not None


def belongs(fleet: Fleet, runner: Runner) -> bool:
    """A registration with no pod of this fleet is still the fleet's when it is named like one of
    its pods, or carries exactly the fleet's labels (a fleet with no labels claims none that way:
    every runner of the repository would match)."""
    if _replica_set_pod(fleet, runner.name):
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
    if pod.mount_event:
        why += f": {pod.mount_event}"
    return why


def _pod_row(fleet: Fleet, pod: Pod, runner: Runner | None, now: datetime, grace: timedelta) -> Row:
    logs = f"`kubectl -n {fleet.namespace} logs {pod.name}`"
    if runner is not None and runner.online:
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
        problem = f"pod {pod.name}: not running ({_not_running(pod)})"
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
        f"pod {pod.name}: running for {human_age(running_for)} but not registered with "
        f"{fleet.repo}; the usual causes: the registration token (GITHUB_PAT expired, revoked or "
        "without Administration write on the repository), GITHUB_URL not naming "
        f"https://github.com/{fleet.repo}, or a runner version GitHub no longer accepts "
        f"(updates are disabled in the image); {logs} says which"
    )
    return Row(pod.name, Verdict.NOT_REGISTERED, pod, None, problem)


def _orphan_row(runner: Runner) -> Row:
    if runner.online:
        problem = (
            f"runner {runner.name}: online with this fleet's labels but no pod of the fleet runs "
            "it: another cluster, namespace or a hand-started runner takes this fleet's jobs"
        )
        return Row(runner.name, Verdict.NO_POD, None, runner, problem)
    if runner.busy:
        problem = (
            f"runner {runner.name} (id {runner.id}): ghost, offline with no pod, but GitHub still "
            "marks it busy; left alone until GitHub gives up the job"
        )
    else:
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
        _orphan_row(r)
        for r in sorted(runners, key=lambda r: r.name)
        if r.name not in pod_names and belongs(fleet, r)
    ]

    problems: list[str] = []
    deployment = cluster.deployment
    where = f"Deployment {fleet.namespace}/{fleet.name}"
    if deployment is None:
        problems.append(f"{where} not found: `pulumi up` the stack of {fleet.stack}")
    elif deployment.desired != fleet.replicas:
        problems.append(
            f"{where} asks for {deployment.desired} replicas but runner.replicas is "
            f"{fleet.replicas}: scaled outside Pulumi, or the stack is not updated"
        )
    serving = sum(1 for r in rows if r.verdict is Verdict.SERVING)
    if serving < fleet.replicas:
        starting = sum(1 for r in rows if r.verdict is Verdict.STARTING)
        waiting = f" ({starting} starting, within the {human_age(grace)} grace)" if starting else ""
        problems.insert(0, f"{serving} of {fleet.replicas} runners serving{waiting}")
    problems += [r.problem for r in rows if r.problem is not None]
    return FleetReport(fleet, deployment, tuple(rows), tuple(problems))


def without(runners: Sequence[Runner], removed: Iterable[Runner]) -> list[Runner]:
    gone = {r.id for r in removed}
    return [r for r in runners if r.id not in gone]
