"""Measure the real engine, side by side in one run (the toolchain of scripts/pulumi-toolchain.sh,
hermetic, render mode, no cluster):

- `pulumi preview` of each dev stack against the same for an empty Python program in the same
  workspace (the engine's floor: CLI start, uv toolchain check, language host, Python start), and
- the three-stack `pulumi up` (shared, codex-runner, gemini-runner) on a fresh backend.

Run: uv run python bench/engine_preview.py [ROUNDS]. Prints Markdown for the README.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pulumi.automation as auto
from render_vs_mock_run import timed  # bench/ is sys.path[0] when run as a script

from gh_runner_harness.engine import Engine, ambient_settings
from gh_runner_harness.paths import K8S_STACKS
from gh_runner_harness.toolchain import PULUMI_BINARIES, missing

# Beside stacks/, not in it: every stacks/* directory is a uv workspace member.
FLOOR = "../bench-empty"


def add_empty_program(engine: Engine) -> None:
    """A Pulumi project that registers nothing, run the same way as the stacks."""
    project = engine.stack_dir(FLOOR)
    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        "name: bench-empty\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
    )
    (project / "__main__.py").write_text("import pulumi  # noqa: F401\n")


def main(rounds: int) -> None:
    reason = missing(PULUMI_BINARIES, "pulumi-toolchain.sh")
    if reason:
        sys.exit(reason)
    for name in ambient_settings():
        del os.environ[name]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create(Path(tmp))
        add_empty_program(engine)
        render = Path(tmp) / "rendered"
        stacks = {}
        for stack_dir in (FLOOR, *K8S_STACKS):
            stacks[stack_dir] = engine.stack(stack_dir)
            if stack_dir != FLOOR:
                stacks[stack_dir].set_config(
                    "provider.renderYamlToDirectory",
                    auto.ConfigValue(str(render / stack_dir)),
                    path=True,
                )

        def up_all() -> None:
            for stack_dir in K8S_STACKS:
                stacks[stack_dir].up(color="never", show_secrets=False)

        def destroy_all() -> None:
            for stack_dir in reversed(K8S_STACKS):
                stacks[stack_dir].destroy(color="never", show_secrets=False)

        # The three-stack up from empty state, each round destroyed again untimed.
        up_samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            up_all()
            up_samples.append(time.perf_counter() - start)
            destroy_all()
        up_all()  # previews below run against deployed stacks, as an operator's would

        previews = {
            name: timed(lambda s=stack: s.preview(color="never"), rounds)
            for name, stack in stacks.items()
        }

    floor = statistics.median(previews[FLOOR])
    print(f"| `pulumi preview` (median of {rounds}) | seconds | / empty program |")
    print("| --- | --- | --- |")
    for name, samples in previews.items():
        median = statistics.median(samples)
        label = "empty Python program (floor)" if name == FLOOR else name
        print(f"| {label} | {median:.2f} | {median / floor:.2f}x |")
    print()
    up = statistics.median(up_samples)
    print(f"three-stack `pulumi up` from empty state: {up:.1f} s (median of {rounds})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
