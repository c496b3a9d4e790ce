"""``gh-runner status``: read each fleet from stack config, the cluster and GitHub, judge it, print
the verdict; remove ghost registrations when asked to, or wait until every fleet is healthy.

The imperative shell around ``status.judge``. Exit codes (runner_k8s.exit_codes): 0 every fleet
healthy, 1 a fleet is degraded (with --wait: did not become healthy, or cannot), 2 bad config or
arguments, or the cluster or GitHub could not be asked.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import httpx

from runner_k8s import exit_codes
from runner_k8s.config.fields import GITHUB_OWNER, GITHUB_REPO
from runner_k8s.config.fleet import in_file, load_fleet_stack
from runner_k8s.config.provider import ProviderConfig
from runner_k8s.config.shared import SharedConfig
from runner_k8s.config.stackfile import load_stack_config, stack_file
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.stacks import SHARED_PROJECT
from runner_k8s.status.cluster import (
    ClusterError,
    ClusterReader,
    KubernetesCluster,
    is_kubeconfig_text,
)
from runner_k8s.status.github import (
    DEFAULT_API,
    GitHub,
    GitHubError,
    api_for,
    scope_of,
    token_from,
)
from runner_k8s.status.judge import judge
from runner_k8s.status.model import ClusterFacts, Fleet, Report, Runner, Scope
from runner_k8s.status.output import format_json, format_report

POLL_INTERVAL = 10.0  # seconds between looks with --wait

# (kubeconfig, context) -> a reader of that cluster; tests pass a fake.
Connect = Callable[[str | None, str | None], ClusterReader]


@dataclass(frozen=True)
class Target:
    """A fleet and where its cluster is: the stack's `provider` config or the command line."""

    fleet: Fleet
    kubeconfig: str | None
    context: str | None


def chosen_scope(repo: str | None, org: str | None) -> Scope | None:
    """The scope named on the command line, if any."""
    if repo is not None and org is not None:
        raise ConfigError.at("--org", "name either --repo OWNER/NAME or --org ORG, not both")
    if repo is not None:
        if not GITHUB_REPO.fullmatch(repo):
            raise ConfigError.at("--repo", f"{repo!r} is not OWNER/NAME (an organisation: --org)")
        return Scope("repository", repo)
    if org is not None:
        if not GITHUB_OWNER.fullmatch(org):
            raise ConfigError.at("--org", f"{org!r} is not an organisation name")
        return Scope("organization", org)
    return None


def scope_from_shared(github_url: str, github_repo: str | None, where: str) -> Scope:
    """Where the runners register, decided from GITHUB_URL as the runner decides it."""
    if github_repo is None:
        raise ConfigError.at(
            where,
            "githubRepo is not set (the runners read GITHUB_URL from a Secret), so where they "
            "register is unknown here; pass --repo OWNER/NAME or --org ORG",
        )
    runner_url = f"{github_url.rstrip('/')}/{github_repo}"
    scope = scope_of(runner_url)
    if scope is None:
        raise ConfigError.at(
            f"{where}: githubUrl",
            f"GITHUB_URL {runner_url} names neither an organisation nor a repository "
            "(the runner takes one path segment or two)",
        )
    return scope


def api_from_shared(shared: SharedConfig) -> str:
    # githubUrl only counts together with githubRepo; a Secret's GITHUB_URL is not read here.
    return api_for(shared.github_url) if shared.github_repo is not None else DEFAULT_API


def load_target(
    stack_dir: Path,
    stack: str,
    scope: Scope | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    api: str | None = None,
) -> Target | None:
    """The runner stack's fleet, or None for the shared stack (it runs no fleet)."""
    where = str(stack_file(stack_dir, stack))
    try:
        config = load_stack_config(stack_dir, stack, collect=True)
    except ConfigError as exc:
        raise ConfigError([in_file(Path(where), p) for p in exc.problems]) from None
    if config.project == SHARED_PROJECT:
        return None
    # The same loader as render: a fleet wired to another stack's shared stack is refused here too.
    loaded = load_fleet_stack(stack_dir, stack, config)
    runner_stack, shared = loaded.config, loaded.shared
    scope = scope or scope_from_shared(
        shared.github_url, shared.github_repo, str(loaded.shared_file)
    )
    kubeconfig, context = cluster_of(runner_stack.provider, stack_dir, stack, kubeconfig, context)
    runner = runner_stack.runner
    fleet = Fleet(
        stack=where,
        name=runner.name,
        namespace=shared.namespace,
        selector=tuple(sorted(runner.selector_labels.items())),
        replicas=runner.replicas,
        labels=tuple(runner.labels),
        scope=scope,
        api=(api or api_from_shared(shared)).rstrip("/"),
    )
    return Target(fleet, kubeconfig, context)


def cluster_of(
    provider: ProviderConfig,
    stack_dir: Path,
    stack: str,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> tuple[str | None, str | None]:
    """Where a stack's objects live: the kubeconfig and context the command line names, else
    the stack's `provider.kubeconfig` and `provider.context`."""
    if kubeconfig is None and provider.kubeconfig is not None:
        if provider.kubeconfig == SECRET_MARKER:
            raise ConfigError.at(
                f"{stack_file(stack_dir, stack)}: provider.kubeconfig",
                "is a secret, never decrypted here; pass --kubeconfig",
            )
        kubeconfig = provider_kubeconfig(provider.kubeconfig, stack_dir)
    return kubeconfig, context or provider.context


def provider_kubeconfig(value: str, stack_dir: Path) -> str:
    """A relative path in stack config is relative to the stack's directory, where Pulumi runs the
    program; `--kubeconfig` is relative to where the operator stands."""
    if is_kubeconfig_text(value) or value.startswith("~") or Path(value).is_absolute():
        return value
    return str(stack_dir / value)


def judge_all(
    targets: Sequence[Target],
    facts: Sequence[ClusterFacts],
    runners: Mapping[tuple[str, Scope], Sequence[Runner]],
    now: datetime,
    grace: timedelta,
) -> Report:
    return Report(
        tuple(
            judge(t.fleet, f, runners[t.fleet.api, t.fleet.scope], now, grace)
            for t, f in zip(targets, facts, strict=True)
        ),
        now,
        grace,
    )


@dataclass
class Observer:
    """Looks at the clusters and GitHub; one connection per cluster and per API."""

    targets: Sequence[Target]
    connect: Connect
    githubs: Mapping[str, GitHub]
    grace: timedelta
    clusters: dict[tuple[str | None, str | None], ClusterReader] = field(default_factory=dict)

    def look(self) -> Report:
        facts = []
        for t in self.targets:
            where = (t.kubeconfig, t.context)
            if where not in self.clusters:
                self.clusters[where] = self.connect(*where)
            facts.append(self.clusters[where].facts(t.fleet))
        scopes = dict.fromkeys((t.fleet.api, t.fleet.scope) for t in self.targets)
        runners = {(api, scope): self.githubs[api].runners(scope) for api, scope in scopes}
        return judge_all(self.targets, facts, runners, datetime.now(UTC), self.grace)


def ghost_text(fleet: Fleet, ghost: Runner) -> str:
    return f"ghost runner {ghost.name} (id {ghost.id}) of {fleet.name} from {fleet.scope}"


@dataclass
class Removal:
    deleted: int = 0
    gone: int = 0
    refused: int = 0
    failed: int = 0

    def summary(self) -> str:
        return (
            f"ghost removal: {self.deleted} deleted, {self.gone} already gone, "
            f"{self.refused} skipped, {self.failed} failed"
        )


def remove_ghosts(report: Report, githubs: Mapping[str, GitHub], notes: TextIO) -> Removal:
    """Delete each ghost in turn; one refusal or failure does not stop the others, a rate limit
    does (asking again at once is what GitHub asks clients not to do)."""
    removal = Removal()
    ghosts = report.ghosts
    for number, (fleet, ghost) in enumerate(ghosts):
        what = ghost_text(fleet, ghost)
        result = githubs[fleet.api].delete_runner(fleet.scope, ghost.id)
        if result.outcome == "deleted":
            removal.deleted += 1
            print(f"deleted {what}", file=notes)
        elif result.outcome == "gone":
            removal.gone += 1
            print(f"already gone: {what}", file=notes)
        elif result.outcome == "refused":
            removal.refused += 1
            print(f"skipped {what}: GitHub says {result.reason}", file=notes)
        else:
            removal.failed += 1
            print(f"not deleted {what}: {result.reason}", file=notes)
            if result.rate_limited:
                left = len(ghosts) - number - 1
                removal.failed += left
                if left:
                    print(f"stopped: {left} more ghost(s) not tried", file=notes)
                break
    print(removal.summary(), file=notes)
    return removal


def _progress(report: Report) -> str:
    parts = []
    for f in report.fleets:
        if f.healthy:
            parts.append(f"{f.fleet.name} healthy")
        else:
            parts.append(f"{f.fleet.name}: {f.problems[0]}")
    return "; ".join(parts)


def wait(
    observer: Observer,
    timeout: float,
    err: TextIO,
    interval: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> tuple[Report, str | None]:
    """Look until every fleet is healthy; stop early on a fault waiting cannot heal, or at the
    timeout. Returns the last report and why it stopped unhealthy (None: healthy)."""
    deadline = clock() + timeout
    while True:
        report = observer.look()
        if report.healthy:
            return report, None
        if report.unhealable:
            return report, f"will not heal by waiting: {report.unhealable[0]}"
        left = deadline - clock()
        if left <= 0:
            return report, f"not healthy after {int(timeout)} s: {_progress(report)}"
        print(f"waiting: {_progress(report)}", file=err, flush=True)
        sleep(min(interval, left))


def check_arguments(args: argparse.Namespace) -> None:
    if args.yes and not args.remove_ghosts:
        raise ConfigError.at("--yes", "only means something with --remove-ghosts")
    if args.wait and args.remove_ghosts:
        raise ConfigError.at("--wait", "remove the ghosts first, then wait (two runs)")


def run(
    args: argparse.Namespace,
    stack_dirs: Sequence[Path],
    connect: Connect = KubernetesCluster,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    github_transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Bad config or arguments raise ConfigError (the CLI's exit 2); everything else is handled
    here."""
    check_arguments(args)
    scope = chosen_scope(args.repo, args.org)
    found = [
        load_target(d, args.stack, scope, args.kubeconfig, args.context, args.github_api)
        for d in stack_dirs
    ]
    targets = [t for t in found if t is not None]
    if not targets:
        raise ConfigError.at("STACK_DIR", "no runner stack given (the shared stack runs no fleet)")
    grace = timedelta(seconds=args.grace)
    token = ""
    notes = err if args.format == "json" else out  # keep stdout pure JSON
    show = format_json if args.format == "json" else format_report
    try:
        token = token_from(environ)
        with ExitStack() as stack:
            githubs = {
                api: stack.enter_context(GitHub(token, api, transport=github_transport))
                for api in dict.fromkeys(t.fleet.api for t in targets)
            }
            observer = Observer(targets, connect, githubs, grace)
            if args.wait:
                report, stopped = wait(observer, args.timeout, err, args.interval, sleep, clock)
                out.write(show(report))
                if stopped is not None:
                    print(f"gh-runner: {stopped}", file=err)
                    return exit_codes.DEGRADED
                return exit_codes.OK
            report = observer.look()
            if not args.remove_ghosts:
                out.write(show(report))
                return report.exit_code
            if not report.ghosts or not args.yes:
                out.write(show(report))
                for fleet, ghost in report.ghosts:
                    print(f"would delete {ghost_text(fleet, ghost)}", file=notes)
                if report.ghosts:
                    print("nothing deleted: rerun with --yes to delete them", file=notes)
                else:
                    print("no ghost runners to remove", file=notes)
                return report.exit_code
            removal = remove_ghosts(report, githubs, notes)
            after = observer.look()  # what GitHub holds now, not what was hoped for
            out.write(show(after))
            if removal.failed or removal.refused:
                return exit_codes.DEGRADED
            return after.exit_code
    except (ClusterError, GitHubError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever a library put in it
        if len(token) >= 8:  # no message should carry it; make sure (a real token is far longer)
            message = message.replace(token, "[token]")
        print(f"gh-runner: {message}", file=err)
        return exit_codes.UNREACHABLE
