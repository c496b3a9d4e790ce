"""``gh-runner``: the offline view of the stacks, for a laptop with no cluster and no cloud, and
``status``, which asks the cluster and GitHub whether the fleets serve jobs, and
``diff --cluster``, which reads the live objects.

argparse rather than typer: three subcommands do not justify another dependency.
Exit codes: 0 done / no drift / healthy, 1 drift / degraded, 2 bad config or bad arguments (and,
for status and diff --cluster, a cluster or GitHub that could not be asked).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from runner_k8s import exit_codes
from runner_k8s.errors import ConfigError
from runner_k8s.offline import commands as offline_commands
from runner_k8s.status import DEFAULT_GRACE

# Each command imports what it needs when it runs (the config models, the Pulumi SDK, httpx,
# lightkube): start-up is most of what an offline command costs.


def _status(args: argparse.Namespace) -> int:
    # Imported here: httpx and lightkube would slow down the offline commands' start-up.
    from runner_k8s.status.command import run

    return run(args, offline_commands.stack_dirs_of(args.stack_dirs))


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _duration(text: str) -> float:
    """``status --timeout``: 90, 90s, 10m, 1h30m."""
    match = _DURATION.match(text)
    if text.isdigit():
        return float(text)
    if match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 10m or 1h")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (exit 2 like every other bad input)."""

    def error(self, message: str) -> NoReturn:
        self.exit(exit_codes.BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _stack_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--stack", default="dev", help="stack name: reads Pulumi.NAME.yaml")


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="gh-runner",
        description="Offline view of the gh-runner Pulumi stacks, and the fleets' live status.",
    )
    commands = top.add_subparsers(dest="command", required=True)

    render = commands.add_parser(
        "render",
        help="print the objects the stacks would create",
        description="Print, as multi-document YAML, every Kubernetes object the stacks would "
        "create (default: shared, codex-runner, gemini-runner). Secret values are never shown.",
    )
    _stack_option(render)
    render.add_argument("--out", metavar="DIR", help="write one file per object into DIR")
    render.add_argument(
        "--format",
        choices=("yaml", "resources"),
        default="yaml",
        help="resources: deprecated spelling of `gh-runner mock-run`",
    )
    render.add_argument("stack_dirs", nargs="*", metavar="STACK_DIR")
    render.set_defaults(handler=offline_commands.render)

    mock_run = commands.add_parser(
        "mock-run",
        help="run the stack programs under Pulumi mocks and list what they register",
        description="Run each stack's real __main__.py under Pulumi mocks (no engine, no cloud) "
        "and print one JSON line per resource it registers, inputs as sent. Works for every "
        "stack, bootstrap included.",
    )
    _stack_option(mock_run)
    mock_run.add_argument("stack_dirs", nargs="*", metavar="STACK_DIR")
    mock_run.set_defaults(handler=offline_commands.mock_run)

    diff = commands.add_parser(
        "diff",
        help="compare the render with manifests in files, or with the cluster",
        description="Compare the render with the manifests in FILE, or with the live objects "
        "(--cluster), semantically; exit 1 on drift, 2 on bad input or an unreachable cluster.",
    )
    _stack_option(diff)
    diff.add_argument(
        "--stack-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="stack directory to render (repeatable; default: the three Kubernetes stacks)",
    )
    diff.add_argument(
        "--live",
        action="store_true",
        help="FILE was read back from the cluster (kubectl get -o yaml): what only the server "
        "or a tool adds (status, server defaults, managed metadata) is no drift, any other "
        "field only the cluster has is reported as set in the cluster",
    )
    diff.add_argument(
        "--cluster",
        action="store_true",
        help="read the live objects from each stack's cluster instead of FILE (and ask the "
        "cluster, by a dry-run create, which fields are its defaults)",
    )
    diff.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="with --cluster; default: the stack's provider.kubeconfig",
    )
    diff.add_argument(
        "--context", help="with --cluster: kubeconfig context (default: provider.context)"
    )
    diff.add_argument("files", nargs="*", metavar="FILE")
    diff.set_defaults(handler=offline_commands.diff)

    status = commands.add_parser(
        "status",
        help="is each fleet registered with GitHub and serving? (asks the cluster and GitHub)",
        description="Join each runner fleet's stack config, its pods in the cluster and its "
        "registrations on GitHub: serving, between jobs, not registered, ghost, foreign and "
        "label-drift runners. Exit 0 healthy, 1 degraded, 2 bad config or arguments or an "
        "unreachable cluster or GitHub. The GitHub token is read from GH_TOKEN or GITHUB_TOKEN "
        "only (a repository: Administration: read; an organisation: Self-hosted runners: read).",
    )
    _stack_option(status)
    scope = status.add_mutually_exclusive_group()
    scope.add_argument(
        "--repo",
        metavar="OWNER/NAME",
        help="the repository the runners register with (default: from the shared stack's "
        "githubUrl and githubRepo, as the runner reads GITHUB_URL)",
    )
    scope.add_argument("--org", metavar="ORG", help="the organisation the runners register with")
    status.add_argument(
        "--kubeconfig", metavar="FILE", help="default: the stack's provider.kubeconfig"
    )
    status.add_argument("--context", help="kubeconfig context (default: provider.context)")
    status.add_argument(
        "--github-api",
        metavar="URL",
        help="GitHub's REST API (default: from the githubUrl host: https://api.HOST for "
        "github.com and *.ghe.com, https://HOST/api/v3 otherwise; else https://api.github.com)",
    )
    status.add_argument(
        "--grace",
        type=_seconds,
        default=DEFAULT_GRACE.total_seconds(),
        metavar="SECONDS",
        help="how long a running pod may take to register before it counts as not registered",
    )
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument(
        "--remove-ghosts",
        action="store_true",
        help="list the ghosts to delete: registrations this fleet provably left behind "
        "(offline, not busy, ephemeral, named like its pods, no such pod)",
    )
    status.add_argument(
        "--yes", action="store_true", help="with --remove-ghosts: really delete them"
    )
    status.add_argument(
        "--wait",
        action="store_true",
        help="look again every --interval until every fleet is healthy (exit 0); exit 1 at the "
        "timeout or at once on a fault that cannot heal (image pull, failed mount, no Deployment)",
    )
    status.add_argument(
        "--timeout",
        type=_duration,
        default=600.0,
        metavar="DURATION",
        help="with --wait: how long at most (90s, 10m, 1h; default 10m)",
    )
    status.add_argument(
        "--interval",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="with --wait: the time between looks (default 10)",
    )
    status.add_argument("stack_dirs", nargs="*", metavar="STACK_DIR")
    status.set_defaults(handler=_status)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of a project's Pulumi.<stack>.yaml",
        description="Print the JSON Schema of a stack file of PROJECT (default: the project of "
        "the Pulumi.yaml in the current directory), for editors and CI outside this repository. "
        "The repository's copies are schemas/*.schema.json.",
    )
    schema.add_argument("project", nargs="?", metavar="PROJECT")
    schema.add_argument(
        "--out",
        metavar="DIR",
        help="write PROJECT.schema.json (every project's, without PROJECT) into DIR",
    )
    schema.set_defaults(handler=offline_commands.schema)

    reference = commands.add_parser(
        "reference",
        help="print the configuration reference (docs/configuration.md)",
        description="Print, as Markdown, every key of every stack file with its type, default, "
        "allowed values and whether it may be secret, from the config models.",
    )
    reference.set_defaults(handler=offline_commands.reference)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        # Every problem on its own prefixed line, so `2>&1 | grep gh-runner:` keeps them all.
        for line in str(exc).splitlines():
            print(f"gh-runner: {line}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`gh-runner render | head`): nothing left to say to it. Point
        # stdout at /dev/null so the interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.OK
    except Exception as exc:
        # Exit 1 means drift to a CI job: an unforeseen failure must not look like it, nor bury
        # the verdict under a traceback. GH_RUNNER_DEBUG=1 shows the traceback.
        if os.environ.get("GH_RUNNER_DEBUG"):
            raise
        print(f"gh-runner: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
