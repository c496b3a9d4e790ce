"""The GitHub REST calls ``gh-runner status`` makes: list the self-hosted runners of a repository
or an organisation (every page) and delete one registration; and the rules that turn GitHub's
answers into one operator-facing line.

Where the runners register is decided as the runner itself decides (actions/runner,
ConfigurationManager and UrlUtil.IsHostedServer): the path of GITHUB_URL has one segment for an
organisation, two for a repository; github.com and *.ghe.com have their API at https://api.HOST,
any other host (GitHub Enterprise Server) at https://HOST/api/v3.

The token travels only in the ``Authorization`` header, and only to the API's own origin: a
``Link`` header or redirect pointing elsewhere is not followed with it. Error messages name the
status and what to do, never the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from runner_k8s.status.model import Runner, Scope

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum
MAX_PAGES = 1000  # a Link loop must not spin forever
TOKEN_ENV = ("GH_TOKEN", "GITHUB_TOKEN")
# GitHub's own cloud: the API has a host of its own (UrlUtil.IsHostedServer in actions/runner).
CLOUD_HOSTS = ("github.com", "www.github.com")
CLOUD_SUFFIX = ".ghe.com"


class GitHubError(Exception):
    """GitHub could not be asked, or refused; ``str()`` is one operator-facing line."""


def api_for(github_url: str) -> str:
    """The REST API of the GitHub at ``github_url``, as the runner derives it."""
    parts = urlsplit(github_url)
    host = (parts.hostname or "").lower()
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if host in CLOUD_HOSTS or host.endswith(CLOUD_SUFFIX):
        return f"{parts.scheme}://api.{netloc.removeprefix('www.')}"
    return f"{parts.scheme}://{netloc}/api/v3"


def scope_of(runner_url: str) -> Scope | None:
    """The scope the runner registers at for GITHUB_URL ``runner_url``: one path segment is an
    organisation, two a repository; None for anything else (an enterprise, or a URL the runner
    refuses)."""
    segments = [s for s in urlsplit(runner_url).path.replace("\\", "/").split("/") if s]
    if len(segments) == 1:
        return Scope("organization", segments[0])
    if len(segments) == 2 and segments[0].lower() != "enterprises":
        return Scope("repository", "/".join(segments))
    return None


def read_permission(scope: Scope) -> str:
    if scope.kind == "organization":
        return (
            "listing an organisation's runners needs an organisation admin's token: fine-grained, "
            'organization permission "Self-hosted runners": read; classic, the admin:org scope'
        )
    return (
        "listing a repository's runners needs a repository admin's token: fine-grained, "
        "repository permission Administration: read; classic, the repo scope"
    )


def write_permission(scope: Scope) -> str:
    if scope.kind == "organization":
        return (
            'deleting one needs organization permission "Self-hosted runners": read and write '
            "(classic token: admin:org)"
        )
    return (
        "deleting one needs repository permission Administration: read and write "
        "(classic token: the repo scope)"
    )


def token_from(environ: Mapping[str, str]) -> str:
    for name in TOKEN_ENV:
        token = environ.get(name, "").strip()
        if token:
            return token
    raise GitHubError(
        f"no GitHub token: set {' or '.join(TOKEN_ENV)} in the environment (an admin's token: "
        "Administration: read for a repository, Self-hosted runners: read for an organisation)"
    )


def runners_from_page(body: Any) -> list[Runner]:
    """One page of the runner list. Labels are typed by GitHub: ``read-only`` for its own
    (self-hosted, Linux, X64), ``custom`` for those the runner was configured with."""
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
        # Optional in GitHub's schema: absent means not proven ephemeral.
        ephemeral=item.get("ephemeral") is True,
    )


# --- GitHub's answers -> one line (pure) --------------------------------------------------------

SECONDARY_MARKERS = ("secondary rate limit", "abuse detection")


@dataclass(frozen=True)
class RateLimit:
    """A rate-limited answer and how long GitHub says to wait, by its documented rules."""

    kind: Literal["primary", "secondary"]
    wait: str  # "for 60 s (retry-after)", "until ... UTC (x-ratelimit-reset)", ...


def message_of(body: Any) -> str:
    """GitHub's error ``message`` (basic-error / validation-error shapes), one line."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return " ".join(body["message"].split())
    return ""


def rate_limit(status: int, headers: Mapping[str, str], message: str) -> RateLimit | None:
    """GitHub's rules ("Exceeding the rate limit", docs for the REST API): a primary limit is 403
    or 429 with x-ratelimit-remaining 0; a secondary one 403 or 429 with a message saying so.
    Wait for retry-after if given, else until x-ratelimit-reset when x-ratelimit-remaining is 0,
    else at least a minute. A 429 is always a rate limit; a 403 without either sign is not."""
    if status not in (403, 429):
        return None
    secondary = any(marker in message.lower() for marker in SECONDARY_MARKERS)
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    retry = headers.get("retry-after", "").strip()
    if not (secondary or exhausted or retry or status == 429):
        return None
    kind: Literal["primary", "secondary"] = (
        "primary" if exhausted and not secondary else "secondary"
    )
    reset = headers.get("x-ratelimit-reset", "").strip()
    if retry.isdigit():
        wait = f"for {retry} s (retry-after)"
    elif exhausted and reset.isdigit():
        moment = datetime.fromtimestamp(int(reset), UTC)
        wait = f"until {moment.strftime('%Y-%m-%d %H:%M:%S')} UTC (x-ratelimit-reset)"
    else:
        wait = "for at least a minute"
    return RateLimit(kind, wait)


def refusal(
    status: int, headers: Mapping[str, str], body: Any, scope: Scope, writing: bool = False
) -> str:
    """Why GitHub answered ``status`` to a list (or a delete, ``writing``), and what to do."""
    message = message_of(body)
    limited = rate_limit(status, headers, message)
    if limited is not None:
        return (
            f"GitHub's {limited.kind} rate limit reached ({status}): wait {limited.wait} "
            "before asking again"
        )
    answer = f"{status} {message or 'Bad credentials' if status == 401 else message}".strip()
    if status == 401:
        return (
            f"GitHub refused the token ({answer}): the token in GH_TOKEN/GITHUB_TOKEN is wrong, "
            "expired or revoked"
        )
    permission = write_permission(scope) if writing else read_permission(scope)
    if status == 403:
        return f"GitHub denied access to the {scope}'s runners ({answer}): {permission}"
    if status == 404:
        return (
            f"GitHub answers 404 for the {scope}'s runners: the {scope.kind} does not exist, or "
            f"the token may not see it or its runners; {permission}"
        )
    return f"GitHub answered {answer} for the {scope}'s runners"


# --- the client (imperative shell) ---------------------------------------------------------------


@dataclass(frozen=True)
class Deletion:
    """What became of one DELETE: ``deleted``, ``gone`` (404: already), ``refused`` (GitHub said
    why, e.g. 422 still running a job) or ``failed``."""

    outcome: Literal["deleted", "gone", "refused", "failed"]
    reason: str = ""
    rate_limited: bool = False


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

    def _request(self, method: str, url: str) -> httpx.Response:
        try:
            return self._http.request(method, url)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise GitHubError(f"cannot reach GitHub at {self.api}: {exc}") from None

    def runners(self, scope: Scope) -> list[Runner]:
        """Every registration of the scope, following the ``Link: rel="next"`` pages."""
        url: str | None = f"{self.api}/{scope.path}/actions/runners?per_page={PER_PAGE}"
        runners: list[Runner] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return runners
            response = self._request("GET", url)
            if not response.is_success:
                raise GitHubError(
                    refusal(response.status_code, response.headers, _json(response), scope)
                )
            body = _json(response)
            if body is None:
                raise GitHubError(f"GitHub's answer from {self.api} is not JSON")
            runners += runners_from_page(body)
            url = response.links.get("next", {}).get("url")
            if url is not None and _origin(url) != self._origin:
                # Following it would hand the token to another host.
                raise GitHubError(f"GitHub's next page points away from {self.api}: not followed")
        raise GitHubError(f"more than {MAX_PAGES} pages of runners: stopped")

    def delete_runner(self, scope: Scope, runner_id: int) -> Deletion:
        """One DELETE; never raises for GitHub's answer, so the caller can go on with the next."""
        try:
            response = self._request(
                "DELETE", f"{self.api}/{scope.path}/actions/runners/{runner_id}"
            )
        except GitHubError as exc:
            return Deletion("failed", str(exc))
        if response.is_success:
            return Deletion("deleted")
        body = _json(response)
        if response.status_code == 404:
            return Deletion("gone", "GitHub no longer has it (404)")
        if response.status_code == 422:
            return Deletion("refused", message_of(body) or "GitHub refused it (422)")
        limited = rate_limit(response.status_code, response.headers, message_of(body))
        reason = refusal(response.status_code, response.headers, body, scope, writing=True)
        return Deletion("failed", reason, rate_limited=limited is not None)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
