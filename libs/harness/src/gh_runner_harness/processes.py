"""The processes a command started, read from /proc (Linux).

The Pulumi CLI starts its language host and providers in process groups of their own
(sdk/go/common/util/cmdutil: Setpgid), so a signal to the CLI's group does not reach them, and
a CLI killed outright can leave them running. The fault tests list them while the CLI runs, to
report which survive it and to end those, by pid, afterwards (``Running``, ``ending``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def _parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # Field 4 is the parent pid; the command name (field 2) may hold spaces, so split after ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, at this moment."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not a zombie waiting for its parent to reap it)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def kill_all(pids: set[int]) -> None:
    """SIGKILL each of ``pids`` still running; those already gone are skipped."""
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)


@dataclass
class Running:
    """A `pulumi` command running in the background, with what it started."""

    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)
    # Every process seen below the CLI while it ran (language host, program, provider).
    children: set[int] = field(default_factory=set)

    def look(self) -> None:
        self.children |= descendants(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """Its exit code; a command still running after ``timeout`` is ended and fails the test."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.end()
            raise AssertionError(
                f"{self.process.args!r} still running after {timeout:.0f} s:\n"
                f"{self.output()[-3000:]}"
            ) from None

    def survivors(self) -> set[int]:
        return {pid for pid in self.children if alive(pid)}

    def end(self) -> None:
        """Kill what is left of it: the CLI's group, then each plugin (groups of their own)."""
        if self.process.poll() is None:
            self.look()
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        kill_all(self.children)


@contextlib.contextmanager
def ending(*running: Running) -> Iterator[None]:
    """Whatever happens in the block, no command of it outlives the test."""
    try:
        yield
    finally:
        for command in running:
            command.end()
