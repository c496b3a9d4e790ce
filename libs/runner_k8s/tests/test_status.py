"""The join behind `gh-runner status`, on plain data: every verdict, their combinations, labels
compared as GitHub compares them, the grace period, and the exit-code decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner_k8s.status.cluster import deployment_from_api, mount_events, pod_from_api
from runner_k8s.status.judge import belongs, judge
from runner_k8s.status.model import (
    ClusterFacts,
    Deployment,
    Fleet,
    FleetReport,
    Pod,
    Report,
    Runner,
    Scope,
    Verdict,
)
from runner_k8s.status.output import format_json, format_report

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=120)
CODEX = Fleet(
    stack="stacks/codex-runner/Pulumi.dev.yaml",
    name="codex-gh-runner",
    namespace="my-reforge-ai",
    selector=(("app", "codex-gh-runner"),),
    replicas=2,
    labels=("gpt-5-codex",),
    scope=Scope("repository", "acme/app"),
    api="https://api.github.com",
)
GEMINI = Fleet(
    stack="stacks/gemini-runner/Pulumi.dev.yaml",
    name="gemini-gh-runner",
    namespace="my-reforge-ai",
    selector=(("app", "gemini-gh-runner"),),
    replicas=2,
    labels=("gemini-2.5-flash", "gemini-2.5-pro"),
    scope=Scope("repository", "acme/app"),
    api="https://api.github.com",
)
READY = Deployment(desired=2, updated=2, ready=2, available=2)
SYSTEM = ("self-hosted", "Linux", "X64")


def pod_name(fleet: Fleet, suffix: str) -> str:
    return f"{fleet.name}-7d4b9c8f6d-{suffix}"


def pod(
    name: str,
    running_for: float | None = 600,
    waiting: str | None = None,
    created_ago: float = 3600,
    **extra: Any,
) -> Pod:
    running = running_for is not None
    return Pod(
        name=name,
        phase="Running" if running else "Pending",
        ready_containers=1 if running else 0,
        containers=1,
        restarts=0,
        created=NOW - timedelta(seconds=created_ago),
        running_since=NOW - timedelta(seconds=running_for) if running_for is not None else None,
        waiting=waiting,
        **extra,
    )


_ids = iter(range(1, 10_000))


def runner(
    name: str,
    online: bool = True,
    busy: bool = False,
    labels: tuple[str, ...] = CODEX.labels,
    system: tuple[str, ...] = SYSTEM,
    ephemeral: bool = True,  # as every runner of a fleet registers
) -> Runner:
    return Runner(next(_ids), name, online, busy, labels, system, ephemeral)


def judged(
    pods: list[Pod],
    runners: list[Runner],
    fleet: Fleet = CODEX,
    deployment: Deployment | None = READY,
    grace: timedelta = GRACE,
) -> FleetReport:
    return judge(fleet, ClusterFacts(deployment, tuple(pods)), runners, NOW, grace)


def verdicts(report: FleetReport) -> dict[str, Verdict]:
    return {row.name: row.verdict for row in report.rows}


A, B = pod_name(CODEX, "abcde"), pod_name(CODEX, "fghij")


def test_pods_with_online_registrations_serve_idle_or_busy() -> None:
    report = judged([pod(A), pod(B)], [runner(A), runner(B, busy=True)])
    assert verdicts(report) == {A: Verdict.SERVING, B: Verdict.SERVING}
    assert report.serving == 2
    assert report.healthy and report.problems == ()
    table = format_report(Report((report,), NOW, GRACE))
    assert "serving (idle)" in table and "serving (busy)" in table
    assert table.rstrip().endswith("healthy: 1 fleet(s), 2 runner(s) serving")


def test_a_running_pod_without_registration_after_the_grace_is_not_registered() -> None:
    report = judged([pod(A), pod(B, running_for=121)], [runner(A)])
    assert verdicts(report)[B] is Verdict.NOT_REGISTERED
    assert not report.healthy
    assert report.problems[0] == "1 of 2 runners serving"
    [problem] = [r.problem for r in report.rows if r.problem]
    # The message names what usually causes it.
    for cause in ("GITHUB_PAT", "GITHUB_URL", "repository acme/app", "runner version"):
        assert cause in problem
    assert f"kubectl -n my-reforge-ai logs {B}" in problem


@pytest.mark.parametrize(
    ("running_for", "grace", "verdict"),
    [
        (29, 30, Verdict.STARTING),
        (30, 30, Verdict.NOT_REGISTERED),
        (119, 120, Verdict.STARTING),
        (121, 120, Verdict.NOT_REGISTERED),
        (0, 0, Verdict.NOT_REGISTERED),
    ],
)
def test_the_grace_period_decides_starting_or_not_registered(
    running_for: float, grace: float, verdict: Verdict
) -> None:
    report = judged([pod(A, running_for=running_for)], [], grace=timedelta(seconds=grace))
    assert verdicts(report) == {A: verdict}
    assert not report.healthy  # either way it serves no job yet
    if verdict is Verdict.STARTING:
        assert "1 starting" in report.problems[0]


def test_the_grace_counts_from_the_container_start_not_the_pod_creation() -> None:
    # An ephemeral runner's container restarts after each job and registers anew.
    report = judged([pod(A, running_for=10, created_ago=86_400)], [])
    assert verdicts(report) == {A: Verdict.STARTING}


def test_an_offline_registration_of_a_running_pod_is_offline_after_the_grace() -> None:
    late = judged([pod(A, running_for=600)], [runner(A, online=False)])
    assert verdicts(late) == {A: Verdict.OFFLINE}
    assert any("registered but offline" in p for p in late.problems)
    # Just restarted after a job: the stale registration is about to be replaced.
    early = judged([pod(A, running_for=5)], [runner(A, online=False)])
    assert verdicts(early) == {A: Verdict.STARTING}


def test_ghosts_are_only_what_the_fleet_provably_left_behind() -> None:
    by_name = runner(pod_name(CODEX, "zzzzz"), online=False, labels=())
    by_labels = runner("old-node-runner", online=False)
    busy = runner(pod_name(CODEX, "yyyyy"), online=False, busy=True)
    other_fleet = runner(pod_name(GEMINI, "qqqqq"), online=False, labels=GEMINI.labels)
    unrelated = runner("laptop", online=False, labels=("gpu",))
    report = judged(
        [pod(A), pod(B)],
        [runner(A), runner(B), by_name, by_labels, busy, other_fleet, unrelated],
    )
    assert verdicts(report) == {
        A: Verdict.SERVING,
        B: Verdict.SERVING,
        by_name.name: Verdict.GHOST,
        by_labels.name: Verdict.FOREIGN,  # carries the labels, but is not named like a pod
        busy.name: Verdict.GHOST_BUSY,
    }
    # Only the offline, idle, ephemeral one named like a pod may be removed.
    assert report.ghosts == (by_name,)
    assert not report.healthy
    assert any("--remove-ghosts" in p and by_name.name in p for p in report.problems)
    assert any("still marks it busy" in p for p in report.problems)
    assert any("foreign runner: not removed" in n and by_labels.name in n for n in report.notes)


def test_an_online_registration_with_the_fleets_labels_and_no_pod_is_reported() -> None:
    stray = runner("someone-elses-runner")
    report = judged([pod(A), pod(B)], [runner(A), runner(B), stray])
    assert verdicts(report)[stray.name] is Verdict.NO_POD
    assert report.ghosts == ()  # online: never a ghost
    assert not report.healthy


@pytest.mark.parametrize(
    ("labels", "system", "verdict", "said"),
    [
        (("GPT-5-Codex",), SYSTEM, Verdict.SERVING, None),  # GitHub ignores case
        (("gpt-5-codex", "extra"), SYSTEM, Verdict.LABEL_DRIFT, "unexpected extra"),
        ((), SYSTEM, Verdict.LABEL_DRIFT, "missing gpt-5-codex"),
        (("gpt-4",), SYSTEM, Verdict.LABEL_DRIFT, "missing gpt-5-codex; unexpected gpt-4"),
    ],
)
def test_label_drift_compares_custom_labels_case_insensitively(
    labels: tuple[str, ...], system: tuple[str, ...], verdict: Verdict, said: str | None
) -> None:
    report = judged([pod(A), pod(B)], [runner(A, labels=labels, system=system), runner(B)])
    assert verdicts(report)[A] is verdict
    if said is None:
        assert report.healthy
    else:
        assert not report.healthy
        assert any(said in p for p in report.problems)


def test_a_configured_label_github_gives_as_read_only_is_no_drift() -> None:
    fleet = Fleet(**{**CODEX.__dict__, "labels": ("linux", "gpt-5-codex")})
    report = judged([pod(A), pod(B)], [runner(A), runner(B)], fleet=fleet)
    assert report.healthy, report.problems


def test_pods_that_do_not_run_say_why_with_the_mount_event() -> None:
    multi_attach = (
        'Multi-Attach error for volume "pvc-1" Volume is already used by pod(s) codex-gh-runner-x'
    )
    report = judged(
        [
            pod(A, running_for=None, waiting="ImagePullBackOff"),
            pod(B, running_for=None, waiting="ContainerCreating", mount_event=multi_attach),
        ],
        [],
    )
    assert verdicts(report) == {A: Verdict.NOT_RUNNING, B: Verdict.NOT_RUNNING}
    assert report.problems[0] == "0 of 2 runners serving"
    assert any("ImagePullBackOff" in p and A in p for p in report.problems)
    assert any(multi_attach in p and B in p for p in report.problems)
    assert f"ContainerCreating: {multi_attach}" in "\n".join(report.problems)


def test_a_terminating_pod_is_no_problem_while_enough_serve() -> None:
    old = pod_name(CODEX, "ooooo")
    report = judged([pod(A), pod(B), pod(old, terminating=True)], [runner(A), runner(B)])
    assert verdicts(report)[old] is Verdict.TERMINATING
    assert report.healthy


def test_the_deployment_must_exist_and_ask_for_the_configured_replicas() -> None:
    missing = judged([], [], deployment=None)
    assert any("Deployment my-reforge-ai/codex-gh-runner not found" in p for p in missing.problems)
    scaled = judged([pod(A), pod(B)], [runner(A), runner(B)], deployment=Deployment(3, 3, 2, 2))
    assert scaled.serving == 2
    assert scaled.problems == (
        "Deployment my-reforge-ai/codex-gh-runner asks for 3 replicas but runner.replicas is 2: "
        "scaled outside Pulumi, or the stack is not updated",
    )


def test_a_parked_fleet_is_healthy_with_nothing() -> None:
    parked = Fleet(**{**CODEX.__dict__, "replicas": 0})
    assert judged([], [], fleet=parked, deployment=Deployment(0, 0, 0, 0)).healthy


def test_more_serving_than_replicas_is_healthy() -> None:
    surge = pod_name(CODEX, "sssss")
    report = judged([pod(A), pod(B), pod(surge)], [runner(A), runner(B), runner(surge)])
    assert report.serving == 3 and report.healthy


def test_fleets_are_told_apart_by_pod_name_shape_and_exact_labels() -> None:
    longer = Fleet(**{**CODEX.__dict__, "name": "codex-gh-runner-big", "labels": ("big",)})
    assert belongs(CODEX, runner(pod_name(CODEX, "abcde"), labels=()))
    assert not belongs(CODEX, runner(pod_name(longer, "abcde"), labels=()))
    assert belongs(longer, runner(pod_name(longer, "abcde"), labels=()))
    assert not belongs(CODEX, runner("x", labels=GEMINI.labels))
    assert not belongs(CODEX, runner("x", labels=("gpt-5-codex", "more")))
    assert belongs(CODEX, runner("x", labels=("GPT-5-CODEX",)))
    unlabelled = Fleet(**{**CODEX.__dict__, "labels": ()})
    assert not belongs(unlabelled, runner("x", labels=()))  # would claim every runner


@pytest.mark.parametrize(
    ("healthy", "code"), [((True, True), 0), ((True, False), 1), ((False, False), 1)]
)
def test_exit_code_is_0_only_when_every_fleet_is_healthy(
    healthy: tuple[bool, bool], code: int
) -> None:
    good = judged([pod(A), pod(B)], [runner(A), runner(B)])
    bad = judged([pod(A)], [runner(A)])
    reports = tuple(good if h else bad for h in healthy)
    assert Report(reports, NOW, GRACE).exit_code == code


def test_json_carries_the_same_facts_as_the_table() -> None:
    ghost = runner(pod_name(CODEX, "zzzzz"), online=False)
    codex = judged(
        [pod(A), pod(B, running_for=None, waiting="CrashLoopBackOff")], [runner(A), ghost]
    )
    gemini = judged([], [], fleet=GEMINI, deployment=None)
    report = Report((codex, gemini), NOW, GRACE)
    table = format_report(report)
    record = json.loads(format_json(report))
    assert record["healthy"] is False and record["graceSeconds"] == 120
    assert [f["name"] for f in record["fleets"]] == ["codex-gh-runner", "gemini-gh-runner"]
    rows = {r["name"]: r for r in record["fleets"][0]["rows"]}
    assert {n: r["verdict"] for n, r in rows.items()} == {
        n: str(v) for n, v in verdicts(codex).items()
    }
    assert rows[B]["pod"]["waiting"] == "CrashLoopBackOff"
    assert rows[ghost.name]["runner"] == {
        "id": ghost.id,
        "name": ghost.name,
        "status": "offline",
        "busy": False,
        "ephemeral": True,
        "labels": ["gpt-5-codex"],
        "systemLabels": list(SYSTEM),
    }
    for fleet in record["fleets"]:
        for problem in fleet["problems"]:
            assert problem in table
    for name in rows:
        assert name in table
    assert "\x1b" not in table  # no colour
    assert table.rstrip().endswith("degraded: codex-gh-runner, gemini-gh-runner")


# --- the cluster's JSON -> facts ---------------------------------------------------------------


def api_pod(name: str, status: dict[str, Any], deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": "2026-11-29T11:00:00Z"}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-29T11:59:00Z"
    return {"metadata": meta, "spec": {"containers": [{"name": "runner"}]}, "status": status}


def test_a_running_pod_is_parsed_with_its_start_restarts_and_readiness() -> None:
    parsed = pod_from_api(
        api_pod(
            A,
            {
                "phase": "Running",
                "containerStatuses": [
                    {
                        "name": "runner",
                        "ready": True,
                        "restartCount": 3,
                        "state": {"running": {"startedAt": "2026-11-29T11:58:00Z"}},
                    }
                ],
            },
        )
    )
    assert parsed.running_since == datetime(2026, 11, 29, 11, 58, tzinfo=UTC)
    assert parsed.created == datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
    assert (parsed.ready_containers, parsed.containers, parsed.restarts) == (1, 1, 3)
    assert parsed.waiting is None and not parsed.terminating


def test_waiting_pods_keep_their_reason_and_only_container_creating_gets_the_event() -> None:
    events = mount_events(
        [
            {
                "involvedObject": {"kind": "Pod", "name": A},
                "reason": "FailedMount",
                "message": "old",
                "lastTimestamp": "2026-11-29T11:00:00Z",
            },
            {
                "involvedObject": {"kind": "Pod", "name": A},
                "reason": "FailedAttachVolume",
                "message": 'Multi-Attach error for volume "pvc-1"\n Volume is already used',
                "lastTimestamp": "2026-11-29T11:30:00Z",
            },
            {
                "involvedObject": {"kind": "Pod", "name": B},
                "reason": "Scheduled",
                "message": "not about volumes",
            },
        ]
    )
    assert events == {
        A: ("FailedAttachVolume", 'Multi-Attach error for volume "pvc-1" Volume is already used')
    }

    def waiting(name: str, reason: str) -> dict[str, Any]:
        state = {"waiting": {"reason": reason}}
        return api_pod(name, {"phase": "Pending", "containerStatuses": [{"state": state}]})

    creating = pod_from_api(waiting(A, "ContainerCreating"), events)
    assert creating.waiting == "ContainerCreating" and creating.mount_event == events[A][1]
    assert not creating.mount_failed  # a Multi-Attach passes once the old pod lets go
    assert creating.running_since is None
    crashing = pod_from_api(waiting(A, "CrashLoopBackOff"), events)
    assert crashing.waiting == "CrashLoopBackOff" and crashing.mount_event is None
    unscheduled = pod_from_api(
        api_pod(
            B,
            {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
                ],
            },
        )
    )
    assert unscheduled.waiting == "Unschedulable" and unscheduled.containers == 1
    assert pod_from_api(api_pod(B, {"phase": "Running"}, deleting=True)).terminating


def test_a_deployment_is_parsed_with_absent_counts_as_zero() -> None:
    parsed = deployment_from_api({"spec": {"replicas": 2}, "status": {"updatedReplicas": 2}})
    assert parsed == Deployment(desired=2, updated=2, ready=0, available=0)
