"""``gh-runner``: the offline view of the stacks, for a laptop with no cluster and no cloud.

argparse rather than typer: two subcommands do not justify another dependency.
Exit codes: 0 done / no drift, 1 drift, 2 bad config or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .drift import compare
from .errors import ConfigError
from .markers import SECRET_MARKER
from .objects import Manifest
from .render import (
    DEFAULT_STACK_DIRS,
    FALLBACK_FILE,
    Located,
    check_unique,
    find_repo_root,
    header,
    object_file_name,
    read_manifests,
    render_stacks,
    to_yaml,
)

EXIT_DRIFT = 1
EXIT_BAD_INPUT = 2


def _stack_dirs(given: Sequence[str]) -> list[Path]:
    if given:
        return [Path(d) for d in given]
    root = find_repo_root()
    return [_relative(root / d) for d in DEFAULT_STACK_DIRS]


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _has_secret_marker(manifest: Manifest) -> bool:
    return SECRET_MARKER in (manifest.get("stringData") or {}).values()


def _render(args: argparse.Namespace) -> int:
    stack_dirs = _stack_dirs(args.stack_dirs)
    if args.format == "resources":
        # Imported here: the Pulumi SDK doubles the start-up time of the plain render.
        from .mockrun import ProgramRun, run_stack

        runs: dict[tuple[Path, str], ProgramRun] = {}  # each shared stack runs once
        for stack_dir in stack_dirs:
            run = run_stack(stack_dir, args.stack, runs=runs)
            if run.error is not None:
                raise ConfigError([f"{stack_dir}: {run.error}"])
            for registration in run.resources:
                print(json.dumps(registration.as_record(), sort_keys=True))
        return 0

    warnings: list[str] = []
    manifests = render_stacks(stack_dirs, args.stack, warnings)
    for warning in warnings:  # what `pulumi preview` would warn about, on stderr
        print(f"gh-runner: warning: {warning}", file=sys.stderr)
    if any(_has_secret_marker(m) for m in manifests):
        print(
            f"gh-runner: secret values are shown as {SECRET_MARKER!r}; Pulumi sets the real ones",
            file=sys.stderr,
        )
    command = f"uv run gh-runner render --stack {args.stack}"
    if args.stack_dirs:
        command += " " + " ".join(args.stack_dirs)
    if args.out is None:
        target = FALLBACK_FILE if not args.stack_dirs and args.stack == "dev" else "FILE"
        sys.stdout.write(header(args.stack, f"{command} > {target}") + to_yaml(manifests))
        return 0
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError.at(f"--out {out}", "exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for manifest in manifests:
            path = out / object_file_name(manifest)
            path.write_text(header(args.stack, f"{command} --out {args.out}") + to_yaml([manifest]))
            print(path)
    except OSError as exc:
        where = f"--out {exc.filename or out}"
        raise ConfigError.at(where, f"cannot be written: {exc.strerror}") from None
    return 0


def _diff(args: argparse.Namespace) -> int:
    stack_files = [
        Located(manifest, f"the render of {stack_dir / f'Pulumi.{args.stack}.yaml'}")
        for stack_dir in _stack_dirs(args.stack_dir)
        for manifest in render_stacks([stack_dir], args.stack)
    ]
    in_files = [found for f in args.files for found in read_manifests(Path(f))]
    problems = check_unique(stack_files) + check_unique(in_files)
    if problems:
        raise ConfigError(problems)
    rendered = [found.manifest for found in stack_files]
    applied = [found.manifest for found in in_files]
    drift = compare(rendered, applied, live=args.live)
    if drift.clean:
        print(f"no drift: {len(rendered)} object(s) match {', '.join(args.files)}")
        return 0
    print(drift.report())
    return EXIT_DRIFT


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (exit 2 like every other bad input)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="gh-runner", description="Offline view of the gh-runner Pulumi stacks.")
    commands = top.add_subparsers(dest="command", required=True)

    render = commands.add_parser(
        "render",
        help="print the objects the stacks would create",
        description="Print, as multi-document YAML, every Kubernetes object the stacks would "
        "create (default: shared, codex-runner, gemini-runner). Secret values are never shown.",
    )
    render.add_argument("--stack", default="dev", help="stack name: reads Pulumi.NAME.yaml")
    render.add_argument("--out", metavar="DIR", help="write one file per object into DIR")
    render.add_argument(
        "--format",
        choices=("yaml", "resources"),
        default="yaml",
        help="resources: one JSON line per resource the stack program registers (mock run; "
        "works for every stack, bootstrap included)",
    )
    render.add_argument("stack_dirs", nargs="*", metavar="STACK_DIR")
    render.set_defaults(handler=_render)

    diff = commands.add_parser(
        "diff",
        help="compare the render with manifests in files",
        description="Compare the render with the manifests in FILE semantically; exit 1 on drift.",
    )
    diff.add_argument("--stack", default="dev", help="stack name: reads Pulumi.NAME.yaml")
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
        help="FILE was read back from the cluster (kubectl get -o yaml): ignore fields only it "
        "has, such as status and server-side defaults",
    )
    diff.add_argument("files", nargs="+", metavar="FILE")
    diff.set_defaults(handler=_diff)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(f"gh-runner: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`gh-runner render | head`): nothing left to say to it. Point
        # stdout at /dev/null so the interpreter's final flush does not fail a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
