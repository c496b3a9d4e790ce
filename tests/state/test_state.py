"""The production state path (issue 21): `pulumi login gs://BUCKET`, the repository's stack
programs with the real engine, their state in a versioned bucket on a Cloud Storage emulator,
and the recoveries docs/state-backend.md and docs/when-things-go-wrong.md give for it.

The stacks render YAML to a directory (the provider's renderYamlToDirectory): no cluster, since
what is under test is the state. Where a step must be in flight when something happens (a
second `up`, a SIGKILL, a `pulumi cancel`), the file the provider is about to write is a named
pipe (``held_write``): the provider blocks opening it, with the engine's pending operation
already in the bucket, until the test reads it. So the fault lands at the same point on every
run instead of racing a millisecond of rendering.

The tests are steps of one deployment and run in file order. The figures they measure are
printed (`pytest -rP` shows them) and are the ones in the docs.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import pytest
from retention import STACK_FILE_WRITES_PER_UPDATE

from gh_runner_harness import processes
from gh_runner_harness.engine import Engine, rendered_objects
from gh_runner_harness.gcs_emulator import GcsEmulator
from gh_runner_harness.paths import K8S_STACKS
from gh_runner_harness.processes import Running, ending
from runner_k8s.stacks import KUBERNETES_STACKS

pytestmark = pytest.mark.state

SHARED, CODEX, GEMINI = K8S_STACKS
PROJECTS = {s.short_name: s.project for s in KUBERNETES_STACKS}
# A pod annotation whose value each case changes, so `up` has a Deployment write to make.
PROBE = "test.gh-runner/state"
LOCKED = "the stack is currently locked by 1 lock(s)"

# Bounds: a command past them has hung, and the test fails instead of blocking CI.
# From `up` started to its held write: CLI, uv, language host and program on 2 cores.
HELD_TIMEOUT = 120.0
# A refused `up`, or one let go after a hold.
EXIT_BOUND = 180.0
# No cluster to read back from: a `refresh` in render mode fails ("failed to read resource state
# due to unreachable cluster") unless the provider keeps each object's recorded state, which this
# setting makes it do. For `refresh` only: it also makes the provider's Check answer the old
# inputs, so a `preview` or `up` with it would see no change at all. On a cluster, `refresh`
# reads every object back instead.
NO_CLUSTER = {"PULUMI_K8S_SKIP_UPDATE_UNREACHABLE": "true"}


def figure(name: str, seconds: float) -> None:
    print(f"FIGURE {name}: {seconds:.1f} s")


def set_config(stack: auto.Stack, key: str, value: str) -> None:
    stack.set_config(key, auto.ConfigValue(value), path=True)


# --- the bucket, as gcloud shows it ------------------------------------------------------------


def stack_object(stack_dir: str) -> str:
    """The stack's state file in the bucket (docs/state-backend.md, stack references)."""
    return f".pulumi/stacks/{PROJECTS[stack_dir]}/dev.json"


def lock_prefix(stack_dir: str) -> str:
    return f".pulumi/locks/organization/{PROJECTS[stack_dir]}/dev/"


def checkpoint(gcs: GcsEmulator, stack_dir: str, generation: int | None = None) -> dict[str, Any]:
    latest: dict[str, Any] = json.loads(gcs.read(stack_object(stack_dir), generation))[
        "checkpoint"
    ]["latest"]
    return latest


def pending_operations(gcs: GcsEmulator, stack_dir: str) -> list[dict[str, Any]]:
    return list(checkpoint(gcs, stack_dir).get("pending_operations") or [])


def describe(operations: list[dict[str, Any]]) -> list[str]:
    return [f"{op['type']} {op['resource']['urn'].rsplit('::', 1)[-1]}" for op in operations]


def resource_names(state: dict[str, Any]) -> set[str]:
    return {r["urn"].rsplit("::", 1)[-1] for r in state.get("resources") or []}


def written(gcs: GcsEmulator, stack_dir: str) -> int:
    """How many generations of the stack file the bucket holds (live and noncurrent)."""
    return len(gcs.generations(stack_object(stack_dir)))


def assert_clean(gcs: GcsEmulator, engine: Engine, stack_dir: str) -> None:
    """Converged: no lock object, no pending operation, and nothing to change."""
    assert gcs.names(lock_prefix(stack_dir)) == [], stack_dir
    assert pending_operations(gcs, stack_dir) == [], stack_dir
    done = engine.cli(stack_dir, "preview", "--expect-no-changes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr


# --- holding a step ----------------------------------------------------------------------------


def rendered_file(render_root: Path, stack_dir: str, kind: str, name: str) -> Path:
    """Where the provider renders one object of the stack (it names the file
    `<apiVersion>-<kind>-<namespace>-<name>.yaml`); the stack has rendered it before."""
    [path] = (render_root / stack_dir / "1-manifest").glob(f"*-{kind.lower()}-*-{name}.yaml")
    return path


def render_path(
    render_root: Path, stack_dir: str, namespace: str, api_version: str, kind: str, name: str
) -> Path:
    """Where the provider will render an object the stack has not rendered yet (the name
    pattern of pulumi-kubernetes' renderPathForResource)."""
    file = f"{api_version.replace('/', '_')}-{kind.lower()}-{namespace}-{name}.yaml"
    return render_root / stack_dir / "1-manifest" / file


@contextmanager
def held_write(path: Path) -> Iterator[Callable[[], None]]:
    """The provider's next render of ``path`` blocks (a named pipe) until the returned release
    is called, which reads what it writes; on exit ``path`` is a plain file again holding what
    was written (or is gone, if nothing was)."""
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    content: list[bytes] = []

    def read() -> None:
        with path.open("rb") as pipe:
            content.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)

    def release() -> None:
        reader.start()
        reader.join(timeout=EXIT_BOUND)
        assert content, f"nothing was written to {path}"

    try:
        yield release
    finally:
        if stat.S_ISFIFO(path.lstat().st_mode):
            path.unlink()
        if content:
            path.write_bytes(content[0])


def wait_for(what: str, check: Callable[[], bool], running: Running) -> None:
    deadline = time.monotonic() + HELD_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        if running.process.poll() is not None:
            raise AssertionError(f"exited before {what}:\n{running.output()[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {what} after {HELD_TIMEOUT:.0f} s:\n{running.output()[-3000:]}")


def spawn_up(engine: Engine, stack_dir: str, log: Path) -> Running:
    # --skip-preview, as the Automation API's `up` runs it: the update's own steps only.
    args = ("up", "--yes", "--skip-preview", "--stack", "dev")
    return Running(engine.spawn(stack_dir, *args, output=log), log)


def held(gcs: GcsEmulator, stack_dir: str, running: Running, what: str) -> list[str]:
    """Wait until the bucket's state shows ``what`` in flight (the step the pipe holds)."""
    wait_for(
        f"pending '{what}' in {stack_object(stack_dir)}",
        lambda: what in describe(pending_operations(gcs, stack_dir)),
        running,
    )
    running.look()
    return describe(pending_operations(gcs, stack_dir))


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def writes() -> dict[str, list[int]]:
    """Generations of each stack file each `up` wrote, by kind of update (for the retention
    figure, test_generations_per_update)."""
    return {"first up": [], "config change": [], "no-op": []}


def measured_up(engine: Engine, gcs: GcsEmulator, stack_dir: str, into: list[int]) -> auto.UpResult:
    before = written(gcs, stack_dir) if gcs.names(stack_object(stack_dir)) else 0
    result = engine.up(engine.stack(stack_dir))
    assert result.summary.result == "succeeded", stack_dir
    into.append(written(gcs, stack_dir) - before)
    return result


def test_up_through_the_bucket(
    engine: Engine, gcs: GcsEmulator, render_root: Path, writes: dict[str, list[int]]
) -> None:
    """`pulumi login gs://...` is the backend of every command; the three stacks come up, their
    state in the bucket under the names docs/state-backend.md gives."""
    whoami = engine.cli(".", "whoami", "--verbose")
    assert whoami.returncode == 0, whoami.stderr
    assert f"Backend URL: {gcs.backend_url}" in whoami.stdout, whoami.stdout
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)  # made by `stack init` (the conftest's set_config)
        assert stack_object(stack_dir) in gcs.names(stack_object(stack_dir)), stack_dir
        started = time.monotonic()
        measured_up(engine, gcs, stack_dir, writes["first up"])
        figure(f"first up of {stack_dir}", time.monotonic() - started)
        assert resource_names(checkpoint(gcs, stack_dir)), stack_dir
        assert stack.outputs(), stack_dir
    print("stack file generations written by each first up:", writes["first up"])
    assert len(rendered_objects(render_root)) > 0


def test_runners_read_the_wiring_through_the_bucket(
    engine: Engine, gcs: GcsEmulator, render_root: Path, writes: dict[str, list[int]]
) -> None:
    """Each runner stack's StackReference reads the shared stack's `wiring` from the bucket: a
    shared namespace change moves both fleets, and back."""
    shared = engine.stack(SHARED)
    namespace = shared.get_config("namespace").value
    for target in ("runners-canary", namespace):
        set_config(shared, "namespace", target)
        for stack_dir in K8S_STACKS:
            measured_up(engine, gcs, stack_dir, writes["config change"])
        for runner in (CODEX, GEMINI):
            namespaces = {
                o["metadata"]["namespace"] for o in rendered_objects(render_root / runner)
            }
            assert namespaces == {target}, runner
            [reference] = [
                r
                for r in checkpoint(gcs, runner)["resources"]
                if r["type"] == "pulumi:pulumi:StackReference"
            ]
            assert reference["outputs"]["name"] == f"organization/{PROJECTS[SHARED]}/dev"
            assert "wiring" in reference["outputs"]["outputs"], runner
    for stack_dir in K8S_STACKS:
        measured_up(engine, gcs, stack_dir, writes["no-op"])
        assert_clean(gcs, engine, stack_dir)


def test_generations_per_update(engine: Engine, writes: dict[str, list[int]]) -> None:
    """What each `up` writes to the stack file, which the bootstrap's retention default rests
    on (tests/retention.py, tests/test_bootstrap_retention.py)."""
    for kind, counts in writes.items():
        print(f"FIGURE stack file generations per {kind} (shared, codex, gemini, ...): {counts}")
    assert all(writes.values()), writes
    most = max(n for counts in writes.values() for n in counts)
    print(f"FIGURE most stack file generations one up wrote: {most}")
    assert most <= STACK_FILE_WRITES_PER_UPDATE, (
        f"an `up` wrote {most} generations of its stack file, more than the "
        f"{STACK_FILE_WRITES_PER_UPDATE} tests/retention.py records: raise it (and the "
        "bootstrap's bucket.noncurrentVersions.newerVersions default with it)"
    )


def test_two_ups_of_one_stack(
    engine: Engine, gcs: GcsEmulator, render_root: Path, tmp_path: Path
) -> None:
    """While one `up` holds the lock object, a second is refused with the lock message naming
    the holder; the first completes and the state is whole."""
    set_config(engine.stack(CODEX), f'runner.podAnnotations["{PROBE}"]', "two-ups")
    deployment = rendered_file(render_root, CODEX, "Deployment", "codex-gh-runner")
    with held_write(deployment) as release:
        first = spawn_up(engine, CODEX, tmp_path / "first.log")
        with ending(first):
            held(gcs, CODEX, first, "updating codex-gh-runner")
            [lock] = gcs.names(lock_prefix(CODEX))
            started = time.monotonic()
            second = engine.cli(CODEX, "up", "--yes", "--stack", "dev", timeout=EXIT_BOUND)
            figure("second up refused", time.monotonic() - started)
            refusal = second.stdout + second.stderr
            assert second.returncode != 0
            assert LOCKED in refusal, refusal
            assert f"{gcs.url(lock)}: created by" in refusal, refusal
            assert f"(pid {first.process.pid})" in refusal, refusal
            release()
            assert first.wait(EXIT_BOUND) == 0, first.output()
    assert "two-ups" in deployment.read_text()
    assert_clean(gcs, engine, CODEX)


def test_up_killed_leaves_a_stale_lock_recovered_as_documented(
    engine: Engine, gcs: GcsEmulator, render_root: Path, tmp_path: Path
) -> None:
    """SIGKILL of the CLI mid-update leaves its lock object and a pending operation in the
    bucket; the recovery of docs/when-things-go-wrong.md (prove the holder dead from the lock
    object, remove that one lock, refresh, up) converges."""
    set_config(engine.stack(CODEX), f'runner.podAnnotations["{PROBE}"]', "killed")
    deployment = rendered_file(render_root, CODEX, "Deployment", "codex-gh-runner")
    with held_write(deployment):
        up = spawn_up(engine, CODEX, tmp_path / "up.log")
        with ending(up):
            pending = held(gcs, CODEX, up, "updating codex-gh-runner")
            up.process.kill()
            up.process.wait(timeout=10)
            time.sleep(1)
            survivors = up.survivors()
            print(
                "plugins alive after the CLI was killed:",
                [processes.command_line(p)[:80] for p in sorted(survivors)],
            )
            assert survivors, "no plugin outlived the killed CLI"
    print("pending operations after SIGKILL:", pending)
    assert pending_operations(gcs, CODEX), "a SIGKILL mid-update left no pending operation"

    # The symptom: the next `up` is refused, naming the lock object.
    refused = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert refused.returncode != 0
    assert LOCKED in refused.stdout + refused.stderr

    recovering = time.monotonic()
    # 1. Which lock, and whose: `gcloud storage ls` the stack's lock prefix, `gcloud storage cat`
    #    the object. Its holder is this host's pid, and that process is gone.
    [lock] = gcs.names(lock_prefix(CODEX))
    holder = json.loads(gcs.read(lock))
    assert sorted(holder) == ["hostname", "pid", "timestamp", "username"]
    assert holder["hostname"] == socket.gethostname()
    assert holder["pid"] == up.process.pid
    assert not processes.alive(holder["pid"])
    # 2. Remove that lock only (`gcloud storage rm`), not every lock as `pulumi cancel` would.
    gcs.delete(lock)
    # 3. Clear the pending operations, apply again, check.
    refresh = ("refresh", "--clear-pending-creates", "--yes", "--stack", "dev")
    done = engine.cli(CODEX, *refresh, extra_env=NO_CLUSTER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert pending_operations(gcs, CODEX) == [], "refresh left a pending operation"
    done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    figure("recovery after SIGKILL (rm lock, refresh, up)", time.monotonic() - recovering)
    assert "killed" in deployment.read_text()
    assert_clean(gcs, engine, CODEX)


def test_bad_update_undone_from_a_noncurrent_generation(
    engine: Engine, gcs: GcsEmulator, render_root: Path
) -> None:
    """A bad update of the state (the Deployment dropped from it by a `pulumi state delete` meant
    for another stack) undone as docs/state-backend.md says: list the versions, look at one,
    copy it onto the name, then preview: no change."""
    name = stack_object(CODEX)
    good = gcs.generations(name)[-1].generation
    urn = next(
        r["urn"]
        for r in checkpoint(gcs, CODEX)["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment"
    )
    done = engine.cli(CODEX, "state", "delete", urn, "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    damaged = engine.cli(CODEX, "preview", "--expect-no-changes", "--stack", "dev")
    assert damaged.returncode != 0, "the state lost its Deployment, yet preview changes nothing"

    versions = gcs.generations(name)
    assert [v.generation for v in versions if v.live] != [good]
    [before] = [v for v in versions if v.generation == good]
    assert not before.live
    # Look at it before restoring it: it still holds the Deployment.
    assert "codex-gh-runner" in resource_names(checkpoint(gcs, CODEX, before.generation))
    restored = gcs.restore(name, before.generation)
    assert gcs.generations(name)[-1].generation == restored
    # `preview --refresh` in the docs: the refresh half has no cluster to read here (NO_CLUSTER
    # would make the preview half see nothing), so it is the preview against the restored state.
    done = engine.cli(CODEX, "preview", "--expect-no-changes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    assert_clean(gcs, engine, CODEX)


def test_cancel_during_an_update_loses_the_next_one(
    engine: Engine, gcs: GcsEmulator, render_root: Path, tmp_path: Path
) -> None:
    """`pulumi cancel` deletes the lock of an update that is still running: a second `up` then
    runs, and the first, finishing later, overwrites its state. The second's object is left
    out of every state (docs/when-things-go-wrong.md, `pulumi cancel`)."""
    codex = engine.stack(CODEX)
    first_name, second_name = "codex-gh-runner-egress-first", "codex-gh-runner-egress-second"

    namespace = engine.stack(SHARED).get_config("namespace").value

    def policy_file(name: str) -> Path:
        api_version = "networking.k8s.io/v1"
        return render_path(render_root, CODEX, namespace, api_version, "NetworkPolicy", name)

    set_config(codex, "runner.networkPolicy.enabled", "true")
    set_config(codex, "runner.networkPolicy.name", first_name)
    with held_write(policy_file(first_name)) as release:
        first = spawn_up(engine, CODEX, tmp_path / "first.log")
        with ending(first):
            held(gcs, CODEX, first, f"creating {first_name}")
            done = engine.cli(CODEX, "cancel", "--yes", "--stack", "dev")
            assert done.returncode == 0, done.stdout + done.stderr
            assert gcs.names(lock_prefix(CODEX)) == []
            set_config(codex, "runner.networkPolicy.name", second_name)
            second = engine.cli(CODEX, "up", "--yes", "--stack", "dev", timeout=EXIT_BOUND)
            assert second.returncode == 0, second.stdout + second.stderr
            assert second_name in resource_names(checkpoint(gcs, CODEX))
            release()
            assert first.wait(EXIT_BOUND) == 0, first.output()
    after = resource_names(checkpoint(gcs, CODEX))
    print("NetworkPolicies in the state after both:", sorted(n for n in after if "egress" in n))
    # The lost update: the second `up` succeeded and its policy exists, but no state has it.
    orphan = policy_file(second_name)
    assert orphan.is_file()
    assert second_name not in after
    assert first_name in after

    # Back to the dev config; the orphan is removed by hand (on a cluster: kubectl delete).
    codex.remove_config("runner.networkPolicy.name", path=True)
    set_config(codex, "runner.networkPolicy.enabled", "false")
    done = engine.cli(CODEX, "up", "--yes", "--stack", "dev")
    assert done.returncode == 0, done.stdout + done.stderr
    assert not policy_file(first_name).exists()
    orphan.unlink()
    assert_clean(gcs, engine, CODEX)
