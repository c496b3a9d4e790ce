"""`pulumi up` of shared, codex-runner and gemini-runner with the real engine, with the
Kubernetes provider rendering YAML to a directory instead of talking to a cluster.

The tests are steps of one deployment and run in file order: up, no-op preview, the
StackReference move, the secret canary, the policy pack, destroy.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pulumi.automation as auto
import pytest

from gh_runner_harness.engine import Engine, rendered_objects
from gh_runner_harness.paths import BASELINE, K8S_STACKS
from runner_k8s.kube.objects import object_id
from runner_k8s.offline.drift import compare
from runner_k8s.offline.manifest_files import load_manifests
from runner_k8s.offline.render import render_stacks

pytestmark = pytest.mark.engine

CANARY = "ghp_gh-runner-engine-canary-5f1e0c"
# The token as it can appear: plain, or base64 as in a Secret's `data`.
FORMS = (CANARY.encode(), base64.b64encode(CANARY.encode()))


def render_dir(render_root: Path, stack_dir: str) -> Path:
    return render_root / stack_dir


def up_all(engine: Engine, render_root: Path) -> dict[str, auto.UpResult]:
    results = {}
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)
        stack.set_config(
            "provider.renderYamlToDirectory",
            auto.ConfigValue(str(render_dir(render_root, stack_dir))),
            path=True,
        )
        results[stack_dir] = engine.up(stack)
    return results


def provider_output(render_root: Path) -> list[dict]:
    return [o for s in K8S_STACKS for o in rendered_objects(render_dir(render_root, s))]


def test_up_renders_production(engine: Engine, render_root: Path) -> None:
    results = up_all(engine, render_root)
    for stack_dir, result in results.items():
        assert result.summary.result == "succeeded", stack_dir
    written = provider_output(render_root)
    expected = render_stacks([engine.stack_dir(s) for s in K8S_STACKS], "dev")
    assert sorted(map(object_id, written)) == sorted(map(object_id, expected))
    if BASELINE.is_file():
        drift = compare(written, load_manifests(BASELINE))
        assert drift.clean, drift.report()
    else:
        print(f"{BASELINE} absent: compared with the render only", file=sys.stderr)
    # ... and it is exactly what `gh-runner render` shows, through the CLI's own diff.
    files = sorted(str(p) for p in render_root.rglob("*.yaml"))
    diff = subprocess.run(
        [sys.executable, "-m", "runner_k8s.cli", "diff", "--stack", "dev", *files],
        cwd=engine.workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_second_up_changes_nothing(engine: Engine) -> None:
    for stack_dir in K8S_STACKS:
        stack = engine.stack(stack_dir)
        engine.preview(stack, expect_no_changes=True)
        result = engine.up(stack)
        assert set(result.summary.resource_changes or {}) == {"same"}, stack_dir


def test_stack_reference_moves_both_fleets(engine: Engine, render_root: Path) -> None:
    """The runners read the namespace from the shared stack's state in the file backend."""
    shared = engine.stack("shared")
    namespace = shared.get_config("namespace")
    shared.set_config("namespace", auto.ConfigValue("runners-canary"))
    try:
        up_all(engine, render_root)
        written = provider_output(render_root)
        assert {o["metadata"]["namespace"] for o in written} == {"runners-canary"}
        assert len(written) == 3
        expected = render_stacks([engine.stack_dir(s) for s in K8S_STACKS], "dev")
        assert compare(written, expected).clean
    finally:
        shared.set_config("namespace", namespace)
        up_all(engine, render_root)
    assert {o["metadata"]["namespace"] for o in provider_output(render_root)} == {namespace.value}


def test_secret_token_stays_encrypted(engine: Engine, render_root: Path) -> None:
    shared = engine.stack("shared")
    shared.set_config("githubToken", auto.ConfigValue(CANARY, secret=True))
    engine.up(shared)
    for stack_dir in ("codex-runner", "gemini-runner"):
        engine.up(engine.stack(stack_dir))

    # The one place the token may be: the Secret object the provider wrote (base64 in `data`).
    [secret] = [o for o in provider_output(render_root) if o["kind"] == "Secret"]
    assert [base64.b64decode(v).decode() for v in secret["data"].values()] == [CANARY]
    secret_files = {p for p in render_root.rglob("*.yaml") if _holds(p, *FORMS)}
    assert len(secret_files) == 1

    outputs = engine.cli("shared", "stack", "output", "--json")
    assert outputs.returncode == 0, outputs.stderr
    exported = engine.cli("shared", "stack", "export")
    assert exported.returncode == 0, exported.stderr
    assert "secret" in json.dumps(json.loads(exported.stdout))  # the value is there, encrypted
    leaks = [str(p) for p in engine.files() if p not in secret_files and _holds(p, *FORMS)]
    assert leaks == []
    assert not [c for c in engine.transcript if any(form.decode() in c for form in FORMS)]


def _holds(path: Path, *forms: bytes) -> bool:
    try:
        content = path.read_bytes()
    except OSError:
        return False
    return any(form in content for form in forms)


# A program that breaks two of the pack's rules: a Secret, and no explicit name.
POLICY_PROBE = """
import pulumi
import pulumi_kubernetes as k8s

provider = k8s.Provider("render", render_yaml_to_directory={out!r})
options = pulumi.ResourceOptions(provider=provider)
k8s.core.v1.Secret("probe", string_data={{"k": "v"}}, opts=options)
"""


def test_policy_pack_passes(engine: Engine, render_root: Path) -> None:
    pack = engine.workspace / "policies"
    for stack_dir in K8S_STACKS:
        result = engine.preview(engine.stack(stack_dir), policy_packs=[str(pack)])
        assert "gh-runner@v" in result.stdout, result.stdout  # the pack ran...
        assert "violation" not in result.stdout.lower(), result.stdout  # ...and found nothing

    # The control: the same engine and pack stop a program that breaks the rules.
    probe = engine.workspace / "policy-probe"  # beside stacks/: not a workspace member
    probe.mkdir()
    (probe / "Pulumi.yaml").write_text(
        "name: policy-probe\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
    )
    (probe / "__main__.py").write_text(POLICY_PROBE.format(out=str(render_root / "probe")))
    with pytest.raises(auto.CommandError) as stopped:
        engine.preview(engine.stack("../policy-probe"), policy_packs=[str(pack)])
    assert "no-pvc-namespace-or-secret" in str(stopped.value)
    assert "explicit-name" in str(stopped.value)


def test_destroy_removes_the_rendered_files(engine: Engine, render_root: Path) -> None:
    for stack_dir in reversed(K8S_STACKS):
        result = engine.destroy(engine.stack(stack_dir))
        assert result.summary.result == "succeeded", stack_dir
        assert list(render_dir(render_root, stack_dir).rglob("*.yaml")) == [], stack_dir
