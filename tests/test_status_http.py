"""`gh-runner status` against a real local HTTP server playing GitHub's REST API (bodies shaped
like GitHub's documented ones), with the cluster side played by a fake reader: paging by `Link`
headers, every refusal GitHub gives, where the token may travel, and `--remove-ghosts`."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from github_double import GitHubDouble, RateLimit, answer, error_body, github_runner, runners_path
from pytest_httpserver import HTTPServer

from runner_k8s.cli import parser
from runner_k8s.errors import ConfigError
from runner_k8s.status.command import run
from runner_k8s.status.model import ClusterFacts, Deployment, Fleet, Pod

# A canary shaped like a fine-grained token: it must reach GitHub in the Authorization header and
# appear nowhere else.
TOKEN = "github_pat_11CANARY0000000000000000000000000000000000000000000000000000000000"
REPO_NAME = "acme/fleet"
RUNNERS_PATH = runners_path(REPO_NAME)
CODEX_LABELS = ("gpt-5-codex",)
GEMINI_LABELS = ("gemini-2.5-flash", "gemini-2.5-pro")
CODEX_PODS = ("codex-gh-runner-7d4b9c8f6d-abcde", "codex-gh-runner-7d4b9c8f6d-fghij")
GEMINI_PODS = ("gemini-gh-runner-5f6c7d8e9a-klmno", "gemini-gh-runner-5f6c7d8e9a-pqrst")
GHOST = "codex-gh-runner-6b5a4c3d2e-zzzzz"  # named like an older ReplicaSet's pod
# The `edit_config` fixture: edit(root, stack, change) changes that stack's dev config.
EditConfig = Callable[[Path, str, Callable[[dict[str, Any]], None]], None]


def running_pod(name: str) -> Pod:
    started = datetime.now(UTC) - timedelta(minutes=10)
    return Pod(name, "Running", 1, 1, 0, started, started)


@dataclass
class FakeCluster:
    """The cluster as a plain object satisfying ClusterReader; records where it was asked."""

    pods: dict[str, tuple[Pod, ...]]
    connected: list[tuple[str | None, str | None]] = field(default_factory=list)

    def connect(self, kubeconfig: str | None, context: str | None) -> FakeCluster:
        self.connected.append((kubeconfig, context))
        return self

    def facts(self, fleet: Fleet) -> ClusterFacts:
        pods = self.pods.get(fleet.name, ())
        return ClusterFacts(Deployment(2, 2, len(pods), len(pods)), pods)


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster(
        {
            "codex-gh-runner": tuple(running_pod(n) for n in CODEX_PODS),
            "gemini-gh-runner": tuple(running_pod(n) for n in GEMINI_PODS),
        }
    )


def serving() -> list[dict[str, Any]]:
    return [github_runner(100 + i, n, CODEX_LABELS) for i, n in enumerate(CODEX_PODS)] + [
        github_runner(200 + i, n, GEMINI_LABELS) for i, n in enumerate(GEMINI_PODS)
    ]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def status(
    httpserver: HTTPServer,
    cluster: FakeCluster,
    stacks: Path,
    *extra: str,
    environ: dict[str, str] | None = None,
    repo: str | None = REPO_NAME,
) -> Result:
    api = httpserver.url_for("/").rstrip("/")
    dirs = [str(stacks / "stacks" / "codex-runner"), str(stacks / "stacks" / "gemini-runner")]
    chosen = ["--repo", repo] if repo else []
    args = parser().parse_args(["status", "--github-api", api, *chosen, *extra, *dirs])
    out, err = io.StringIO(), io.StringIO()
    code = run(
        args,
        [Path(d) for d in args.stack_dirs],
        connect=cluster.connect,
        environ={"GH_TOKEN": TOKEN} if environ is None else environ,
        out=out,
        err=err,
    )
    result = Result(code, out.getvalue(), err.getvalue())
    assert TOKEN not in result.out + result.err
    return result


def assert_token_only_in_authorization(httpserver: HTTPServer) -> None:
    assert httpserver.log, "GitHub was never asked"
    for request, _response in httpserver.log:
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert TOKEN not in request.url
        for name, value in request.headers.items():
            if name.lower() != "authorization":
                assert TOKEN not in value


def test_every_page_is_read_and_a_registered_fleet_is_healthy(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    runners = serving()
    # One registration per page: the fleet is only healthy if all three pages are read.
    pages = [runners[:1], runners[1:3], runners[3:]]
    for number, page in enumerate(pages, start=1):
        query = {"per_page": "100"} if number == 1 else {"per_page": "100", "page": str(number)}
        headers = {}
        if number < len(pages):
            following = httpserver.url_for(RUNNERS_PATH) + f"?per_page=100&page={number + 1}"
            last = httpserver.url_for(RUNNERS_PATH) + f"?per_page=100&page={len(pages)}"
            headers["Link"] = f'<{following}>; rel="next", <{last}>; rel="last"'
        httpserver.expect_ordered_request(
            RUNNERS_PATH, method="GET", query_string=query
        ).respond_with_json({"total_count": len(runners), "runners": page}, headers=headers)

    result = status(httpserver, cluster, repo)

    httpserver.check_assertions()
    assert result.code == 0, result.out + result.err
    assert len(httpserver.log) == 3
    for name in CODEX_PODS + GEMINI_PODS:
        assert any(name in line and "serving" in line for line in result.out.splitlines())
    assert result.out.rstrip().endswith("healthy: 2 fleet(s), 4 runner(s) serving")
    assert_token_only_in_authorization(httpserver)


@pytest.mark.parametrize("variable", ["GH_TOKEN", "GITHUB_TOKEN"])
def test_the_token_comes_from_either_variable(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path, variable: str
) -> None:
    answer(httpserver, REPO_NAME, serving())
    result = status(httpserver, cluster, repo, environ={variable: TOKEN})
    assert result.code == 0, result.err
    assert_token_only_in_authorization(httpserver)


def test_no_token_exits_2_before_asking_anyone(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    result = status(httpserver, cluster, repo, environ={"HOME": "/nowhere"})
    assert result.code == 2
    assert "GH_TOKEN or GITHUB_TOKEN" in result.err
    assert httpserver.log == [] and cluster.connected == []


RESET = 1_900_000_000  # x-ratelimit-reset: epoch seconds
RESET_TEXT = datetime.fromtimestamp(RESET, UTC).strftime("%Y-%m-%d %H:%M:%S")
EXHAUSTED = {
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "0",
    "x-ratelimit-used": "5000",
    "x-ratelimit-reset": str(RESET),
}


@pytest.mark.parametrize(
    ("code", "headers", "message", "said"),
    [
        (401, {}, "Bad credentials", "401 Bad credentials"),
        (403, EXHAUSTED, "API rate limit exceeded", f"until {RESET_TEXT} UTC"),
        (429, EXHAUSTED, "API rate limit exceeded", f"until {RESET_TEXT} UTC"),
        (403, {}, "Resource not accessible by personal access token", "Administration: read"),
        (404, {}, "Not Found", "Administration: read"),
    ],
)
def test_a_refusal_exits_2_with_one_line_saying_what_to_do(
    httpserver: HTTPServer,
    cluster: FakeCluster,
    repo: Path,
    code: int,
    headers: dict[str, str],
    message: str,
    said: str,
) -> None:
    httpserver.expect_request(RUNNERS_PATH).respond_with_json(
        {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(code),
        },
        status=code,
        headers=headers,
    )
    result = status(httpserver, cluster, repo)
    assert result.code == 2
    assert result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith("gh-runner: ") and said in line
    if headers:
        assert "rate limit" in line
    assert_token_only_in_authorization(httpserver)


def test_a_runner_list_not_shaped_like_githubs_exits_2(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    httpserver.expect_request(RUNNERS_PATH).respond_with_json(
        {"total_count": 1, "runners": [{"name": "no-id"}]}
    )
    result = status(httpserver, cluster, repo)
    assert result.code == 2
    assert result.err == "gh-runner: GitHub's runner list holds an entry without an id or name\n"


def test_a_next_page_on_another_host_is_not_followed_with_the_token(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    httpserver.expect_request(RUNNERS_PATH).respond_with_json(
        {"total_count": 8, "runners": serving()},
        headers={"Link": '<https://collector.invalid/steal?page=2>; rel="next"'},
    )
    result = status(httpserver, cluster, repo)
    assert result.code == 2
    assert "points away from" in result.err
    assert len(httpserver.log) == 1


def test_an_unreachable_github_exits_2(cluster: FakeCluster, repo: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = parser().parse_args(
        [
            "status",
            "--repo",
            REPO_NAME,
            "--github-api",
            f"http://127.0.0.1:{port}",
            str(repo / "stacks" / "codex-runner"),
        ]
    )
    err = io.StringIO()
    dirs = [Path(d) for d in args.stack_dirs]
    code = run(args, dirs, cluster.connect, {"GH_TOKEN": TOKEN}, out=io.StringIO(), err=err)
    assert code == 2
    assert "cannot reach GitHub at" in err.getvalue()


def ghosts_and_friends() -> list[dict[str, Any]]:
    return [
        *serving(),
        github_runner(300, GHOST, CODEX_LABELS, status="offline"),
        # Offline but busy: GitHub still thinks it runs a job; never deleted.
        github_runner(301, "codex-gh-runner-6b5a4c3d2e-yyyyy", CODEX_LABELS, "offline", True),
        # Online with the fleet's labels but no pod: reported, never deleted.
        github_runner(302, "hand-started", GEMINI_LABELS),
        # Another fleet's (not ours) offline runner: not a ghost of these fleets.
        github_runner(303, "laptop", ("gpu",), status="offline"),
        # Offline with the fleet's labels, but not provably the fleet's: kept, with a note.
        github_runner(304, "alice-laptop", GEMINI_LABELS, "offline", ephemeral=False),
        github_runner(305, "claude-gh-runner-6f7d8-cccc1", GEMINI_LABELS, "offline"),
        github_runner(
            306, "codex-gh-runner-6b5a4c3d2e-nnnnn", CODEX_LABELS, "offline", ephemeral=False
        ),
    ]


def test_remove_ghosts_without_yes_only_lists_them(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    double = GitHubDouble(httpserver).serve(REPO_NAME, ghosts_and_friends())
    result = status(httpserver, cluster, repo, "--remove-ghosts")
    assert double.deleted == []
    would = [line for line in result.out.splitlines() if line.startswith("would delete")]
    assert would == [
        f"would delete ghost runner {GHOST} (id 300) of codex-gh-runner from repository {REPO_NAME}"
    ]
    assert "rerun with --yes" in result.out
    for foreign in (
        "alice-laptop",
        "claude-gh-runner-6f7d8-cccc1",
        "codex-gh-runner-6b5a4c3d2e-nnnnn",
    ):
        assert any(
            foreign in line and "foreign runner: not removed" in line
            for line in result.out.splitlines()
        )
    assert result.code == 1


def test_remove_ghosts_with_yes_deletes_only_proven_ghosts(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    double = GitHubDouble(httpserver).serve(REPO_NAME, ghosts_and_friends())
    result = status(httpserver, cluster, repo, "--remove-ghosts", "--yes")
    assert double.deleted == [300]
    assert f"deleted ghost runner {GHOST} (id 300)" in result.out
    assert result.code == 1  # the busy ghost and the runner with no pod remain
    assert_token_only_in_authorization(httpserver)


def test_removing_the_only_ghost_prints_the_state_after_it(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    double = serve_with_ghosts(httpserver, [GHOST], 300)
    result = status(httpserver, cluster, repo, "--remove-ghosts", "--yes", "--format", "json")
    assert double.deleted == [300]
    assert result.code == 0
    # Listed again after the removal; the deletion notes go to stderr, keeping stdout JSON.
    record = json.loads(result.out)
    assert record["healthy"] is True
    assert [r["verdict"] for r in record["fleets"][0]["rows"]] == ["serving", "serving"]
    assert f"deleted ghost runner {GHOST}" in result.err
    lists = [r for r, _ in httpserver.log if r.method == "GET"]
    assert len(lists) == 2


def serve_with_ghosts(httpserver: HTTPServer, names: list[str], first_id: int) -> GitHubDouble:
    """Both fleets serving, plus offline idle registrations named like old codex pods."""
    ghosts = [github_runner(first_id + i, n, CODEX_LABELS, "offline") for i, n in enumerate(names)]
    return GitHubDouble(httpserver).serve(REPO_NAME, [*serving(), *ghosts])


def test_removal_goes_on_runner_by_runner_after_a_422_and_a_404(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    ghosts = [f"codex-gh-runner-6b5a4c3d2e-g0st{i}" for i in (1, 2, 3)]
    double = serve_with_ghosts(httpserver, ghosts, 401)
    double.takes_job(401).vanishes(402)
    result = status(httpserver, cluster, repo, "--remove-ghosts", "--yes")
    assert [r.path for r, _ in httpserver.log if r.method == "DELETE"] == [
        f"{RUNNERS_PATH}/{i}" for i in (401, 402, 403)
    ]
    assert double.deleted == [403]
    assert (
        f"skipped ghost runner {ghosts[0]} (id 401) of codex-gh-runner from repository "
        f'{REPO_NAME}: GitHub says Bad request - Runner "{ghosts[0]}" is still running a job"'
    ) in result.out
    assert f"already gone: ghost runner {ghosts[1]} (id 402)" in result.out
    assert f"deleted ghost runner {ghosts[2]} (id 403)" in result.out
    assert "ghost removal: 1 deleted, 1 already gone, 1 skipped, 0 failed" in result.out
    assert result.code == 1  # one was refused: it is still registered


@pytest.mark.parametrize(
    ("shape", "wait"),
    [
        ("primary", "until"),
        ("secondary-retry-after", "for 60 s (retry-after)"),
        ("secondary", "for at least a minute"),
    ],
)
def test_a_rate_limit_stops_the_removal_and_is_never_called_a_permission(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path, shape: RateLimit, wait: str
) -> None:
    ghosts = [f"codex-gh-runner-6b5a4c3d2e-g0st{i}" for i in (1, 2)]
    double = serve_with_ghosts(httpserver, ghosts, 401)
    double.rate_limit(shape, status=403, method="DELETE")
    result = status(httpserver, cluster, repo, "--remove-ghosts", "--yes")
    assert [r.path for r, _ in httpserver.log if r.method == "DELETE"] == [f"{RUNNERS_PATH}/401"]
    assert "rate limit reached (403): wait " + wait in result.out
    assert "permission" not in result.out and "Administration" not in result.out
    assert "stopped: 1 more ghost(s) not tried" in result.out
    assert "ghost removal: 0 deleted, 0 already gone, 0 skipped, 2 failed" in result.out
    assert result.code == 1


def test_a_refused_delete_names_the_write_permission_and_goes_on(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    serve_with_ghosts(httpserver, [GHOST], 300)
    httpserver.expect_oneshot_request(f"{RUNNERS_PATH}/300", method="DELETE").respond_with_json(
        error_body("forbidden"), status=403, headers={"x-ratelimit-remaining": "4990"}
    )
    result = status(httpserver, cluster, repo, "--remove-ghosts", "--yes")
    assert "Administration: read and write" in result.out
    assert "ghost removal: 0 deleted, 0 already gone, 0 skipped, 1 failed" in result.out
    assert result.code == 1


def test_yes_without_remove_ghosts_is_a_usage_error(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    with pytest.raises(ConfigError, match="--yes: only means something with --remove-ghosts"):
        status(httpserver, cluster, repo, "--yes")
    assert httpserver.log == [] and cluster.connected == []


def test_organisation_runners_are_read_with_org(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    GitHubDouble(httpserver).serve("orgs/acme", serving())
    result = status(httpserver, cluster, repo, "--org", "acme", repo=None)
    assert result.code == 0, result.out + result.err
    assert {r.path for r, _ in httpserver.log} == {"/orgs/acme/actions/runners"}
    assert "GitHub organization acme" in result.out


@pytest.mark.parametrize(
    ("shape", "code", "said"),
    [
        ("primary", 403, "GitHub's primary rate limit reached (403): wait until "),
        ("primary", 429, "GitHub's primary rate limit reached (429): wait until "),
        (
            "secondary-retry-after",
            403,
            "GitHub's secondary rate limit reached (403): wait for 60 s (retry-after)",
        ),
        (
            "secondary",
            403,
            "GitHub's secondary rate limit reached (403): wait for at least a minute",
        ),
        (
            "secondary",
            429,
            "GitHub's secondary rate limit reached (429): wait for at least a minute",
        ),
    ],
)
def test_the_three_rate_limit_shapes_are_told_apart(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path, shape: RateLimit, code: int, said: str
) -> None:
    double = GitHubDouble(httpserver).serve(REPO_NAME, serving()).rate_limit(shape, status=code)
    result = status(httpserver, cluster, repo)
    assert result.code == 2 and result.out == ""
    [line] = result.err.splitlines()
    assert line.startswith(f"gh-runner: {said}")
    if shape == "primary":
        reset = datetime.fromtimestamp(double.reset, UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert f"until {reset} UTC (x-ratelimit-reset)" in line
    assert "permission" not in line and "Administration" not in line


def test_repository_and_cluster_come_from_stack_config_unless_overridden(
    httpserver: HTTPServer, cluster: FakeCluster, repo_copy: Path, edit_config: EditConfig
) -> None:
    def shared(config: dict[str, Any]) -> None:
        config["githubRepo"] = REPO_NAME

    def codex(config: dict[str, Any]) -> None:
        config["provider"]["kubeconfig"] = "~/.kube/prod"
        config["provider"]["context"] = "gke_acme_europe-west1_prod"

    def gemini(config: dict[str, Any]) -> None:
        config["provider"]["kubeconfig"] = "kube/prod.yaml"  # relative: to the stack, as Pulumi

    edit_config(repo_copy, "shared", shared)
    edit_config(repo_copy, "codex-runner", codex)
    edit_config(repo_copy, "gemini-runner", gemini)
    answer(httpserver, REPO_NAME, serving())

    result = status(httpserver, cluster, repo_copy, repo=None)
    assert result.code == 0, result.err
    gemini_kubeconfig = str(repo_copy / "stacks" / "gemini-runner" / "kube" / "prod.yaml")
    assert cluster.connected == [
        ("~/.kube/prod", "gke_acme_europe-west1_prod"),
        (gemini_kubeconfig, None),
    ]
    assert {r.path for r, _ in httpserver.log} == {RUNNERS_PATH}

    cluster.connected.clear()
    status(httpserver, cluster, repo_copy, "--kubeconfig", "/tmp/kc", "--context", "c", repo=None)
    assert cluster.connected == [("/tmp/kc", "c")]  # one cluster for both fleets


def test_the_api_is_found_from_the_githuburl_host_as_the_runner_finds_it(
    httpserver: HTTPServer, cluster: FakeCluster, repo_copy: Path, edit_config: EditConfig
) -> None:
    # A GitHub Enterprise Server: any host but github.com and *.ghe.com has its API at /api/v3.
    server = httpserver.url_for("/").rstrip("/")

    def shared(config: dict[str, Any]) -> None:
        config["githubRepo"] = REPO_NAME
        config["githubUrl"] = server

    edit_config(repo_copy, "shared", shared)
    GitHubDouble(httpserver, prefix="/api/v3").serve(REPO_NAME, serving())
    dirs = [repo_copy / "stacks" / "codex-runner", repo_copy / "stacks" / "gemini-runner"]
    args = parser().parse_args(["status", "--format", "json", *map(str, dirs)])
    out, err = io.StringIO(), io.StringIO()
    code = run(args, dirs, cluster.connect, {"GH_TOKEN": TOKEN}, out=out, err=err)
    assert code == 0, err.getvalue()
    assert {r.path for r, _ in httpserver.log} == {f"/api/v3{RUNNERS_PATH}"}
    record = json.loads(out.getvalue())
    assert {f["githubApi"] for f in record["fleets"]} == {f"{server}/api/v3"}
    assert_token_only_in_authorization(httpserver)


@dataclass
class Rollout:
    """The cluster during a rollout, and GitHub with it: each look sees the next state (the last
    one stays); GitHub lists the runners of the running pods of that state."""

    github: GitHubDouble
    looks: list[dict[str, tuple[Pod, ...]]]
    seen: int = 0

    def connect(self, kubeconfig: str | None, context: str | None) -> Rollout:
        return self

    def facts(self, fleet: Fleet) -> ClusterFacts:
        look = self.looks[min(self.seen, len(self.looks) - 1)]
        if fleet.name == "codex-gh-runner":  # the first fleet opens a look
            running = {p.name for pods in look.values() for p in pods if p.running_since}
            self.github.serve(REPO_NAME, [r for r in serving() if r["name"] in running])
        else:
            self.seen += 1
        pods = look.get(fleet.name, ())
        return ClusterFacts(Deployment(2, 2, len(pods), len(pods)), pods)


def waiting_pod(name: str, reason: str) -> Pod:
    return Pod(name, "Pending", 0, 1, 0, datetime.now(UTC), None, waiting=reason)


def status_waiting(
    httpserver: HTTPServer, rollout: Rollout, repo: Path, *extra: str
) -> tuple[Result, list[float]]:
    dirs = [repo / "stacks" / "codex-runner", repo / "stacks" / "gemini-runner"]
    api = httpserver.url_for("/").rstrip("/")
    args = parser().parse_args(
        ["status", "--repo", REPO_NAME, "--github-api", api, "--wait", *extra, *map(str, dirs)]
    )
    slept: list[float] = []  # the injected sleep returns at once; the fake clock moves by it
    out, err = io.StringIO(), io.StringIO()
    code = run(
        args,
        dirs,
        rollout.connect,
        {"GH_TOKEN": TOKEN},
        out=out,
        err=err,
        sleep=slept.append,
        clock=lambda: sum(slept),
    )
    return Result(code, out.getvalue(), err.getvalue()), slept


def test_wait_looks_every_interval_until_every_fleet_is_healthy(
    httpserver: HTTPServer, repo: Path
) -> None:
    codex = tuple(running_pod(n) for n in CODEX_PODS)
    gemini = tuple(running_pod(n) for n in GEMINI_PODS)
    creating = (gemini[0], waiting_pod(GEMINI_PODS[1], "ContainerCreating"))
    rollout = Rollout(
        GitHubDouble(httpserver),
        [
            {"codex-gh-runner": codex, "gemini-gh-runner": creating},
            {"codex-gh-runner": codex, "gemini-gh-runner": creating},
            {"codex-gh-runner": codex, "gemini-gh-runner": gemini},
        ],
    )
    result, slept = status_waiting(httpserver, rollout, repo, "--timeout", "5m")
    assert result.code == 0, result.err
    assert slept == [10.0, 10.0]  # the default interval, not spent: the sleep is injected
    progress = result.err.splitlines()
    assert (
        progress
        == ["waiting: codex-gh-runner healthy; gemini-gh-runner: 1 of 2 runners serving"] * 2
    )
    assert result.out.rstrip().endswith("healthy: 2 fleet(s), 4 runner(s) serving")


def test_wait_stops_at_the_first_look_on_a_fault_that_cannot_heal(
    httpserver: HTTPServer, repo: Path
) -> None:
    codex = (running_pod(CODEX_PODS[0]), waiting_pod(CODEX_PODS[1], "ImagePullBackOff"))
    gemini = tuple(running_pod(n) for n in GEMINI_PODS)
    rollout = Rollout(
        GitHubDouble(httpserver), [{"codex-gh-runner": codex, "gemini-gh-runner": gemini}]
    )
    result, slept = status_waiting(httpserver, rollout, repo)
    assert result.code == 1
    assert slept == [] and rollout.seen == 1
    assert result.err == (
        f"gh-runner: will not heal by waiting: codex-gh-runner: pod {CODEX_PODS[1]}: not running "
        "(ImagePullBackOff)\n"
    )
    assert "DEGRADED" in result.out


def test_wait_gives_up_at_the_timeout(httpserver: HTTPServer, repo: Path) -> None:
    codex = (running_pod(CODEX_PODS[0]), waiting_pod(CODEX_PODS[1], "ContainerCreating"))
    gemini = tuple(running_pod(n) for n in GEMINI_PODS)
    rollout = Rollout(
        GitHubDouble(httpserver), [{"codex-gh-runner": codex, "gemini-gh-runner": gemini}]
    )
    result, slept = status_waiting(
        httpserver, rollout, repo, "--timeout", "45s", "--interval", "15"
    )
    assert result.code == 1
    # Looks at 0, 15, 30 and 45 s: the fourth finds the time up.
    assert slept == [15.0, 15.0, 15.0]
    assert result.err.splitlines()[-1].startswith(
        "gh-runner: not healthy after 45 s: codex-gh-runner: 1 of 2 runners serving"
    )


def test_wait_with_remove_ghosts_is_a_usage_error(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    with pytest.raises(ConfigError, match="--wait: remove the ghosts first"):
        status(httpserver, cluster, repo, "--wait", "--remove-ghosts")


def test_without_a_repository_it_asks_for_repo(
    httpserver: HTTPServer, cluster: FakeCluster, repo: Path
) -> None:
    # The dev shared stack sets no githubRepo: runners read GITHUB_URL from a Secret.
    with pytest.raises(ConfigError, match="pass --repo OWNER/NAME or --org ORG"):
        status(httpserver, cluster, repo, repo=None)


def test_the_command_never_shows_a_traceback_when_the_cluster_is_unreachable(
    httpserver: HTTPServer, repo: Path, tmp_path: Path
) -> None:
    """The installed console script, real lightkube, an API server address nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "cluster-token-not-printed"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    script = Path(sys.executable).parent / "gh-runner"
    started = time.monotonic()
    done = subprocess.run(
        [
            str(script),
            "status",
            "--repo",
            REPO_NAME,
            "--kubeconfig",
            str(kubeconfig),
            "--github-api",
            httpserver.url_for("/").rstrip("/"),
        ],
        cwd=repo,
        env={**os.environ, "GH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith(f"gh-runner: cannot reach the cluster at https://127.0.0.1:{port}")
    for secret in (TOKEN, "cluster-token-not-printed"):
        assert secret not in done.stdout + done.stderr
    assert time.monotonic() - started < 30


def test_the_offline_commands_load_neither_http_nor_kubernetes_client(repo: Path) -> None:
    probe = (
        "import contextlib, io, sys\n"
        "from runner_k8s.cli import main\n"
        "sink = io.StringIO()\n"
        "with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):\n"
        "    assert main(['render']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'httpx2', 'lightkube'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("code", "said"),
    [(502, "answered 502 Bad Gateway"), (200, "an answer that is not Kubernetes'")],
)
def test_a_cluster_answer_that_is_not_kubernetes_exits_2(
    httpserver: HTTPServer, repo: Path, tmp_path: Path, code: int, said: str
) -> None:
    """The real lightkube reader, with a proxy in front of the API server answering HTML."""
    deployment = "/apis/apps/v1/namespaces/my-reforge-ai/deployments/codex-gh-runner"
    httpserver.expect_request(deployment).respond_with_data(
        "<html>a proxy's page</html>", status=code, content_type="text/html"
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": httpserver.url_for("/")}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    codex = repo / "stacks" / "codex-runner"
    args = parser().parse_args(["status", "--repo", REPO_NAME, "--kubeconfig", str(kubeconfig)])
    err = io.StringIO()
    code = run(args, [codex], environ={"GH_TOKEN": TOKEN}, out=io.StringIO(), err=err)
    assert code == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, err.getvalue()
    [line] = lines
    assert line.startswith(f"gh-runner: the cluster at {httpserver.url_for('/')}")
    assert said.casefold() in line.casefold()  # the reason phrase is the server's own


def test_a_secret_kubeconfig_in_stack_config_asks_for_kubeconfig(
    httpserver: HTTPServer, cluster: FakeCluster, repo_copy: Path, edit_config: EditConfig
) -> None:
    def codex(config: dict[str, Any]) -> None:
        config["provider"]["kubeconfig"] = {"secure": "v1:ciphertext-never-decrypted"}

    edit_config(repo_copy, "codex-runner", codex)
    with pytest.raises(ConfigError, match=r"provider\.kubeconfig: is a secret.*--kubeconfig"):
        status(httpserver, cluster, repo_copy)
    assert cluster.connected == [] and httpserver.log == []
    # Given on the command line, it is used for every fleet.
    answer(httpserver, REPO_NAME, serving())
    assert status(httpserver, cluster, repo_copy, "--kubeconfig", "/kc").code == 0
    assert cluster.connected == [("/kc", None)]
