"""The verdict of ``gh-runner status``: is each fleet actually serving jobs?

A pure join of three views of one fleet: what stack config says it should be (:class:`Fleet`),
what the cluster runs (:class:`ClusterFacts`) and what GitHub has registered (:class:`Runner`).
The runner image registers each runner under its pod's hostname, which is the pod name, so a
pod and its registration meet by name. Everything here is plain data in, plain data out: the
clients that fetch the facts live in ``cluster_api`` and ``github_api``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

EXIT_HEALTHY = 0
EXIT_DEGRADED = 1

DEFAULT_GRACE = timedelta(seconds=120)


@dataclass(frozen=True)
class Fleet:
    """One runner fleet as its stack config declares it."""

    stack: str  # where it is declared, for messages: stacks/codex-runner/Pulumi.dev.yaml
    name: str  # the Deployment, its `app` label, and the prefix of its pods' names
    namespace: str
    selector: tuple[tuple[str, str], ...]
    replicas: int
    labels: tuple[str, ...]  # runner.labels: what each runner registers with besides GitHub's own
    repo: str  # OWNER/NAME the runners register with

    @property
    def selector_text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.selector)


@dataclass(frozen=True)
class Deployment:
    desired: int
    updated: int
    ready: int
    available: int


@dataclass(frozen=True)
class Pod:
    name: str
    phase: str  # Pending, Running, Succeeded, Failed, Unknown
    ready_containers: int
    containers: int
    restarts: int
    created: datetime
    # When its containers last started running; None while any of them is not running. An
    # ephemeral runner's container restarts after every job and registers anew, so the grace
    # period counts from here, not from the pod's creation.
    running_since: datetime | None
    waiting: str | None = None  # why a container is not running: ImagePullBackOff, Unschedulable...
    mount_event: str | None = None  # a ContainerCreating pod's FailedMount / Multi-Attach event
    terminating: bool = False


@dataclass(frozen=True)
class ClusterFacts:
    deployment: Deployment | None  # None: no such Deployment
    pods: tuple[Pod, ...]


@dataclass(frozen=True)
class Runner:
    """One registration in GitHub's runner list of the repository."""

    id: int
    name: str
    online: bool
    busy: bool
    labels: tuple[str, ...]  # custom labels, as registered (RUNNER_LABELS or edited on GitHub)
    # GitHub's own read-only labels (self-hosted, Linux, X64): never part of runner.labels.
    system_labels: tuple[str, ...] = ()


class Verdict(StrEnum):
    SERVING = "serving"
    LABEL_DRIFT = "label drift"
    STARTING = "starting"
    NOT_REGISTERED = "not registered"
    OFFLINE = "offline"
    NOT_RUNNING = "not running"
    TERMINATING = "terminating"
    GHOST = "ghost"
    NO_POD = "online, no pod"


@dataclass(frozen=True)
class Row:
    """A pod of the fleet, with its registration if any, or a registration with no pod."""

    name: str
    verdict: Verdict
    pod: Pod | None
    runner: Runner | None
    problem: str | None = None


@dataclass(frozen=True)
class FleetReport:
    fleet: Fleet
    deployment: Deployment | None
    rows: tuple[Row, ...]
    problems: tuple[str, ...]  # why the fleet is degraded, most important first; empty: healthy

    @property
    def serving(self) -> int:
        return sum(1 for r in self.rows if r.verdict is Verdict.SERVING)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def ghosts(self) -> tuple[Runner, ...]:
        """The registrations ``--remove-ghosts`` may delete: offline, not busy, no pod."""
        return tuple(
            r.runner
            for r in self.rows
            if r.verdict is Verdict.GHOST and r.runner is not None and not r.runner.busy
        )


@dataclass(frozen=True)
class Report:
    fleets: tuple[FleetReport, ...]
    now: datetime
    grace: timedelta

    @property
    def healthy(self) -> bool:
        return all(f.healthy for f in self.fleets)

    @property
    def exit_code(self) -> int:
        return EXIT_HEALTHY if self.healthy else EXIT_DEGRADED


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


# --- output ------------------------------------------------------------------------------------


def _runner_state(runner: Runner | None) -> str:
    if runner is None:
        return "-"
    if not runner.online:
        return "offline, busy" if runner.busy else "offline"
    return "online, busy" if runner.busy else "online, idle"


def _verdict_text(row: Row) -> str:
    if row.verdict is Verdict.SERVING and row.runner is not None:
        return "serving (busy)" if row.runner.busy else "serving (idle)"
    return str(row.verdict)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_fleet(report: FleetReport, now: datetime) -> list[str]:
    fleet = report.fleet
    state = "healthy" if report.healthy else "DEGRADED"
    lines = [
        f"{fleet.name}: {state}, {report.serving} of {fleet.replicas} serving  ({fleet.stack})"
    ]
    where = f"  Deployment {fleet.namespace}/{fleet.name}"
    d = report.deployment
    if d is None:
        lines.append(f"{where}: not found")
    else:
        lines.append(
            f"{where}: {d.desired} desired, {d.updated} updated, {d.ready} ready, "
            f"{d.available} available"
        )
    lines.append(f"  GitHub {fleet.repo}, labels: {', '.join(fleet.labels) or '(none)'}")
    cells = [["POD / RUNNER", "STATUS", "READY", "RESTARTS", "AGE", "GITHUB", "VERDICT"]]
    for row in report.rows:
        pod = row.pod
        cells.append(
            [
                row.name,
                (pod.waiting or pod.phase) if pod else "-",
                f"{pod.ready_containers}/{pod.containers}" if pod else "-",
                str(pod.restarts) if pod else "-",
                human_age(now - pod.created) if pod else "-",
                _runner_state(row.runner),
                _verdict_text(row),
            ]
        )
    if report.rows:
        lines += ["  " + line for line in _table(cells)]
    else:
        lines.append("  no pods, no registrations")
    lines += [f"  - {problem}" for problem in report.problems]
    return lines


def format_report(report: Report) -> str:
    blocks = ["\n".join(format_fleet(f, report.now)) for f in report.fleets]
    degraded = [f.fleet.name for f in report.fleets if not f.healthy]
    if degraded:
        summary = f"degraded: {', '.join(degraded)}"
    else:
        serving = sum(f.serving for f in report.fleets)
        summary = f"healthy: {len(report.fleets)} fleet(s), {serving} runner(s) serving"
    return "\n\n".join([*blocks, summary]) + "\n"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _pod_record(pod: Pod, now: datetime) -> dict[str, Any]:
    return {
        "phase": pod.phase,
        "ready": pod.containers > 0 and pod.ready_containers == pod.containers,
        "readyContainers": pod.ready_containers,
        "containers": pod.containers,
        "restarts": pod.restarts,
        "created": _iso(pod.created),
        "ageSeconds": int((now - pod.created).total_seconds()),
        "runningSince": _iso(pod.running_since),
        "waiting": pod.waiting,
        "mountEvent": pod.mount_event,
        "terminating": pod.terminating,
    }


def _runner_record(runner: Runner) -> dict[str, Any]:
    return {
        "id": runner.id,
        "name": runner.name,
        "status": "online" if runner.online else "offline",
        "busy": runner.busy,
        "labels": list(runner.labels),
        "systemLabels": list(runner.system_labels),
    }


def report_record(report: Report) -> dict[str, Any]:
    """The same facts as the table, for scripts (``--format json``)."""
    fleets = []
    for f in report.fleets:
        d = f.deployment
        fleets.append(
            {
                "name": f.fleet.name,
                "stack": f.fleet.stack,
                "namespace": f.fleet.namespace,
                "selector": dict(f.fleet.selector),
                "repo": f.fleet.repo,
                "replicas": f.fleet.replicas,
                "labels": list(f.fleet.labels),
                "deployment": None
                if d is None
                else {
                    "desired": d.desired,
                    "updated": d.updated,
                    "ready": d.ready,
                    "available": d.available,
                },
                "serving": f.serving,
                "healthy": f.healthy,
                "problems": list(f.problems),
                "rows": [
                    {
                        "name": row.name,
                        "verdict": str(row.verdict),
                        "pod": None if row.pod is None else _pod_record(row.pod, report.now),
                        "runner": None if row.runner is None else _runner_record(row.runner),
                        "problem": row.problem,
                    }
                    for row in f.rows
                ],
            }
        )
    return {
        "healthy": report.healthy,
        "checkedAt": _iso(report.now),
        "graceSeconds": int(report.grace.total_seconds()),
        "fleets": fleets,
    }


def format_json(report: Report) -> str:
    return json.dumps(report_record(report), indent=2) + "\n"
