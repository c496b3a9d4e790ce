"""The offline commands' shells (render, mock-run, diff, schema, reference): arguments in, the
pure steps of ``offline`` and ``config`` called, text and an exit code out."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runner_k8s import exit_codes
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.kube.objects import Manifest
from runner_k8s.stacks import KUBERNETES_STACKS, find_repo_root

if TYPE_CHECKING:
    from runner_k8s.offline.drift import Drift

# Each command imports what it needs when it runs (the config models, the Pulumi SDK, httpx,
# lightkube): start-up is most of what an offline command costs.


def stack_dirs_of(given: Sequence[str]) -> list[Path]:
    if given:
        return [Path(d) for d in given]
    root = find_repo_root()
    return [_relative(root / s.directory) for s in KUBERNETES_STACKS]


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _has_secret_marker(manifest: Manifest) -> bool:
    return SECRET_MARKER in (manifest.get("stringData") or {}).values()


def mock_run(args: argparse.Namespace) -> int:
    """Each stack's real program under Pulumi mocks: every resource it registers, as JSON lines."""
    # Imported here: the Pulumi SDK doubles the start-up time of the plain render.
    from runner_k8s.offline.mockrun import ProgramRun, run_stack

    runs: dict[tuple[Path, str], ProgramRun] = {}  # each shared stack runs once
    for stack_dir in stack_dirs_of(args.stack_dirs):
        run = run_stack(stack_dir, args.stack, runs=runs)
        if run.error is not None:
            raise ConfigError([f"{stack_dir}: {run.error}"])
        for registration in run.resources:
            print(json.dumps(registration.as_record(), sort_keys=True))
    return exit_codes.OK


def render(args: argparse.Namespace) -> int:
    if args.format == "resources":
        print(
            "gh-runner: warning: `render --format resources` is now `gh-runner mock-run` (it "
            "runs the programs, it renders nothing); the old spelling goes in the next release",
            file=sys.stderr,
        )
        return mock_run(args)
    from runner_k8s.offline.manifest_files import FALLBACK_FILE, header, object_file_name, to_yaml
    from runner_k8s.offline.render import render_stacks

    stack_dirs = stack_dirs_of(args.stack_dirs)
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
        return exit_codes.OK
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
    return exit_codes.OK


def diff(args: argparse.Namespace) -> int:
    from runner_k8s.offline.drift import compare
    from runner_k8s.offline.manifest_files import check_unique, read_manifests
    from runner_k8s.offline.render import render_stacks

    if args.cluster == bool(args.files):
        raise ConfigError.at("FILE", "give the files to compare with, or --cluster, not both")
    if not args.cluster and (args.kubeconfig or args.context):
        raise ConfigError.at("--kubeconfig/--context", "only with --cluster")
    stack_dirs = stack_dirs_of(args.stack_dir)
    # render_stacks refuses two stacks rendering one object; the files are checked here.
    rendered = render_stacks(stack_dirs, args.stack)
    if args.cluster:
        return _diff_cluster(args, stack_dirs, rendered)
    in_files = [found for f in args.files for found in read_manifests(Path(f))]
    problems = check_unique(in_files)
    if problems:
        raise ConfigError(problems)
    applied = [found.manifest for found in in_files]
    return _report(compare(rendered, applied, live=args.live), len(rendered), ", ".join(args.files))


def _diff_cluster(
    args: argparse.Namespace, stack_dirs: list[Path], rendered: list[Manifest]
) -> int:
    """The render against the live objects, read from each stack's cluster."""
    # Imported here: lightkube would slow down the offline commands' start-up.
    from runner_k8s.offline.drift import compare
    from runner_k8s.offline.render import render_stack
    from runner_k8s.status.cluster import ClusterError
    from runner_k8s.status.live_objects import read_cluster, stack_cluster

    by_cluster: dict[tuple[str | None, str | None], list[Manifest]] = {}
    for stack_dir in stack_dirs:
        where = stack_cluster(stack_dir, args.stack, args.kubeconfig, args.context)
        by_cluster.setdefault(where, []).extend(render_stack(stack_dir, args.stack))
    live: list[Manifest] = []
    as_stored: dict[str, Manifest] = {}
    try:
        for where, manifests in by_cluster.items():
            found, stored = read_cluster(manifests, where)
            live += found
            as_stored |= stored
    except ClusterError as exc:
        print(f"gh-runner: {' '.join(str(exc).split())}", file=sys.stderr)
        return exit_codes.UNREACHABLE
    drift = compare(rendered, live, live=True, as_stored=as_stored)
    return _report(drift, len(rendered), "the cluster", source="cluster")


def _report(drift: Drift, objects: int, where: str, source: str = "file") -> int:
    notes = [f"note: {n}" for n in drift.notes()]
    if drift.clean:
        print("\n".join([f"no drift: {objects} object(s) match {where}", *notes]))
        return exit_codes.OK
    print("\n".join([drift.report(source), *notes]))
    return exit_codes.DRIFT


def schema(args: argparse.Namespace) -> int:
    from runner_k8s.config.model import describe_fields

    describe_fields()
    from runner_k8s.config.stackfile import project_name
    from runner_k8s.offline.schemas import PROJECTS, schema_path, schema_text

    if args.project is not None:
        projects = [args.project]
    elif args.out is not None:
        projects = list(PROJECTS)
    elif (Path.cwd() / "Pulumi.yaml").is_file():
        projects = [project_name(Path.cwd())]  # the project of the stack directory we are in
    else:
        raise ConfigError.at("PROJECT", f"name one of {', '.join(PROJECTS)}")
    unknown = [p for p in projects if p not in PROJECTS]
    if unknown:
        raise ConfigError.at(unknown[0], f"no schema; the projects are {', '.join(PROJECTS)}")
    if args.out is None:
        sys.stdout.write(schema_text(projects[0]))
        return exit_codes.OK
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for project in projects:
        path = out / Path(schema_path(project)).name
        path.write_text(schema_text(project))
        print(path)
    return exit_codes.OK


def reference(args: argparse.Namespace) -> int:
    from runner_k8s.config.model import describe_fields

    describe_fields()
    from runner_k8s.offline.reference import reference_markdown

    sys.stdout.write(reference_markdown())
    return exit_codes.OK
