"""Run a stack's real ``__main__.py`` in-process under Pulumi mocks: no engine, no cloud.

Config comes from ``Pulumi.<stack>.yaml`` exactly as the offline render reads it, secrets stay
blinded, and a StackReference to this repository's shared stack is answered with that stack's
own exports from a mock run of it. What the program registers is recorded, inputs as sent.
"""

from __future__ import annotations

import logging
import runpy
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc
from pulumi.runtime.stack import run_in_stack

from runner_k8s.config.fleet import load_runner_with_shared
from runner_k8s.config.stackfile import StackConfig, load_stack_config
from runner_k8s.errors import ConfigError
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.offline.pulumi_internals import reset_runtime, secret_payload, wait_for

STACK_REFERENCE = "pulumi:pulumi:StackReference"
GCS_SERVICE_AGENT = "gcp:storage/getProjectServiceAccount:getProjectServiceAccount"


@dataclass(frozen=True)
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    provider: str
    # URNs this resource waits for: explicit depends_on and the resources its inputs come from.
    dependencies: tuple[str, ...] = ()
    protect: bool = False
    parent: str = ""  # URN of the parent resource ("" for the root stack's direct children)
    # Outputs kept secret beyond the inputs that are (additional_secret_outputs).
    secret_outputs: tuple[str, ...] = ()

    def as_record(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "inputs": self.inputs}


@dataclass
class ProgramRun:
    project: str
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # The message the engine would print when the program stopped on a RunError.
    error: str | None = None
    # What the program logged with pulumi.log.warn (the engine shows these at preview).
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]


def _mask_secret_leaves(value: Any) -> Any:
    """Every leaf of a secret replaced by the marker; its shape (keys) kept, as the render does."""
    if isinstance(value, dict):
        return {k: _mask_secret_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secret_leaves(v) for v in value]
    return SECRET_MARKER


def _plain(value: Any) -> Any:
    """Deserialized inputs with secrets blinded and whole floats back to ints."""
    secret, payload = secret_payload(value)
    if secret:
        return _mask_secret_leaves(payload)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class _Mocks(mocks.Mocks):
    def __init__(self, run: ProgramRun, references: dict[str, dict[str, Any]]) -> None:
        self.run = run
        self.references = references
        # The RegisterResource request being answered on this thread (set by _Monitor).
        self.registering = threading.local()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = _plain(args.inputs)
        if args.typ == STACK_REFERENCE:
            name = inputs["name"]
            if name not in self.references:
                raise ConfigError.at("sharedStack", f"no stack {name!r} to answer the reference")
            return name, {"name": name, "outputs": self.references[name]}
        request = getattr(self.registering, "request", None)
        self.run.resources.append(
            Registration(
                args.typ,
                args.name,
                inputs,
                bool(args.custom),
                args.provider or "",
                tuple(request.dependencies) if request is not None else (),
                bool(request.protect) if request is not None else False,
                request.parent if request is not None else "",
                tuple(request.additionalSecretOutputs) if request is not None else (),
            )
        )
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == GCS_SERVICE_AGENT:
            # A made-up project number: the real e-mail is only known to Google.
            email = "service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
            return {
                "emailAddress": email,
                "member": f"serviceAccount:{email}",
                "project": args.args.get("project"),
                "id": email,
            }, []
        # An empty failure list: the stock monitor iterates it (None made every invoke crash).
        return {}, []


class _Monitor(mocks.MockMonitor):
    """Keeps the root stack's outputs, which the stock monitor drops, and hands each
    registration's dependencies, ``protect`` and parent to the mocks, which it does not."""

    def __init__(self, run: ProgramRun, mock: _Mocks) -> None:
        super().__init__(mock)
        self.run = run
        self.mock = mock

    def RegisterResource(self, request: Any) -> Any:
        self.mock.registering.request = request
        try:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        finally:
            self.mock.registering.request = None

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.run.outputs = _plain(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class _Warnings(logging.Handler):
    def __init__(self, run: ProgramRun) -> None:
        super().__init__(logging.WARNING)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.run.warnings.append(record.getMessage())


def run_program(
    stack_dir: Path,
    config: StackConfig,
    references: dict[str, dict[str, Any]] | None = None,
) -> ProgramRun:
    run = ProgramRun(config.project, config.stack)
    mock = _Mocks(run, references or {})
    # The mock engine hands pulumi.log messages to a logger; this one keeps them for this run only
    # (runs are sequential) and out of the root logger.
    logger = logging.getLogger(f"{__name__}.engine")
    logger.propagate = False
    logger.handlers = [_Warnings(run)]
    mocks.set_mocks(
        mock,
        project=config.project,
        stack=config.stack,
        preview=False,
        logger=logger,
        monitor=_Monitor(run, mock),
    )
    reset_runtime()
    pulumi.runtime.set_all_config(config.engine_config(), config.engine_secret_keys())
    main = str(stack_dir / "__main__.py")

    def program() -> None:
        runpy.run_path(main, run_name="__main__")

    # As the engine's language host does, for the whole process: a RunError raised inside an apply
    # also faults sibling futures nobody awaits, and asyncio would log each of them, with a
    # traceback, whenever they are garbage-collected (as late as interpreter exit).
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        wait_for(run_in_stack(program))
    except pulumi.RunError as exc:
        run.error = str(exc)
    finally:
        reset_runtime()
    return run


def run_stack(
    stack_dir: Path,
    stack: str,
    config: StackConfig | None = None,
    runs: dict[tuple[Path, str], ProgramRun] | None = None,
) -> ProgramRun:
    """Run one stack of this repository; a runner's shared stack is run first to answer it.

    ``runs``: runs already made, by (directory, stack); the shared stack's is reused from there
    and every run made here is added to it."""
    runs = {} if runs is None else runs
    # Its file's own problems raise here: the engine would hand the program only its project's
    # keys, so a misspelt prefix would be silently ignored.
    config = config or load_stack_config(stack_dir, stack)
    references: dict[str, dict[str, Any]] = {}
    if "runner" in config.values:
        try:
            runner_stack, shared_dir, shared_stack = load_runner_with_shared(
                stack_dir, stack, config
            )
        except ConfigError:
            pass  # the program itself stops on the same bad config or unanswered reference
        else:
            shared_key = (shared_dir.resolve(), shared_stack)
            if shared_key not in runs:
                runs[shared_key] = run_stack(shared_dir, shared_stack, runs=runs)
            shared_run = runs[shared_key]
            if shared_run.error is None:
                references[runner_stack.shared_stack_name(stack)] = shared_run.outputs
    run = run_program(stack_dir, config, references)
    runs[(stack_dir.resolve(), stack)] = run
    return run
