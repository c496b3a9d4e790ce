"""The two GitHub REST calls ``gh-runner status`` makes: list a repository's self-hosted runners
(every page) and delete one registration.

The token travels only in the ``Authorization`` header, and only to the API's own origin: a
``Link`` header or redirect pointing elsewhere is not followed with it. Error messages name the
status and what to do, never the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from runner_k8s.status.model import Runner

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum
MAX_PAGES = 1000  # a Link loop must not spin forever
TOKEN_ENV = ("GH_TOKEN", "GITHUB_TOKEN")
READ_PERMISSION = (
    "the token needs read access to the repository's self-hosted runners: fine-grained, "
    "repository permission Administration: read; classic, the repo scope"
)
WRITE_PERMISSION = (
    "deleting a runner needs repository permission Administration: read and write "
    "(classic token: the repo scope)"
)


class GitHubError(Exception):
    """GitHub could not be asked, or refused; ``str()`` is one operator-facing line."""


def token_from(environ: Mapping[str, str]) -> str:
    for name in TOKEN_ENV:
        token = environ.get(name, "").strip()
        if token:
            return token
    raise GitHubError(
        f"no GitHub token: set {' or '.join(TOKEN_ENV)} in the environment ({READ_PERMISSION})"
    )


def runners_from_page(body: Any) -> list[Runner]:
    """One page of ``GET /repos/{owner}/{repo}/actions/runners``. Labels are typed by GitHub:
    ``read-only`` for its own (self-hosted, Linux, X64), ``custom`` for those the runner was
    configured with."""
    if not isinstance(body, dict) or not isinstance(body.get("runners"), list):
        raise GitHubError("GitHub's runner list has no `runners` array: is --github-api an API?")
    try:
        return [_runner(item) for item in body["runners"]]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise GitHubError("GitHub's runner list holds an entry without an id or name") from None


def _runner(item: dict[str, Any]) -> Runner:
    labels = item.get("labels") or []
    return Runner(
        id=int(item["id"]),
        name=str(item["name"]),
        online=item.get("status") == "online",
        busy=bool(item.get("busy")),
        labels=tuple(str(x["name"]) for x in labels if x.get("type") == "custom"),
        system_labels=tuple(str(x["name"]) for x in labels if x.get("type") != "custom"),
    )


def _reset_time(headers: Mapping[str, str]) -> str:
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        moment = datetime.fromtimestamp(int(reset), UTC)
        return f"until {moment.strftime('%Y-%m-%d %H:%M:%S')} UTC (x-ratelimit-reset)"
    retry = headers.get("retry-after")
    if retry:
        return f"for {retry} s (retry-after)"
    return "for a while"


def refusal(status: int, headers: Mapping[str, str], repo: str, writing: bool = False) -> str:
    """Why GitHub answered ``status``, and what to do about it."""
    if status in (403, 429) and (
        headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
    ):
        return f"GitHub rate limit reached ({status}): try again {_reset_time(headers)}"
    if status == 401:
        return (
            "GitHub refused the token (401 Bad credentials): the token in GH_TOKEN/GITHUB_TOKEN "
            "is wrong, expired or revoked"
        )
    permission = WRITE_PERMISSION if writing else READ_PERMISSION
    if status == 403:
        return f"GitHub denied access to {repo}'s runners (403): {permission}"
    if status == 404:
        return (
            f"GitHub answers 404 for {repo}'s runners: the repository does not exist, or the "
            f"token may not see it or its runners; {permission}"
        )
    return f"GitHub answered {status} for {repo}'s runners"


class GitHub:
    """A thin client of the runner endpoints; use as a context manager."""

    def __init__(
        self,
        token: str,
        api: str = DEFAULT_API,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api = api.rstrip("/")
        self._origin = _origin(self.api)
        self._http = httpx.Client(
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "gh-runner-status",
            },
            timeout=timeout,
            # httpx drops the Authorization header on a redirect to another origin.
            follow_redirects=True,
            transport=transport,
        )

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _send(self, method: str, url: str, repo: str, writing: bool = False) -> httpx.Response:
        try:
            response = self._http.request(method, url)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise GitHubError(f"cannot reach GitHub at {self.api}: {exc}") from None
        if response.is_success:
            return response
        raise GitHubError(refusal(response.status_code, response.headers, repo, writing))

    def runners(self, repo: str) -> list[Runner]:
        """Every registration of the repository, following the ``Link: rel="next"`` pages."""
        url: str | None = f"{self.api}/repos/{repo}/actions/runners?per_page={PER_PAGE}"
        runners: list[Runner] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return runners
            response = self._send("GET", url, repo)
            try:
                body = response.json()
            except ValueError:
                raise GitHubError(f"GitHub's answer from {self.api} is not JSON") from None
            runners += runners_from_page(body)
            url = response.links.get("next", {}).get("url")
            if url is not None and _origin(url) != self._origin:
                # Following it would hand the token to another host.
                raise GitHubError(f"GitHub's next page points away from {self.api}: not followed")
        raise GitHubError(f"more than {MAX_PAGES} pages of runners: stopped")

    def delete_runner(self, repo: str, runner_id: int) -> None:
        self._send("DELETE", f"{self.api}/repos/{repo}/actions/runners/{runner_id}", repo, True)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
