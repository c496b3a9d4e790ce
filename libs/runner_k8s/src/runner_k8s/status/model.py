"""The verdict of ``gh-runner status``: is each fleet actually serving jobs?

A pure join of three views of one fleet: what stack config says it should be (:class:`Fleet`),
what the cluster runs (:class:`ClusterFacts`) and what GitHub has registered (:class:`Runner`).
The runner image registers each runner under its pod's hostname, which is the pod name, so a
pod and its registration meet by name. Everything here is plain data in, plain data out: the
clients that fetch the facts live in ``status.cluster`` and ``status.github``.


This module holds the data; ``judge`` the join, ``output`` the table and the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from runner_k8s import exit_codes

# The kubelet's crash-loop back-off doubles from 10 s up to this cap: a container that exited is
# restarted within it. An ephemeral runner's container exits 0 after every job.
RESTART_BACKOFF_CAP = timedelta(minutes=5)
# Waiting reasons no retry by the kubelet will cure: the image reference itself is wrong or gone.
UNHEALABLE_WAITING = frozenset({"ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})


@dataclass(frozen=True)
class Scope:
    """Where a fleet's runners register: a repository (OWNER/NAME) or an organisation."""

    kind: Literal["repository", "organization"]
    name: str

    @property
    def path(self) -> str:
        """The REST path of its runner endpoints, without /actions/runners."""
        return f"repos/{self.name}" if self.kind == "repository" else f"orgs/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Fleet:
    """One runner fleet as its stack config declares it."""

    stack: str  # where it is declared, for messages: stacks/codex-runner/Pulumi.dev.yaml
    name: str  # the Deployment, its `app` label, and the prefix of its pods' names
    namespace: str
    selector: tuple[tuple[str, str], ...]
    replicas: int
    labels: tuple[str, ...]  # runner.labels: what each runner registers with besides GitHub's own
    scope: Scope  # the repository or organisation the runners register with
    api: str  # GitHub's REST API for it

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
    # When every container that is not running last finished with exit code 0 (Completed): the
    # runner took its one job and exited, and the kubelet is about to restart it. None otherwise.
    between_jobs_since: datetime | None = None
    last_exit: str | None = None  # how a container that is not running last ended: "exit 1 (Error)"
    mount_failed: bool = False  # the mount event is a FailedMount (not a passing Multi-Attach)


@dataclass(frozen=True)
class ClusterFacts:
    deployment: Deployment | None  # None: no such Deployment
    pods: tuple[Pod, ...]


@dataclass(frozen=True)
class Runner:
    """One registration in GitHub's runner list of the repository or organisation."""

    id: int
    name: str
    online: bool
    busy: bool
    labels: tuple[str, ...]  # custom labels, as registered (RUNNER_LABELS or edited on GitHub)
    # GitHub's own read-only labels (self-hosted, Linux, X64): never part of runner.labels.
    system_labels: tuple[str, ...] = ()
    ephemeral: bool = False  # registered --ephemeral: takes one job, and GitHub says so


class Verdict(StrEnum):
    SERVING = "serving"
    LABEL_DRIFT = "label drift"
    STARTING = "starting"
    BETWEEN_JOBS = "between jobs"
    NOT_REGISTERED = "not registered"
    OFFLINE = "offline"
    NOT_RUNNING = "not running"
    TERMINATING = "terminating"
    GHOST = "ghost"
    NO_POD = "online, no pod"
    GHOST_BUSY = "ghost, busy"
    FOREIGN = "foreign"


@dataclass(frozen=True)
class Row:
    """A pod of the fleet, with its registration if any, or a registration with no pod."""

    name: str
    verdict: Verdict
    pod: Pod | None
    runner: Runner | None
    problem: str | None = None  # makes the fleet degraded
    note: str | None = None  # worth knowing, harmless


@dataclass(frozen=True)
class FleetReport:
    fleet: Fleet
    deployment: Deployment | None
    rows: tuple[Row, ...]
    problems: tuple[str, ...]  # why the fleet is degraded, most important first; empty: healthy
    unhealable: tuple[str, ...] = ()  # the problems that will not go away by waiting

    @property
    def serving(self) -> int:
        return sum(1 for r in self.rows if r.verdict is Verdict.SERVING)

    @property
    def between_jobs(self) -> int:
        return sum(1 for r in self.rows if r.verdict is Verdict.BETWEEN_JOBS)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(r.note for r in self.rows if r.note is not None)

    @property
    def ghosts(self) -> tuple[Runner, ...]:
        """The registrations ``--remove-ghosts`` may delete: proven this fleet's (see judge)."""
        return tuple(r.runner for r in self.rows if r.verdict is Verdict.GHOST and r.runner)


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
        return exit_codes.OK if self.healthy else exit_codes.DEGRADED

    @property
    def ghosts(self) -> tuple[tuple[Fleet, Runner], ...]:
        return tuple((f.fleet, g) for f in self.fleets for g in f.ghosts)

    @property
    def unhealable(self) -> tuple[str, ...]:
        return tuple(f"{f.fleet.name}: {p}" for f in self.fleets for p in f.unhealable)
