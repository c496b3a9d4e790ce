"""Measure, side by side in one process, the two offline views of the dev stacks:

- the pure render (`gh-runner render`: config -> model -> manifests), and
- the mock run (`gh-runner mock-run`, and the tests: each real __main__.py
  under Pulumi mocks; a runner stack also runs its shared stack to answer the StackReference).

Both in-process (the work itself) and as the operator runs them (the `gh-runner` command, start-up
included). Run: uv run python bench/render_vs_mock_run.py [ROUNDS]. Prints Markdown for the README.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gh_runner_harness.paths import REPO
from runner_k8s.offline.manifest_files import to_yaml
from runner_k8s.offline.mockrun import run_stack
from runner_k8s.offline.render import DEFAULT_STACK_DIRS, render_stacks

STACK_DIRS = [REPO / d for d in DEFAULT_STACK_DIRS]


def pure_render() -> None:
    to_yaml(render_stacks(STACK_DIRS, "dev"))


def mock_runs() -> None:
    for stack_dir in STACK_DIRS:
        run = run_stack(stack_dir, "dev")
        assert run.error is None, run.error


GH_RUNNER = str(Path(sys.executable).parent / "gh-runner")


def cli_render() -> None:
    subprocess.run([GH_RUNNER, "render"], cwd=REPO, check=True, capture_output=True)


def cli_mock_run() -> None:
    dirs = [str(d) for d in STACK_DIRS]
    subprocess.run(
        [GH_RUNNER, "mock-run", *dirs],
        cwd=REPO,
        check=True,
        capture_output=True,
    )


def timed(work: Callable[[], None], rounds: int) -> list[float]:
    work()  # warm-up: imports and caches are not what is measured
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return samples


def row(label: str, samples: list[float]) -> str:
    return (
        f"| {label} | {statistics.median(samples) * 1000:.0f} ms | {min(samples) * 1000:.0f} ms |"
    )


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    results = {
        "pure render, in-process": timed(pure_render, rounds),
        "programs under mocks, in-process": timed(mock_runs, rounds),
        "`gh-runner render`": timed(cli_render, rounds),
        "`gh-runner mock-run`": timed(cli_mock_run, rounds),
    }
    print(f"| view of the 3 dev stacks | median of {rounds} | min |")
    print("| --- | --- | --- |")
    for label, samples in results.items():
        print(row(label, samples))
    medians = [statistics.median(s) for s in results.values()]
    print(
        f"\nmocks / render: {medians[1] / medians[0]:.0f}x in-process, "
        f"{medians[3] / medians[2]:.1f}x as commands"
    )


if __name__ == "__main__":
    main()
