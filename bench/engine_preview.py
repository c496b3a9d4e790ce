"""Measure the real engine, side by side in one run (the toolchain of scripts/pulumi-toolchain.sh,
hermetic, render mode, no cluster):

- `pulumi preview` of each dev stack against floors in the same workspace: an empty Python
  program (CLI start, uv toolchain check, language host, Python start); a program that
  registers one ConfigMap through pulumi-kubernetes with an explicit provider (the floor: what
  any Kubernetes program written the usual way pays: the SDK and its ConfigMap class imported,
  the provider plugin, one resource); and the same ConfigMap registered as its manifest, without
  the SDK's class, as the stacks register their objects (like for like), and
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

from gh_runner_harness.engine import Engine, ambient_settings
from gh_runner_harness.paths import K8S_STACKS
from gh_runner_harness.toolchain import PULUMI_BINARIES, missing

# Beside stacks/, not in it: every stacks/* directory is a uv workspace member.
FLOOR = "../bench-empty"
CONFIG_MAP_FLOOR = "../bench-one-configmap"
MANIFEST_FLOOR = "../bench-one-manifest"
FLOORS = (FLOOR, CONFIG_MAP_FLOOR, MANIFEST_FLOOR)
ONE_CONFIG_MAP = """import pulumi
import pulumi_kubernetes as k8s

directory = pulumi.Config().require("renderYamlToDirectory")
provider = k8s.Provider("kubernetes", render_yaml_to_directory=directory)
k8s.core.v1.ConfigMap(
    "floor",
    metadata={"name": "floor", "namespace": "my-reforge-ai"},
    data={"key": "value"},
    opts=pulumi.ResourceOptions(provider=provider),
)
"""
# The same object as runner_k8s.components.kubernetes.KubernetesObject registers it (that module
# is not imported: it would add the config models to the floor).
ONE_MANIFEST = """import pulumi
import pulumi_kubernetes as k8s

directory = pulumi.Config().require("renderYamlToDirectory")
provider = k8s.Provider("kubernetes", render_yaml_to_directory=directory)
pulumi.CustomResource(
    "kubernetes:core/v1:ConfigMap",
    "floor",
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "floor", "namespace": "my-reforge-ai"},
        "data": {"key": "value"},
    },
    opts=pulumi.ResourceOptions(provider=provider),
)
"""


def add_program(engine: Engine, directory: str, source: str) -> None:
    """A Pulumi project beside the stacks, run the same way as they are."""
    project = engine.stack_dir(directory)
    project.mkdir()
    name = directory.removeprefix("../")
    (project / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
    )
    (project / "__main__.py").write_text(source)


def main(rounds: int) -> None:
    reason = missing(PULUMI_BINARIES, "pulumi-toolchain.sh")
    if reason:
        sys.exit(reason)
    for name in ambient_settings():
        del os.environ[name]
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create(Path(tmp))
        add_program(engine, FLOOR, "import pulumi  # noqa: F401\n")
        add_program(engine, CONFIG_MAP_FLOOR, ONE_CONFIG_MAP)
        add_program(engine, MANIFEST_FLOOR, ONE_MANIFEST)
        render = Path(tmp) / "rendered"
        stacks = {}
        for stack_dir in (*FLOORS, *K8S_STACKS):
            stacks[stack_dir] = engine.stack(stack_dir)
            if stack_dir in (CONFIG_MAP_FLOOR, MANIFEST_FLOOR):
                stacks[stack_dir].set_config(
                    "renderYamlToDirectory",
                    auto.ConfigValue(str(render / stack_dir.removeprefix("../"))),
                )
            elif stack_dir != FLOOR:
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
        stacks[CONFIG_MAP_FLOOR].up(color="never")
        stacks[MANIFEST_FLOOR].up(color="never")

        # Alternated, round by round: a machine busy with something else slows every row alike.
        previews: dict[str, list[float]] = {name: [] for name in stacks}
        for stack in stacks.values():
            stack.preview(color="never")  # warm-up: plugin start, bytecode caches
        for _ in range(rounds):
            for name, stack in stacks.items():
                start = time.perf_counter()
                stack.preview(color="never")
                previews[name].append(time.perf_counter() - start)

    floor = statistics.median(previews[FLOOR])
    one = statistics.median(previews[CONFIG_MAP_FLOOR])
    manifest = statistics.median(previews[MANIFEST_FLOOR])
    labels = {
        FLOOR: "empty Python program",
        CONFIG_MAP_FLOOR: "one ConfigMap (floor)",
        MANIFEST_FLOOR: "one ConfigMap as its manifest",
    }
    print(
        f"| `pulumi preview` (median of {rounds}) | seconds | / empty | / one ConfigMap "
        "| / one ConfigMap as its manifest |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, samples in previews.items():
        median = statistics.median(samples)
        print(
            f"| {labels.get(name, name)} | {median:.2f} | {median / floor:.2f}x "
            f"| {median / one:.2f}x | {median / manifest:.2f}x |"
        )
    print()
    up = statistics.median(up_samples)
    print(f"three-stack `pulumi up` from empty state: {up:.1f} s (median of {rounds})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
