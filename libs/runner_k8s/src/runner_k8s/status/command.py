"""``gh-runner status``: read each fleet from stack config, the cluster and GitHub, judge it, print
the verdict, and remove ghost registrations when asked to.

The imperative shell around ``status.judge``. Exit codes: 0 every fleet healthy, 1 a fleet is
degraded, 2 bad config or arguments, or the cluster or GitHub could not be asked.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import httpx

from runner_k8s import exit_codes
from runner_k8s.config.fleet import in_file, load_fleet_stack
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
from runner_k8s.status.github import GitHub, GitHubError, token_from
from runner_k8s.status.judge import judge, without
from runner_k8s.status.model import ClusterFacts, Fleet, Report, Runner
from runner_k8s.status.output import format_json, format_report

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")

# (kubeconfig, context) -> a reader of that cluster; tests pass a fake.
Connect = Callable[[str | None, str | None], ClusterReader]


@dataclass(frozen=True)
class Target:
    """A fleet and where its cluster is: the stack's `provider` config or the command line."""

    fleet: Fleet
    kubeconfig: str | None
    context: str | None


def load_target(
    stack_dir: Path,
    stack: str,
    repo: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> Target | None:
    """The runner stack's fleet, or None for the shared stack (it runs no fleet)."""
    where = str(stack_file(stack_dir, stack))
    try:
        config = load_stack_config(stack_dir, stack)
    except ConfigError as exc:
        raise ConfigError([in_file(Path(where), p) for p in exc.problems]) from None
    if config.project == SHARED_PROJECT:
        return None
    # The same loader as render: a fleet wired to another stack's shared stack is refused here too.
    loaded = load_fleet_stack(stack_dir, stack, config)
    runner_stack, shared = loaded.config, loaded.shared
    repo = repo or shared.github_repo
    if repo is None:
        raise ConfigError.at(
            str(loaded.shared_file),
            "githubRepo is not set (the runners read GITHUB_URL from a Secret), so the "
            "repository they serve is unknown here; pass --repo OWNER/NAME",
        )
    provider = runner_stack.provider
    if kubeconfig is None and provider.kubeconfig is not None:
        if provider.kubeconfig == SECRET_MARKER:
            raise ConfigError.at(
                f"{where}: provider.kubeconfig",
                "is a secret, never decrypted here; pass --kubeconfig",
            )
        kubeconfig = provider_kubeconfig(provider.kubeconfig, stack_dir)
    runner = runner_stack.runner
    fleet = Fleet(
        stack=where,
        name=runner.name,
        namespace=shared.namespace,
        selector=tuple(sorted(runner.selector_labels.items())),
        replicas=runner.replicas,
        labels=tuple(runner.labels),
        repo=repo,
    )
    return Target(fleet, kubeconfig, context or provider.context)


def provider_kubeconfig(value: str, stack_dir: Path) -> str:
    """A relative path in stack config is relative to the stack's directory, where Pulumi runs the
    program; `--kubeconfig` is relative to where the operator stands."""
    if is_kubeconfig_text(value) or value.startswith("~") or Path(value).is_absolute():
        return value
    return str(stack_dir / value)


def judge_all(
    targets: Sequence[Target],
    facts: Sequence[ClusterFacts],
    runners: Mapping[str, Sequence[Runner]],
    now: datetime,
    grace: timedelta,
) -> Report:
    return Report(
        tuple(
            judge(t.fleet, f, runners[t.fleet.repo], now, grace)
            for t, f in zip(targets, facts, strict=True)
        ),
        now,
        grace,
    )


def _remove_ghosts(report: Report, github: GitHub, yes: bool, notes: TextIO) -> list[Runner]:
    ghosts = [(f.fleet, g) for f in report.fleets for g in f.ghosts]
    if not ghosts:
        print("no ghost runners to remove", file=notes)
        return []
    removed = []
    for fleet, ghost in ghosts:
        what = f"ghost runner {ghost.name} (id {ghost.id}) of {fleet.name} from {fleet.repo}"
        if not yes:
            print(f"would delete {what}", file=notes)
            continue
        github.delete_runner(fleet.repo, ghost.id)
        removed.append(ghost)
        print(f"deleted {what}", file=notes)
    if not yes:
        print("nothing deleted: rerun with --yes to delete them", file=notes)
    return removed


def run(
    args: argparse.Namespace,
    stack_dirs: Sequence[Path],
    connect: Connect = KubernetesCluster,
    environ: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    github_transport: httpx.BaseTransport | None = None,
) -> int:
    """Bad config raises ConfigError (the CLI's exit 2); everything else is handled here."""
    if args.repo is not None and not _REPO.match(args.repo):
        raise ConfigError.at("--repo", f"{args.repo!r} is not OWNER/NAME")
    found = [
        load_target(d, args.stack, args.repo, args.kubeconfig, args.context) for d in stack_dirs
    ]
    targets = [t for t in found if t is not None]
    if not targets:
        raise ConfigError.at("STACK_DIR", "no runner stack given (the shared stack runs no fleet)")
    grace = timedelta(seconds=args.grace)
    token = ""
    try:
        token = token_from(environ)
        clusters: dict[tuple[str | None, str | None], ClusterReader] = {}
        facts = []
        for t in targets:
            where = (t.kubeconfig, t.context)
            if where not in clusters:
                clusters[where] = connect(*where)
            facts.append(clusters[where].facts(t.fleet))
        with GitHub(token, args.github_api, transport=github_transport) as github:
            runners = {
                repo: github.runners(repo) for repo in dict.fromkeys(t.fleet.repo for t in targets)
            }
            report = judge_all(targets, facts, runners, datetime.now(UTC), grace)
            out.write(format_json(report) if args.format == "json" else format_report(report))
            if args.remove_ghosts:
                notes = err if args.format == "json" else out  # keep stdout pure JSON
                removed = _remove_ghosts(report, github, args.yes, notes)
                if removed:
                    gone = {repo: without(rs, removed) for repo, rs in runners.items()}
                    report = judge_all(targets, facts, gone, report.now, grace)
    except (ClusterError, GitHubError) as exc:
        message = " ".join(str(exc).split())  # one line, whatever a library put in it
        if len(token) >= 8:  # no message should carry it; make sure (a real token is far longer)
            message = message.replace(token, "[token]")
        print(f"gh-runner: {message}", file=err)
        return exit_codes.UNREACHABLE
    return report.exit_code
