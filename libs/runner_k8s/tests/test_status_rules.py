"""The rules of issue 19 on plain data: what a ghost is (and what is only reported), a pod between
jobs, faults waiting cannot heal, where the runners register and GitHub's API for it, and
GitHub's rate-limit rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from runner_k8s.cli import parser
from runner_k8s.errors import ConfigError
from runner_k8s.status.cluster import pod_from_api
from runner_k8s.status.command import chosen_scope, scope_from_shared
from runner_k8s.status.github import api_for, rate_limit, refusal, scope_of
from runner_k8s.status.judge import judge
from runner_k8s.status.model import ClusterFacts, Deployment, Fleet, Pod, Runner, Scope, Verdict

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
REPO = Scope("repository", "acme/app")
ORG = Scope("organization", "acme")
CODEX = Fleet(
    stack="stacks/codex-runner/Pulumi.dev.yaml",
    name="codex-gh-runner",
    namespace="my-reforge-ai",
    selector=(("app", "codex-gh-runner"),),
    replicas=1,
    labels=("gpt-5-codex",),
    scope=REPO,
    api="https://api.github.com",
)
SERVING_POD = "codex-gh-runner-7d4b9c8f6d-abcde"
GHOST_NAME = "codex-gh-runner-6b5a4c3d2e-zzzzz"  # an older ReplicaSet's pod, gone


def pod(name: str = SERVING_POD, running_for: float | None = 600, **extra: Any) -> Pod:
    running = running_for is not None
    return Pod(
        name=name,
        phase="Running",
        ready_containers=1 if running else 0,
        containers=1,
        restarts=3,
        created=NOW - timedelta(hours=1),
        running_since=NOW - timedelta(seconds=running_for) if running_for is not None else None,
        **extra,
    )


def runner(
    name: str,
    runner_id: int = 1,
    online: bool = True,
    busy: bool = False,
    ephemeral: bool = True,
    labels: tuple[str, ...] = ("gpt-5-codex",),
) -> Runner:
    return Runner(runner_id, name, online, busy, labels, ("self-hosted", "Linux", "X64"), ephemeral)


def verdicts(pods: list[Pod], runners: list[Runner], deployment: bool = True) -> Any:
    ready = Deployment(1, 1, 1, 1) if deployment else None
    report = judge(CODEX, ClusterFacts(ready, tuple(pods)), runners, NOW)
    return report, {row.name: row.verdict for row in report.rows}


# --- what a ghost is ---------------------------------------------------------------------------


def test_only_an_offline_idle_ephemeral_registration_named_like_a_gone_pod_is_a_ghost() -> None:
    ghost = runner(GHOST_NAME, 7, online=False)
    report, seen = verdicts([pod()], [runner(SERVING_POD), ghost])
    assert seen[GHOST_NAME] is Verdict.GHOST
    assert report.ghosts == (ghost,)
    assert not report.healthy  # a ghost is worth removing


@pytest.mark.parametrize(
    ("name", "ephemeral", "why"),
    [
        ("alice-laptop", False, "not named like a pod of codex-gh-runner and not ephemeral"),
        ("claude-gh-runner-6f7d8-cccc1", True, "not named like a pod of codex-gh-runner"),
        (GHOST_NAME, False, "not ephemeral"),
    ],
)
def test_any_other_offline_registration_with_the_fleets_labels_is_foreign_and_kept(
    name: str, ephemeral: bool, why: str
) -> None:
    report, seen = verdicts(
        [pod()], [runner(SERVING_POD), runner(name, 9, False, False, ephemeral)]
    )
    assert seen[name] is Verdict.FOREIGN
    assert report.ghosts == ()
    assert report.healthy  # offline, it takes no job: worth a note, not a fault
    assert report.notes == (
        f"runner {name} (id 9): foreign runner: not removed (offline with this fleet's labels, "
        f"but {why})",
    )


def test_a_busy_offline_registration_is_never_a_ghost() -> None:
    report, seen = verdicts([pod()], [runner(SERVING_POD), runner(GHOST_NAME, 7, False, True)])
    assert seen[GHOST_NAME] is Verdict.GHOST_BUSY and report.ghosts == ()


def test_a_registration_of_a_pod_that_exists_is_never_a_ghost() -> None:
    starting = pod(running_for=30)
    report, seen = verdicts([starting], [runner(SERVING_POD, online=False)])
    assert seen[SERVING_POD] is Verdict.STARTING and report.ghosts == ()


# --- between jobs ------------------------------------------------------------------------------


def test_a_pod_whose_runner_exited_0_and_waits_to_restart_is_between_jobs_and_healthy() -> None:
    waiting = pod(
        running_for=None,
        waiting="CrashLoopBackOff",
        last_exit="exit 0 (Completed)",
        between_jobs_since=NOW - timedelta(seconds=80),
    )
    report, seen = verdicts([waiting], [])  # an ephemeral runner's registration is gone
    assert seen[SERVING_POD] is Verdict.BETWEEN_JOBS
    assert report.healthy and report.between_jobs == 1 and report.serving == 0


def test_between_jobs_longer_than_the_kubelets_back_off_cap_is_a_fault() -> None:
    stuck = pod(
        running_for=None, waiting="CrashLoopBackOff", between_jobs_since=NOW - timedelta(minutes=7)
    )
    report, seen = verdicts([stuck], [])
    assert seen[SERVING_POD] is Verdict.NOT_RUNNING and not report.healthy
    assert "exited 0 after a job 7m ago" in report.problems[1]


def test_a_non_zero_exit_stays_a_fault() -> None:
    crashing = pod(running_for=None, waiting="CrashLoopBackOff", last_exit="exit 1 (Error)")
    report, seen = verdicts([crashing], [])
    assert seen[SERVING_POD] is Verdict.NOT_RUNNING
    assert (
        f"pod {SERVING_POD}: not running (CrashLoopBackOff, last exit 1 (Error))" in report.problems
    )


def test_an_online_registration_does_not_make_a_stopped_runner_serve() -> None:
    # GitHub keeps a registration online until the runner's session times out, well after its
    # process died: the pod decides.
    crashing = pod(running_for=None, waiting="CrashLoopBackOff", last_exit="exit 1 (Error)")
    report, seen = verdicts([crashing], [runner(SERVING_POD)])
    assert seen[SERVING_POD] is Verdict.NOT_RUNNING and not report.healthy
    assert report.serving == 0
    [why] = [p for p in report.problems if p.startswith(f"pod {SERVING_POD}")]
    assert f"GitHub still shows runner {SERVING_POD} online" in why


def test_an_online_registration_of_a_pod_between_jobs_is_between_jobs() -> None:
    waiting = pod(
        running_for=None,
        waiting="CrashLoopBackOff",
        last_exit="exit 0 (Completed)",
        between_jobs_since=NOW - timedelta(seconds=30),
    )
    report, seen = verdicts([waiting], [runner(SERVING_POD)])
    assert seen[SERVING_POD] is Verdict.BETWEEN_JOBS and report.healthy


def container(state: dict[str, Any], last: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": "runner", "ready": False, "restartCount": 4, "state": state}
    if last is not None:
        status["lastState"] = last
    return status


def api_pod(*statuses: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": SERVING_POD, "creationTimestamp": "2026-11-29T11:00:00Z"},
        "spec": {"containers": [{"name": "runner"}]},
        "status": {"phase": "Running", "containerStatuses": list(statuses)},
    }


FINISHED = {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-11-29T11:59:00Z"}


def test_the_kubelets_between_jobs_status_is_read_from_the_last_termination() -> None:
    backoff = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}}
    parsed = pod_from_api(api_pod(container(backoff, {"terminated": FINISHED})))
    assert parsed.between_jobs_since == datetime(2026, 11, 29, 11, 59, tzinfo=UTC)
    assert parsed.last_exit == "exit 0 (Completed)" and parsed.waiting == "CrashLoopBackOff"
    just_exited = pod_from_api(api_pod(container({"terminated": FINISHED})))
    assert just_exited.between_jobs_since is not None
    failed = {**FINISHED, "exitCode": 1, "reason": "Error"}
    crashed = pod_from_api(api_pod(container(backoff, {"terminated": failed})))
    assert crashed.between_jobs_since is None and crashed.last_exit == "exit 1 (Error)"


# --- faults that waiting cannot heal -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "heals"),
    [
        (pod(running_for=None, waiting="ImagePullBackOff"), False),
        (
            pod(running_for=None, waiting="ContainerCreating", mount_event="x", mount_failed=True),
            False,
        ),
        (
            pod(running_for=None, waiting="ContainerCreating", mount_event="Multi-Attach error"),
            True,
        ),
        (pod(running_for=30), True),  # starting
        (pod(running_for=None, waiting="CrashLoopBackOff", last_exit="exit 1 (Error)"), True),
    ],
)
def test_only_a_wrong_image_a_failed_mount_or_no_deployment_cannot_heal(
    fault: Pod, heals: bool
) -> None:
    report, _ = verdicts([fault], [])
    assert not report.healthy
    assert (report.unhealable == ()) is heals


def test_a_missing_deployment_cannot_heal() -> None:
    report, _ = verdicts([], [], deployment=False)
    assert report.unhealable and "not found" in report.unhealable[0]


# --- where the runners register ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("https://github.com", "https://api.github.com"),
        ("https://www.github.com/acme/app", "https://api.github.com"),
        ("https://acme.ghe.com/acme", "https://api.acme.ghe.com"),
        ("https://ghe.example.com/acme/app", "https://ghe.example.com/api/v3"),
        ("http://ghe.internal:8080", "http://ghe.internal:8080/api/v3"),
    ],
)
def test_the_api_is_derived_from_the_host_as_the_runner_does(url: str, api: str) -> None:
    assert api_for(url) == api


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("https://github.com/acme", ORG),
        ("https://github.com/acme/app", REPO),
        ("https://github.com/acme/app/", REPO),
        ("https://github.com/enterprises/big", None),
        ("https://github.com/a/b/c", None),
        ("https://github.com", None),
    ],
)
def test_one_path_segment_is_an_organisation_and_two_a_repository(
    url: str, scope: Scope | None
) -> None:
    assert scope_of(url) == scope


def test_the_scope_comes_from_the_command_line_or_the_shared_stack() -> None:
    assert chosen_scope("acme/app", None) == REPO
    assert chosen_scope(None, "acme") == ORG
    assert chosen_scope(None, None) is None
    with pytest.raises(ConfigError, match="not both"):
        chosen_scope("acme/app", "acme")
    with pytest.raises(ConfigError, match="--repo: 'acme' is not OWNER/NAME"):
        chosen_scope("acme", None)
    assert scope_from_shared("https://github.com", "acme/app", "Pulumi.dev.yaml") == REPO
    with pytest.raises(ConfigError, match="pass --repo OWNER/NAME or --org ORG"):
        scope_from_shared("https://github.com", None, "Pulumi.dev.yaml")
    with pytest.raises(
        ConfigError, match=re.escape("githubUrl: GITHUB_URL https://github.com/x/acme/app")
    ):
        scope_from_shared("https://github.com/x", "acme/app", "Pulumi.dev.yaml")


# --- GitHub's rate-limit rules -----------------------------------------------------------------

RESET = "1795000000"  # 2026-11-18 11:06:40 UTC
SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@pytest.mark.parametrize(
    ("status", "headers", "message", "kind", "wait"),
    [
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": RESET},
            "API rate limit exceeded for user ID 1.",
            "primary",
            "until 2026-11-18 11:06:40 UTC (x-ratelimit-reset)",
        ),
        (
            429,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": RESET},
            "",
            "primary",
            "until 2026-11-18 11:06:40 UTC (x-ratelimit-reset)",
        ),
        (
            403,
            {"retry-after": "60", "x-ratelimit-remaining": "4990", "x-ratelimit-reset": RESET},
            SECONDARY,
            "secondary",
            "for 60 s (retry-after)",
        ),
        (
            403,
            {"x-ratelimit-remaining": "4990", "x-ratelimit-reset": RESET},
            SECONDARY,
            "secondary",
            "for at least a minute",
        ),
        (429, {}, "", "secondary", "for at least a minute"),
        (
            403,
            {"retry-after": "30", "x-ratelimit-remaining": "0", "x-ratelimit-reset": RESET},
            SECONDARY,
            "secondary",
            "for 30 s (retry-after)",
        ),
    ],
)
def test_rate_limits_follow_githubs_documented_order(
    status: int, headers: dict[str, str], message: str, kind: str, wait: str
) -> None:
    limited = rate_limit(status, headers, message)
    assert limited is not None and (limited.kind, limited.wait) == (kind, wait)
    line = refusal(status, headers, {"message": message}, REPO)
    assert line.startswith(f"GitHub's {kind} rate limit reached ({status}): wait {wait}")
    assert "permission" not in line


def test_a_403_without_a_rate_limit_sign_is_a_permission_named_per_scope() -> None:
    headers = {"x-ratelimit-remaining": "4999"}
    assert rate_limit(403, headers, "Resource not accessible by personal access token") is None
    repo_line = refusal(403, headers, {"message": "Resource not accessible"}, REPO)
    assert "Administration: read" in repo_line and "repo scope" in repo_line
    org_line = refusal(403, headers, {"message": "Resource not accessible"}, ORG)
    assert '"Self-hosted runners": read' in org_line and "admin:org" in org_line


def test_timeouts_read_as_durations(capsys: pytest.CaptureFixture[str]) -> None:
    def timeout(text: str) -> float:
        value: float = parser().parse_args(["status", "--wait", "--timeout", text]).timeout
        return value

    assert [timeout(t) for t in ("90", "90s", "10m", "1h30m")] == [90, 90, 600, 5400]
    with pytest.raises(SystemExit) as refused:
        timeout("ten minutes")
    assert refused.value.code == 2
    assert "'ten minutes' is not a duration such as 90s, 10m or 1h" in capsys.readouterr().err
