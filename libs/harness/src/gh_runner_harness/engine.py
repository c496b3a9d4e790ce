"""The real Pulumi engine, hermetic: the CLI, language host and Kubernetes provider that
scripts/pulumi-toolchain.sh builds, a file backend, a passphrase secrets provider and a
PULUMI_HOME, all in a temporary directory; no cloud, no cluster, no download. The state tier
gives it a ``Backend`` instead: a `gs://` bucket on a loopback emulator, logged in to as an
operator does.

The stacks run from a copy of the workspace (pyproject.toml, uv.lock, libs/, stacks/,
policies/), so `pulumi stack init` and `pulumi config set` never write into the repository,
and Pulumi's uv toolchain resolves that copy's uv.lock exactly as it resolves the repository's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pulumi_kubernetes

from runner_k8s.config.stackfile import stack_file
from runner_k8s.offline.manifest_files import load_manifests

from .paths import REPO
from .toolchain import bin_dir, toolchain_root

PASSPHRASE = "gh-runner-engine-tests"
# A CLI call still running after this long has hung: fail rather than block the tier.
CLI_TIMEOUT = 600.0
# What a workspace copy needs for `uv sync` and for every stack to run unchanged.
WORKSPACE_PARTS = ("pyproject.toml", "uv.lock", "libs", "stacks", "policies")
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache"
)


def copy_workspace(target: Path, source_root: Path = REPO) -> Path:
    target.mkdir(parents=True)
    for part in WORKSPACE_PARTS:
        source = source_root / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=_NOT_COPIED)
        elif source.is_file():
            shutil.copy2(source, target / part)
    # The copy gets its own .venv from the same lock (uv's cache makes this a local copy).
    subprocess.run(
        ["uv", "sync", "--all-packages", "--frozen", "--quiet"],
        cwd=target,
        check=True,
        env={
            k: v
            for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
        },
    )
    return target


@dataclass(frozen=True)
class Backend:
    """A state backend other than the session's file directory: the URL an operator gives
    `pulumi login`, and the variables the CLI needs to reach it (an emulator's address, a
    credential)."""

    url: str
    env: dict[str, str] = field(default_factory=dict)


def hermetic_env(tmp: Path, backend: Backend | None = None) -> dict[str, str]:
    """What every engine command runs with, on top of os.environ (from which engine_session
    drops KUBECONFIG, PULUMI_* and cloud settings): a backend, secrets provider, plugin home
    and temp dir of its own, nothing from ~/.pulumi, nothing downloaded. With ``backend``,
    no PULUMI_BACKEND_URL: the session logs in to it (``Engine.create``), as an operator does."""
    for name in ("home", "state", "tmp"):
        (tmp / name).mkdir(exist_ok=True)
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "UV_CACHE_DIR", "UV_PYTHON_INSTALL_DIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    if backend is None:
        env["PULUMI_BACKEND_URL"] = f"file://{tmp / 'state'}"
    else:
        env.update(backend.env)
    env.update(
        PATH=f"{bin_dir()}{os.pathsep}{env.get('PATH', '')}",
        PULUMI_HOME=str(tmp / "home"),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_SKIP_CONFIRMATIONS="true",
        # Plugins only from PULUMI_HOME, where install_provider put ours under the version the
        # Python SDK asks for (no "using pulumi-resource-kubernetes from $PATH" warnings).
        PULUMI_IGNORE_AMBIENT_PLUGINS="true",
        # Engine and plugin logs land here, so a test can search every log for a secret.
        TMPDIR=str(tmp / "tmp"),
    )
    return env


@dataclass
class Engine:
    """One hermetic engine session over one workspace copy."""

    workspace: Path
    tmp: Path
    env: dict[str, str]
    # Everything every command printed, for the tests that search the logs.
    transcript: list[str] = field(default_factory=list)

    @classmethod
    def create(
        cls,
        tmp: Path,
        source_root: Path = REPO,
        name: str = "workspace",
        backend: Backend | None = None,
    ) -> Engine:
        """An engine in ``tmp`` over a copy of ``source_root`` (default: this repository). Two
        engines made in the same ``tmp`` share the backend, PULUMI_HOME and passphrase: one can
        update a stack the other deployed, as a newer checkout does. With ``backend``, the
        state is there instead of in ``tmp``, after a `pulumi login` to it."""
        engine = cls(copy_workspace(tmp / name, source_root), tmp, hermetic_env(tmp, backend))
        if backend is not None:
            engine.login(backend.url)
        engine.install_provider()
        return engine

    def login(self, url: str) -> None:
        """`pulumi login URL`: recorded in PULUMI_HOME, the backend of every later command."""
        done = self.cli(".", "login", url)
        if done.returncode != 0:
            raise RuntimeError(f"pulumi login {url}: {done.stderr}")

    def install_provider(self) -> None:
        """Install the built provider into PULUMI_HOME as the version the SDK requests."""
        plugin = json.loads(
            (Path(pulumi_kubernetes.__file__).parent / "pulumi-plugin.json").read_text()
        )
        binary = str(bin_dir() / "pulumi-resource-kubernetes")
        done = self.cli(
            ".", "plugin", "install", "resource", "kubernetes", plugin["version"], "--file", binary
        )
        if done.returncode != 0:
            raise RuntimeError(f"pulumi plugin install: {done.stderr}")

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    def stack_dir(self, stack_dir: str) -> Path:
        return self.workspace / "stacks" / stack_dir

    def stack_file(self, stack_dir: str, stack: str = "dev") -> Path:
        return stack_file(self.stack_dir(stack_dir), stack)

    def stack(self, stack_dir: str, stack: str = "dev") -> auto.Stack:
        return auto.create_or_select_stack(
            stack_name=stack,
            work_dir=str(self.stack_dir(stack_dir)),
            opts=auto.LocalWorkspaceOptions(
                pulumi_home=self.env["PULUMI_HOME"],
                env_vars=self.env,
                secrets_provider="passphrase",
                pulumi_command=auto.PulumiCommand(
                    root=str(toolchain_root()), skip_version_check=True
                ),
            ),
        )

    def record(self, *chunks: str) -> None:
        self.transcript.extend(chunks)

    def up(self, stack: auto.Stack, **kwargs: Any) -> auto.UpResult:
        result = stack.up(show_secrets=False, color="never", on_output=self.record, **kwargs)
        self.record(result.stdout, result.stderr)
        return result

    def preview(self, stack: auto.Stack, **kwargs: Any) -> auto.PreviewResult:
        result = stack.preview(color="never", on_output=self.record, **kwargs)
        self.record(result.stdout, result.stderr)
        return result

    def destroy(self, stack: auto.Stack) -> auto.DestroyResult:
        result = stack.destroy(show_secrets=False, color="never", on_output=self.record)
        self.record(result.stdout, result.stderr)
        return result

    def cli(
        self,
        stack_dir: str,
        *args: str,
        timeout: float = CLI_TIMEOUT,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """A plain CLI call, for what the Automation API only offers with --show-secrets.
        A command still running after ``timeout`` seconds raises subprocess.TimeoutExpired;
        ``extra_env`` is set for this command only (an operator's `VAR=value pulumi ...`)."""
        done = subprocess.run(
            [str(bin_dir() / "pulumi"), *args, "--non-interactive"],
            cwd=self.stack_dir(stack_dir),
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        self.record(done.stdout, done.stderr)
        return done

    def spawn(self, stack_dir: str, *args: str, output: Path) -> subprocess.Popen[bytes]:
        """A CLI command left running, for a test to signal: in a process group of its own
        (a terminal's Ctrl-C reaches the whole group: CLI, language host, provider), its
        stdout and stderr into ``output``. The caller waits for it with a timeout."""
        with output.open("wb") as sink:
            return subprocess.Popen(
                [str(bin_dir() / "pulumi"), *args, "--non-interactive"],
                cwd=self.stack_dir(stack_dir),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def export(self, stack_dir: str, stack: str = "dev") -> dict[str, Any]:
        """The stack's state as `pulumi stack export` prints it (secrets stay encrypted)."""
        done = self.cli(stack_dir, "stack", "export", "--stack", stack)
        if done.returncode != 0:
            raise RuntimeError(f"pulumi stack export: {done.stderr}")
        state: dict[str, Any] = json.loads(done.stdout)
        return state

    def files(self) -> Iterator[Path]:
        """Every file the engine could have written: state, PULUMI_HOME, logs, config."""
        roots = [d for d in self.tmp.iterdir() if d != self.workspace]
        for root in (*roots, self.workspace / "stacks"):
            yield from (p for p in root.rglob("*") if p.is_file())


def rendered_objects(directory: Path) -> list[dict[str, Any]]:
    """The objects pulumi-kubernetes wrote in renderYamlToDirectory mode."""
    objects: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.yaml")):
        objects += load_manifests(path)
    return objects


def ambient_settings() -> list[str]:
    """The variables to drop from os.environ, which the Automation API adds to every command:
    whatever could reach a real cluster, a real backend or a cloud; and PYTHONDONTWRITEBYTECODE,
    which some images set: every program run would then compile the Pulumi SDKs from source
    again (importing pulumi-kubernetes took 4.2 s so, 1.5 s from cached bytecode, on 2 cores)."""
    prefixes = ("PULUMI_", "GOOGLE_", "CLOUDSDK_")
    dropped = ("KUBECONFIG", "PYTHONDONTWRITEBYTECODE", "STORAGE_EMULATOR_HOST")
    return [n for n in os.environ if n in dropped or n.startswith(prefixes)]


@contextmanager
def engine_session(tmp: Path, backend: Backend | None = None) -> Iterator[Engine]:
    """A fresh engine in ``tmp`` (its state in ``backend`` if given), with the ambient settings
    out of os.environ while it lasts (the caller checks first that the toolchain is built:
    ``toolchain.missing``)."""
    dropped = {name: os.environ.pop(name) for name in ambient_settings()}
    try:
        yield Engine.create(tmp, backend=backend)
    finally:
        os.environ.update(dropped)
