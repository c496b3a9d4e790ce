"""GitHub's self-hosted-runner endpoints as the status tests' local double serves them (on
pytest's pythonpath).

Every body comes from tests/data/github/ (GitHub's OpenAPI examples and error shapes; its README
says where each came from). `GitHubDouble` keeps the registrations of each scope, a repository
(`repos/OWNER/NAME`) or an organisation (`orgs/ORG`), and answers as GitHub does: the list in
pages with a `Link` header, DELETE with 204, 404 for an id it does not hold and 422 for a runner
that is running a job, and, when told to, one of the three rate-limit answers.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DATA = Path(__file__).parent / "data" / "github"
DEFAULT_PER_PAGE = 30  # GitHub's default page size for these endpoints
MAX_PER_PAGE = 100
RATE_LIMIT = 5000  # a personal access token's hourly primary limit

RateLimit = Literal["primary", "secondary-retry-after", "secondary"]


@cache
def _example(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text())


def example(name: str) -> Any:
    """A fresh copy of one file of tests/data/github/ (without .json)."""
    return copy.deepcopy(_example(name))


def error_body(key: str, **fill: str) -> dict[str, Any]:
    body: dict[str, Any] = example("errors")[key]
    body["message"] = body["message"].replace("{name}", fill.get("name", ""))
    return body


def github_runner(
    runner_id: int,
    name: str,
    labels: tuple[str, ...],
    status: str = "online",
    busy: bool = False,
    ephemeral: bool = True,
) -> dict[str, Any]:
    """One registration as GitHub lists it: the `linux_runner` of GitHub's runner-paginated
    example (its read-only labels self-hosted, X64, Linux) with this runner's id, name, state and
    custom labels, typed like the example's custom label."""
    runner: dict[str, Any] = example("runner-paginated")["runners"][0]
    custom = example("runner")["labels"][-1]
    assert runner["os"] == "linux" and custom["type"] == "custom", "the examples changed"
    read_only = [label for label in runner["labels"] if label["type"] == "read-only"]
    runner.update(
        id=runner_id,
        name=name,
        status=status,
        busy=busy,
        ephemeral=ephemeral,
        labels=read_only
        + [{**custom, "id": 100 + i, "name": label} for i, label in enumerate(labels)],
    )
    return runner


def runners_path(scope: str) -> str:
    """`acme/fleet` (a repository) or `orgs/acme` / `repos/acme/fleet` (explicit)."""
    if not scope.startswith(("repos/", "orgs/")):
        scope = f"repos/{scope}"
    return f"/{scope}/actions/runners"


def answer(httpserver: HTTPServer, repo: str, runners: list[dict[str, Any]]) -> None:
    """The double lists ``runners`` for ``repo``, one page, as GitHub's endpoint does."""
    httpserver.expect_request(runners_path(repo), method="GET").respond_with_json(
        {"total_count": len(runners), "runners": runners}
    )


def rate_limit_headers(remaining: int, reset: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(RATE_LIMIT),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(RATE_LIMIT - remaining),
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-resource": "core",
    }


@dataclass
class Limited:
    """One rate-limited answer waiting for the next matching request."""

    shape: RateLimit
    status: int
    method: str | None
    retry_after: int


@dataclass
class GitHubDouble:
    """A stateful GitHub: registrations per scope, deleted for real by DELETE."""

    httpserver: HTTPServer
    prefix: str = ""  # where the API lives on the server: "/api/v3" for GitHub Enterprise Server
    scopes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The epoch second GitHub would name in x-ratelimit-reset; tests read it back.
    reset: int = field(default_factory=lambda: int(time.time()) + 3000)
    deleted: list[int] = field(default_factory=list)
    _limits: deque[Limited] = field(default_factory=deque)
    # What happens to a runner between the list and the DELETE of it (id -> change).
    _before_delete: dict[int, str] = field(default_factory=dict)

    def serve(self, scope: str, runners: list[dict[str, Any]]) -> GitHubDouble:
        """GitHub holds ``runners`` for ``scope`` (as `runners_path` takes it)."""
        path = self.prefix + runners_path(scope)
        if path not in self.scopes:
            self.httpserver.expect_request(
                re.compile(rf"^{re.escape(path)}(/[0-9]+)?$")
            ).respond_with_handler(self._handle)
        self.scopes[path] = list(runners)
        return self

    def rate_limit(
        self,
        shape: RateLimit,
        status: int = 403,
        method: str | None = None,
        retry_after: int = 60,
    ) -> GitHubDouble:
        """The next request (of ``method``, if given) gets this rate-limit answer instead."""
        self._limits.append(Limited(shape, status, method, retry_after))
        return self

    def takes_job(self, runner_id: int) -> GitHubDouble:
        """The runner comes back online and takes a job just before its DELETE arrives."""
        self._before_delete[runner_id] = "takes a job"
        return self

    def vanishes(self, runner_id: int) -> GitHubDouble:
        """GitHub drops the registration itself just before its DELETE arrives."""
        self._before_delete[runner_id] = "vanishes"
        return self

    def registered(self, scope: str) -> list[str]:
        return [r["name"] for r in self.scopes[self.prefix + runners_path(scope)]]

    def _handle(self, request: Request) -> Response:
        for limited in list(self._limits):
            if limited.method in (None, request.method):
                self._limits.remove(limited)
                return self._limited(limited)
        path, _, runner_id = request.path.partition("/actions/runners")
        runners = self.scopes[f"{path}/actions/runners"]
        if request.method == "DELETE" and runner_id:
            self._change_before_delete(runners, int(runner_id[1:]))
        if request.method == "GET" and not runner_id:
            return self._page(request, runners)
        found = [r for r in runners if runner_id and r["id"] == int(runner_id[1:])]
        if not found:
            return self._json(error_body("not-found"), 404)
        if request.method == "GET":
            return self._json(found[0], 200)
        if request.method != "DELETE":
            return self._json(error_body("not-found"), 404)
        if found[0]["busy"]:
            return self._json(error_body("still-running-a-job", name=found[0]["name"]), 422)
        runners.remove(found[0])
        self.deleted.append(found[0]["id"])
        return Response(status=204, headers=rate_limit_headers(RATE_LIMIT - 1, self.reset))

    def _change_before_delete(self, runners: list[dict[str, Any]], runner_id: int) -> None:
        change = self._before_delete.pop(runner_id, None)
        for runner in [r for r in runners if r["id"] == runner_id]:
            if change == "takes a job":
                runner.update(status="online", busy=True)
            elif change == "vanishes":
                runners.remove(runner)

    def _page(self, request: Request, runners: list[dict[str, Any]]) -> Response:
        per_page = min(int(request.args.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
        page = int(request.args.get("page", 1))
        pages = max(1, -(-len(runners) // per_page))
        shown = runners[(page - 1) * per_page : page * per_page]
        headers = rate_limit_headers(RATE_LIMIT - 1, self.reset)
        links = []
        base = request.base_url
        for rel, number in (("prev", page - 1), ("next", page + 1), ("last", pages), ("first", 1)):
            if 1 <= number <= pages and number != page:
                query = urlencode({"per_page": per_page, "page": number})
                links.append(f'<{base}?{query}>; rel="{rel}"')
        if links:
            headers["Link"] = ", ".join(links)
        return self._json({"total_count": len(runners), "runners": shown}, 200, headers)

    def _limited(self, limited: Limited) -> Response:
        if limited.shape == "primary":
            body = error_body("primary-rate-limit")
            headers = rate_limit_headers(0, self.reset)
        else:
            body = error_body("secondary-rate-limit")
            headers = rate_limit_headers(RATE_LIMIT - 10, self.reset)
            if limited.shape == "secondary-retry-after":
                headers["retry-after"] = str(limited.retry_after)
        body["status"] = str(limited.status)
        return self._json(body, limited.status, headers)

    @staticmethod
    def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
        return Response(
            json.dumps(body), status=status, headers=headers, content_type="application/json"
        )
