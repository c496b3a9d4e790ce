"""Measure `gh-runner render` against its import floor, side by side in one run.

The floor is `python -c "import pydantic, yaml"`: the two libraries the render cannot do without
(config validation and YAML output), started as a fresh interpreter exactly as the command is.
A third command defines one pydantic model, to show what of the gap any pydantic-validated
command pays. The commands are run alternately, so a machine busy with something else slows
them alike; the ratio of the medians is the figure docs/development.md quotes.

Run: uv run python bench/render_startup.py [ROUNDS]. With --imports, also print the ten modules of
the library whose own import (pydantic model building included) costs most (`-X importtime`).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from gh_runner_harness.paths import REPO

GH_RUNNER = str(Path(sys.executable).parent / "gh-runner")
ONE_MODEL = "import pydantic, yaml\nclass One(pydantic.BaseModel):\n    x: int = 0\n"
COMMANDS = {
    'floor: python -c "import pydantic, yaml"': [sys.executable, "-c", "import pydantic, yaml"],
    # What any pydantic-validated command pays before its own models: `import pydantic` is lazy,
    # and the first model loads the schema machinery.
    "one pydantic model": [sys.executable, "-c", ONE_MODEL],
    "`gh-runner render` (3 dev stacks)": [GH_RUNNER, "render"],
}


def once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def library_imports() -> list[tuple[int, str]]:
    """(microseconds, module) of runner_k8s modules by their own import time."""
    trace = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import runner_k8s.cli as c; c.main(['render'])",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in trace.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2].startswith("runner_k8s") and parts[0].isdigit():
            rows.append((int(parts[0]), parts[2]))
    return sorted(rows, reverse=True)[:10]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 20
    samples: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for command in COMMANDS.values():
        once(command)  # warm the page cache and .pyc files
    for _ in range(rounds):
        for label, command in COMMANDS.items():
            samples[label].append(once(command))
    print(f"| command | median of {rounds} | min |")
    print("| --- | --- | --- |")
    for label, values in samples.items():
        print(
            f"| {label} | {statistics.median(values) * 1000:.0f} ms | {min(values) * 1000:.0f} ms |"
        )
    floor, one_model, render = (statistics.median(v) for v in samples.values())
    print(f"\nrender / floor: {render / floor:.2f}x (medians, measured alternately)")
    print(f"one pydantic model / floor: {one_model / floor:.2f}x")
    if "--imports" in sys.argv:
        print("\n| runner_k8s module | own import |\n| --- | --- |")
        for micros, module in library_imports():
            print(f"| {module} | {micros / 1000:.0f} ms |")


if __name__ == "__main__":
    main()
