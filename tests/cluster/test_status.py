"""`gh-runner status` end to end: a real kube-apiserver holding the fleets' Deployments and pods,
a local HTTP server playing GitHub, and the installed command run as the operator runs it.

No controller manager, scheduler or kubelet runs, so the test does their part: it creates each
fleet's pods as a ReplicaSet would (from the live Deployment's pod template, named
`<deployment>-<template hash>-<suffix>`), then sets their status through the status subresource
as a kubelet would. The pods are unscheduled, so the API server deletes them at once afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from github_double import GitHubDouble, answer, github_runner, runners_path
from pytest_httpserver import HTTPServer

pytestmark = pytest.mark.cluster

TOKEN = "github_pat_11CLUSTERCANARY000000000000000000000000000000000000000000000000000"
REPO_NAME = "acme/fleet"
RUNNERS_PATH = runners_path(REPO_NAME)
# Marks the pods this module creates, for the cleanup.
MARK = "test.gh-runner/status"
FLEETS = {
    "codex-gh-runner": ("gpt-5-codex",),
    "gemini-gh-runner": ("gemini-2.5-flash", "gemini-2.5-pro"),
}
TEMPLATE_HASH = "5c8d7f9b6d"


class KubectlCluster(Protocol):
    """What this module uses of the `cluster` fixture."""

    @property
    def kubeconfig(self) -> Path: ...

    @property
    def baseline(self) -> Path: ...

    @property
    def namespace(self) -> str: ...

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]: ...


def pod_names(deployment: str) -> tuple[str, str]:
    return (f"{deployment}-{TEMPLATE_HASH}-b4x7q", f"{deployment}-{TEMPLATE_HASH}-m2z9k")


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def create_pod(cluster: KubectlCluster, deployment: str, name: str) -> list[str]:
    """A pod of the Deployment as its ReplicaSet would create it; returns its container names."""
    live = json.loads(
        cluster.kubectl(
            "get", "deployment", deployment, "-n", cluster.namespace, "-o", "json"
        ).stdout
    )
    template = live["spec"]["template"]
    labels = {**template["metadata"].get("labels", {}), "pod-template-hash": TEMPLATE_HASH}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": cluster.namespace,
            "labels": {**labels, MARK: "1"},
            "annotations": template["metadata"].get("annotations", {}),
        },
        "spec": template["spec"],
    }
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
    return [c["name"] for c in template["spec"]["containers"]]


def set_status(
    cluster: KubectlCluster,
    name: str,
    containers: list[str],
    state: dict[str, Any],
    last: dict[str, Any] | None = None,
) -> None:
    """What the kubelet would report, written through the status subresource. With ``last`` (a
    container's previous end) the pod has run before: its phase stays Running while the
    container waits to be restarted."""
    running = "running" in state
    condition = {"status": "True" if running else "False"}
    status = {
        "phase": "Running" if running or last is not None else "Pending",
        "conditions": [
            {**condition, "type": "Ready"},
            {**condition, "type": "ContainersReady"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [
            {
                "name": c,
                "ready": running,
                "restartCount": 0,
                "image": "ghcr.io/spigell/runner",
                "imageID": "",
                "started": running,
                "state": state,
                **({"lastState": last} if last is not None else {}),
            }
            for c in containers
        ],
    }
    cluster.kubectl(
        "patch",
        "pod",
        name,
        "-n",
        cluster.namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def running_since(minutes: float) -> dict[str, Any]:
    started = datetime.now(UTC) - timedelta(minutes=minutes)
    return {"running": {"startedAt": rfc3339(started)}}


@dataclass(frozen=True)
class Fleets:
    cluster: KubectlCluster
    pods: dict[str, tuple[str, str]]  # Deployment -> its two pods


def delete_marked_pods(cluster: KubectlCluster) -> None:
    cluster.kubectl(
        "delete", "pods", "-n", cluster.namespace, "-l", MARK, "--wait=false", check=False
    )


@pytest.fixture(scope="module")
def fleets(cluster: KubectlCluster) -> Iterator[Fleets]:
    # Self-contained: other cluster tests may have destroyed the Deployments.
    cluster.kubectl("apply", "-f", str(cluster.baseline))
    # No controller manager creates it, and the ServiceAccount admission needs it for any pod.
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": cluster.namespace},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(account))
    delete_marked_pods(cluster)
    pods = {}
    for deployment in FLEETS:
        pods[deployment] = pod_names(deployment)
        for name in pods[deployment]:
            containers = create_pod(cluster, deployment, name)
            set_status(cluster, name, containers, running_since(minutes=10))
    yield Fleets(cluster, pods)
    delete_marked_pods(cluster)


def registered(
    fleets: Fleets, skip: str | None = None, labels: dict[str, tuple[str, ...]] | None = None
) -> list[dict[str, Any]]:
    """Every pod online with its fleet's labels, except `skip`'s pods; `labels` overrides."""
    runners = []
    for number, (deployment, names) in enumerate(fleets.pods.items()):
        if deployment == skip:
            continue
        fleet_labels = (labels or {}).get(deployment, FLEETS[deployment])
        runners += [
            github_runner(100 * (number + 1) + i, n, fleet_labels) for i, n in enumerate(names)
        ]
    return runners


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self.out)
        return record

    def verdicts(self) -> dict[str, str]:
        return {r["name"]: r["verdict"] for f in self.json()["fleets"] for r in f["rows"]}


def command(
    fleets: Fleets, httpserver: HTTPServer, *extra: str, scope: tuple[str, ...]
) -> list[str]:
    return [
        str(Path(sys.executable).parent / "gh-runner"),
        "status",
        "--kubeconfig",
        str(fleets.cluster.kubeconfig),
        "--github-api",
        httpserver.url_for("/").rstrip("/"),
        *scope,
        *extra,
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "GITHUB_TOKEN")}
    return {**env, "GH_TOKEN": TOKEN}


def checked(httpserver: HTTPServer, code: int, out: str, err: str) -> Run:
    assert "Traceback" not in err
    assert TOKEN not in out + err
    for request, _ in httpserver.log:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert TOKEN not in request.url
    return Run(code, out, err)


def gh_runner_status(
    fleets: Fleets,
    httpserver: HTTPServer,
    repo: Path,
    *extra: str,
    scope: tuple[str, ...] = ("--repo", REPO_NAME),
) -> Run:
    """The installed console script against the control plane and the GitHub double."""
    done = subprocess.run(
        command(fleets, httpserver, *extra, scope=scope),
        cwd=repo,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return checked(httpserver, done.returncode, done.stdout, done.stderr)


def test_fleets_whose_pods_are_all_registered_are_healthy(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    answer(httpserver, REPO_NAME, registered(fleets))
    run = gh_runner_status(fleets, httpserver, repo, "--format", "json")
    assert run.code == 0, run.out + run.err
    record = run.json()
    assert record["healthy"] is True
    for fleet in record["fleets"]:
        assert fleet["namespace"] == fleets.cluster.namespace
        assert fleet["deployment"]["desired"] == fleet["replicas"] == 2
        assert [r["name"] for r in fleet["rows"]] == sorted(fleets.pods[fleet["name"]])
        for row in fleet["rows"]:
            assert row["verdict"] == "serving"
            assert row["pod"]["phase"] == "Running" and row["pod"]["ready"] is True
            assert 0 <= row["pod"]["ageSeconds"] < 120  # created moments ago, by the test
            # The kubelet's container start, as the status subresource holds it.
            started = datetime.fromisoformat(row["pod"]["runningSince"])
            checked = datetime.fromisoformat(record["checkedAt"])
            assert timedelta(minutes=9) < checked - started < timedelta(minutes=12)


def test_a_fleet_whose_pods_never_registered_is_degraded(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    answer(httpserver, REPO_NAME, registered(fleets, skip="gemini-gh-runner"))
    run = gh_runner_status(fleets, httpserver, repo)
    assert run.code == 1, run.out + run.err
    assert "codex-gh-runner: healthy, 2 of 2 serving" in run.out
    assert "gemini-gh-runner: DEGRADED, 0 of 2 serving" in run.out
    for name in fleets.pods["gemini-gh-runner"]:
        assert any(name in line and "not registered" in line for line in run.out.splitlines())
    assert "GITHUB_PAT" in run.out and "GITHUB_URL" in run.out
    assert run.out.rstrip().endswith("degraded: gemini-gh-runner")

    # Within the grace period the same pods are only starting.
    httpserver.clear()
    answer(httpserver, REPO_NAME, registered(fleets, skip="gemini-gh-runner"))
    patient = gh_runner_status(fleets, httpserver, repo, "--grace", "3600", "--format", "json")
    assert patient.code == 1
    gemini = set(fleets.pods["gemini-gh-runner"])
    assert {n: v for n, v in patient.verdicts().items() if n in gemini} == dict.fromkeys(
        gemini, "starting"
    )


def test_a_ghost_is_found_and_removed_only_with_yes(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    ghost = f"codex-gh-runner-{TEMPLATE_HASH}-gh0st"
    double = GitHubDouble(httpserver).serve(
        REPO_NAME,
        [*registered(fleets), github_runner(900, ghost, FLEETS["codex-gh-runner"], "offline")],
    )

    listed = gh_runner_status(fleets, httpserver, repo, "--remove-ghosts")
    assert listed.code == 1
    assert f"would delete ghost runner {ghost} (id 900)" in listed.out
    assert double.deleted == []

    removed = gh_runner_status(fleets, httpserver, repo, "--remove-ghosts", "--yes")
    assert double.deleted == [900]
    assert removed.code == 0, removed.out
    assert f"deleted ghost runner {ghost} (id 900)" in removed.out
    # The table printed is GitHub's state after the removal: listed again, the ghost is gone.
    assert removed.out.rstrip().endswith("healthy: 2 fleet(s), 4 runner(s) serving")
    assert ghost not in removed.out.split("ghost removal:")[1]


def test_removal_spares_foreign_runners_and_goes_on_after_a_refusal(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    labels = FLEETS["codex-gh-runner"]
    ghosts = [f"codex-gh-runner-{TEMPLATE_HASH}-g0st{i}" for i in (1, 2, 3)]
    double = GitHubDouble(httpserver).serve(
        REPO_NAME,
        [
            *registered(fleets),
            *(github_runner(901 + i, n, labels, "offline") for i, n in enumerate(ghosts)),
            # Offline with the fleet's labels, but not provably this fleet's: never deleted.
            github_runner(950, "alice-laptop", labels, "offline", ephemeral=False),
            github_runner(951, "claude-gh-runner-6f7d8-cccc1", labels, "offline"),
        ],
    )
    double.takes_job(901).vanishes(903)

    run = gh_runner_status(fleets, httpserver, repo, "--remove-ghosts", "--yes")

    assert double.deleted == [902]
    deletes = [r.path for r, _ in httpserver.log if r.method == "DELETE"]
    assert deletes == [f"{RUNNERS_PATH}/{i}" for i in (901, 902, 903)]  # on after the 422
    assert (
        f"skipped ghost runner {ghosts[0]} (id 901) of codex-gh-runner from repository "
        f'{REPO_NAME}: GitHub says Bad request - Runner "{ghosts[0]}" is still running a job"'
    ) in run.out
    assert f"deleted ghost runner {ghosts[1]} (id 902)" in run.out
    assert f"already gone: ghost runner {ghosts[2]} (id 903)" in run.out
    assert "ghost removal: 1 deleted, 1 already gone, 1 skipped, 0 failed" in run.out
    for name, why in (
        ("alice-laptop", "not named like a pod of codex-gh-runner and not ephemeral"),
        ("claude-gh-runner-6f7d8-cccc1", "not named like a pod of codex-gh-runner"),
    ):
        assert f"{name} (id 95" in run.out and "foreign runner: not removed" in run.out
        assert why in run.out
    assert double.registered(REPO_NAME).count("alice-laptop") == 1
    # After the removal: the runner that took a job is online with no pod of this cluster.
    after = run.out.split("ghost removal:")[1]
    assert f"runner {ghosts[0]}: online with this fleet's labels but no pod" in after
    assert run.code == 1


def test_org_level_runners_are_listed_with_org(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    GitHubDouble(httpserver).serve("orgs/acme", registered(fleets))
    run = gh_runner_status(fleets, httpserver, repo, "--format", "json", scope=("--org", "acme"))
    assert run.code == 0, run.out + run.err
    assert {r.path for r, _ in httpserver.log} == {"/orgs/acme/actions/runners"}
    assert {f["scope"]["kind"] for f in run.json()["fleets"]} == {"organization"}


def finished(seconds_ago: float, exit_code: int = 0) -> dict[str, Any]:
    moment = rfc3339(datetime.now(UTC) - timedelta(seconds=seconds_ago))
    reason = "Completed" if exit_code == 0 else "Error"
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": moment,
            "finishedAt": moment,
        }
    }


@contextmanager
def kubelet_reports(fleets: Fleets, deployment: str, index: int) -> Iterator[Callable[..., None]]:
    """A setter of one of the fleet's pods' status, as its kubelet would report it; the pod runs
    again afterwards, for the module's other tests."""
    pod = fleets.pods[deployment][index]
    live = json.loads(
        fleets.cluster.kubectl(
            "get", "deployment", deployment, "-n", fleets.cluster.namespace, "-o", "json"
        ).stdout
    )
    containers = [c["name"] for c in live["spec"]["template"]["spec"]["containers"]]

    def report(state: dict[str, Any], last: dict[str, Any] | None = None) -> None:
        set_status(fleets.cluster, pod, containers, state, last)

    try:
        yield report
    finally:
        report(running_since(minutes=10))


def test_a_pod_between_jobs_is_healthy_and_a_crash_is_not(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    pod = fleets.pods["codex-gh-runner"][0]
    backoff = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 20s restarting"}}
    # Its ephemeral registration went with its job: GitHub lists the other three.
    answer(httpserver, REPO_NAME, [r for r in registered(fleets) if r["name"] != pod])
    with kubelet_reports(fleets, "codex-gh-runner", 0) as report:
        report(backoff, last=finished(30))
        run = gh_runner_status(fleets, httpserver, repo, "--format", "json")
        assert run.code == 0, run.out + run.err
        assert run.verdicts()[pod] == "between jobs"
        [row] = [r for f in run.json()["fleets"] for r in f["rows"] if r["name"] == pod]
        assert row["pod"]["lastExit"] == "exit 0 (Completed)"

        report(backoff, last=finished(30, exit_code=1))
        crashed = gh_runner_status(fleets, httpserver, repo)
        assert crashed.code == 1
        assert f"pod {pod}: not running (CrashLoopBackOff, last exit 1 (Error))" in crashed.out


def waiting_status(
    fleets: Fleets, httpserver: HTTPServer, repo: Path, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(fleets, httpserver, "--wait", *extra, scope=("--repo", REPO_NAME)),
        cwd=repo,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_wait_returns_0_once_the_pods_turn_ready(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    pod = fleets.pods["gemini-gh-runner"][1]
    double = GitHubDouble(httpserver).serve(
        REPO_NAME, [r for r in registered(fleets) if r["name"] != pod]
    )
    with kubelet_reports(fleets, "gemini-gh-runner", 1) as report:
        report({"waiting": {"reason": "ContainerCreating"}})
        waiting = waiting_status(fleets, httpserver, repo, "--timeout", "2m", "--interval", "0.2")
        assert waiting.stderr is not None
        first = waiting.stderr.readline()
        assert first.startswith("waiting: "), first
        assert "gemini-gh-runner: 1 of 2 runners serving" in first
        # The kubelet starts the container and the runner registers.
        report(running_since(minutes=1))
        double.serve(REPO_NAME, registered(fleets))
        out, err = waiting.communicate(timeout=120)
        run = checked(httpserver, waiting.returncode, out, first + err)
        assert run.code == 0, run.out + run.err
        assert run.out.rstrip().endswith("healthy: 2 fleet(s), 4 runner(s) serving")


def test_wait_stops_at_once_on_an_image_that_cannot_be_pulled(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    pod = fleets.pods["codex-gh-runner"][1]
    GitHubDouble(httpserver).serve(REPO_NAME, [r for r in registered(fleets) if r["name"] != pod])
    with kubelet_reports(fleets, "codex-gh-runner", 1) as report:
        report({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}})
        waiting = waiting_status(fleets, httpserver, repo, "--timeout", "10m", "--interval", "0.2")
        out, err = waiting.communicate(timeout=120)
        run = checked(httpserver, waiting.returncode, out, err)
        assert run.code == 1, run.out + run.err
        assert len(httpserver.log) == 1  # one look: it did not wait for the 10 minutes
        [line] = run.err.splitlines()
        assert line.startswith("gh-runner: will not heal by waiting: codex-gh-runner: pod ")
        assert "ImagePullBackOff" in line


def test_registered_labels_that_differ_from_config_are_label_drift(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    labels = {
        "codex-gh-runner": ("GPT-5-Codex",),  # case alone is no drift: GitHub ignores it
        "gemini-gh-runner": ("gemini-2.5-flash",),  # gemini-2.5-pro is missing
    }
    answer(httpserver, REPO_NAME, registered(fleets, labels=labels))
    run = gh_runner_status(fleets, httpserver, repo, "--format", "json")
    assert run.code == 1
    verdicts = run.verdicts()
    assert {verdicts[n] for n in fleets.pods["codex-gh-runner"]} == {"serving"}
    assert {verdicts[n] for n in fleets.pods["gemini-gh-runner"]} == {"label drift"}
    [codex, gemini] = run.json()["fleets"]
    assert codex["healthy"] is True
    assert any("missing gemini-2.5-pro" in p for p in gemini["problems"])


def test_a_pod_stuck_in_container_creating_shows_its_multi_attach_event(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    cluster = fleets.cluster
    stuck = f"codex-gh-runner-{TEMPLATE_HASH}-st4ck"
    containers = create_pod(cluster, "codex-gh-runner", stuck)
    try:
        set_status(cluster, stuck, containers, {"waiting": {"reason": "ContainerCreating"}})
        message = (
            'Multi-Attach error for volume "pvc-0f1e" Volume is already used by pod(s) '
            f"{fleets.pods['codex-gh-runner'][0]}"
        )
        now = rfc3339(datetime.now(UTC))
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{stuck}.status-test", "namespace": cluster.namespace},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": stuck,
                "namespace": cluster.namespace,
            },
            "reason": "FailedAttachVolume",
            "message": message,
            "type": "Warning",
            "source": {"component": "attachdetach-controller"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(event))
        answer(httpserver, REPO_NAME, registered(fleets))
        run = gh_runner_status(fleets, httpserver, repo, "--format", "json")
        assert run.code == 1  # two serve, but a third pod of the fleet cannot start
        [row] = [r for f in run.json()["fleets"] for r in f["rows"] if r["name"] == stuck]
        assert row["verdict"] == "not running"
        assert row["pod"]["waiting"] == "ContainerCreating"
        assert row["pod"]["mountEvent"] == message
    finally:
        cluster.kubectl(
            "delete", "pod", stuck, "-n", cluster.namespace, "--wait=false", check=False
        )
        cluster.kubectl(
            "delete", "event", f"{stuck}.status-test", "-n", cluster.namespace, check=False
        )


def test_a_bad_token_exits_2_with_one_line(
    fleets: Fleets, httpserver: HTTPServer, repo: Path
) -> None:
    httpserver.expect_request(RUNNERS_PATH).respond_with_json(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status=401,
    )
    run = gh_runner_status(fleets, httpserver, repo)
    assert run.code == 2 and run.out == ""
    [line] = run.err.splitlines()
    assert "401 Bad credentials" in line
