"""The GitHub API as the status tests' local double serves it (on pytest's pythonpath)."""

from __future__ import annotations

from typing import Any

from pytest_httpserver import HTTPServer


def github_runner(
    runner_id: int,
    name: str,
    labels: tuple[str, ...],
    status: str = "online",
    busy: bool = False,
) -> dict[str, Any]:
    """One runner as GitHub's list-self-hosted-runners-for-repo example shows it: its default
    labels read-only, the configured ones custom."""
    system = [
        {"id": 1, "name": "self-hosted", "type": "read-only"},
        {"id": 2, "name": "Linux", "type": "read-only"},
        {"id": 3, "name": "X64", "type": "read-only"},
    ]
    custom = [{"id": 10 + i, "name": n, "type": "custom"} for i, n in enumerate(labels)]
    return {
        "id": runner_id,
        "name": name,
        "os": "Linux",
        "status": status,
        "busy": busy,
        "ephemeral": True,
        "runner_group_id": 1,
        "labels": system + custom,
    }


def runners_path(repo: str) -> str:
    return f"/repos/{repo}/actions/runners"


def answer(httpserver: HTTPServer, repo: str, runners: list[dict[str, Any]]) -> None:
    """The double lists ``runners`` for ``repo``, one page, as GitHub's endpoint does."""
    httpserver.expect_request(runners_path(repo), method="GET").respond_with_json(
        {"total_count": len(runners), "runners": runners}
    )
