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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from github_double import answer, github_runner, runners_path
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
    cluster: KubectlCluster, name: str, containers: list[str], state: dict[str, Any]
) -> None:
    """What the kubelet would report, written through the status subresource."""
    running = "running" in state
    condition = {"status": "True" if running else "False"}
    status = {
        "phase": "Running" if running else "Pending",
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


def gh_runner_status(fleets: Fleets, httpserver: HTTPServer, repo: Path, *extra: str) -> Run:
    """The installed console script against the control plane and the GitHub double."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "GITHUB_TOKEN")}
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "gh-runner"),
            "status",
            "--kubeconfig",
            str(fleets.cluster.kubeconfig),
            "--github-api",
            httpserver.url_for("/").rstrip("/"),
            "--repo",
            REPO_NAME,
            *extra,
        ],
        cwd=repo,
        env={**env, "GH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    for request, _ in httpserver.log:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert TOKEN not in request.url
    return Run(done.returncode, done.stdout, done.stderr)


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
    answer(
        httpserver,
        REPO_NAME,
        [*registered(fleets), github_runner(900, ghost, FLEETS["codex-gh-runner"], "offline")],
    )
    httpserver.expect_request(f"{RUNNERS_PATH}/900", method="DELETE").respond_with_data("", 204)

    listed = gh_runner_status(fleets, httpserver, repo, "--remove-ghosts")
    assert listed.code == 1
    assert f"would delete ghost runner {ghost} (id 900)" in listed.out
    assert not [r for r, _ in httpserver.log if r.method == "DELETE"]

    removed = gh_runner_status(fleets, httpserver, repo, "--remove-ghosts", "--yes")
    assert [r.path for r, _ in httpserver.log if r.method == "DELETE"] == [f"{RUNNERS_PATH}/900"]
    assert removed.code == 0, removed.out
    assert f"deleted ghost runner {ghost} (id 900)" in removed.out


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
