"""The GitHub double itself answers as GitHub's description says: pages joined by `Link`, DELETE
204/404/422 with the registrations really gone, and the three rate-limit shapes."""

from __future__ import annotations

import httpx
import pytest
from github_double import GitHubDouble, example, github_runner, runners_path
from pytest_httpserver import HTTPServer

LABELS = ("gpt-5-codex",)


def test_a_listed_runner_has_every_key_of_githubs_example(httpserver: HTTPServer) -> None:
    runner = github_runner(7, "codex-gh-runner-7d4b9c8f6d-abcde", LABELS, ephemeral=True)
    assert set(runner) == set(example("runner"))
    assert [(label["name"], label["type"]) for label in runner["labels"]] == [
        ("self-hosted", "read-only"),
        ("X64", "read-only"),
        ("Linux", "read-only"),
        ("gpt-5-codex", "custom"),
    ]


def test_pages_follow_link_until_the_last(httpserver: HTTPServer) -> None:
    runners = [github_runner(i, f"r{i}", LABELS) for i in range(5)]
    GitHubDouble(httpserver).serve("orgs/acme", runners)
    url: str | None = httpserver.url_for(runners_path("orgs/acme")) + "?per_page=2"
    seen = []
    while url:
        response = httpx.get(url)
        seen += [r["name"] for r in response.json()["runners"]]
        assert response.json()["total_count"] == 5
        url = response.links.get("next", {}).get("url")
    assert seen == [f"r{i}" for i in range(5)]


def test_delete_answers_204_then_404_and_422_for_a_busy_runner(httpserver: HTTPServer) -> None:
    double = GitHubDouble(httpserver).serve(
        "acme/fleet",
        [github_runner(1, "idle", LABELS), github_runner(2, "working", LABELS, busy=True)],
    )
    runners = httpserver.url_for(runners_path("acme/fleet"))
    assert httpx.delete(f"{runners}/1").status_code == 204
    assert httpx.delete(f"{runners}/1").status_code == 404
    busy = httpx.delete(f"{runners}/2")
    assert busy.status_code == 422
    assert busy.json()["message"] == 'Bad request - Runner "working" is still running a job"'
    assert double.registered("acme/fleet") == ["working"] and double.deleted == [1]


@pytest.mark.parametrize(
    ("shape", "remaining", "retry_after", "secondary"),
    [
        ("primary", "0", None, False),
        ("secondary-retry-after", "4990", "60", True),
        ("secondary", "4990", None, True),
    ],
)
def test_the_three_rate_limit_shapes(
    httpserver: HTTPServer, shape: str, remaining: str, retry_after: str | None, secondary: bool
) -> None:
    double = GitHubDouble(httpserver).serve("acme/fleet", [])
    double.rate_limit(shape, status=429)  # type: ignore[arg-type]
    url = httpserver.url_for(runners_path("acme/fleet"))
    limited = httpx.get(url)
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-remaining"] == remaining
    assert limited.headers.get("retry-after") == retry_after
    assert ("secondary rate limit" in limited.json()["message"]) is secondary
    assert httpx.get(url).status_code == 200  # one answer only


def test_a_runner_can_take_a_job_or_vanish_between_list_and_delete(httpserver: HTTPServer) -> None:
    double = GitHubDouble(httpserver).serve(
        "orgs/acme",
        [github_runner(1, "a", LABELS, "offline"), github_runner(2, "b", LABELS, "offline")],
    )
    double.takes_job(1).vanishes(2)
    runners = httpserver.url_for(runners_path("orgs/acme"))
    assert httpx.delete(f"{runners}/1").status_code == 422
    assert httpx.delete(f"{runners}/2").status_code == 404
    [taken] = httpx.get(runners).json()["runners"]
    assert (taken["name"], taken["status"], taken["busy"]) == ("a", "online", True)
