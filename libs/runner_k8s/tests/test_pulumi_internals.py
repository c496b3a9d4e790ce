"""pulumi_internals: each private SDK name the mock runs use still does its job on the installed
SDK. A failure here means the SDK changed under runner_k8s/pulumi_internals.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runner_k8s.config.stackfile import StackConfig
from runner_k8s.kube.markers import SECRET_MARKER
from runner_k8s.offline import pulumi_internals
from runner_k8s.offline.mockrun import run_program
from runner_k8s.offline.pulumi_internals import SdkChanged, reset_runtime, secret_payload, wait_for


def test_a_secret_input_is_recognised_in_a_mock_run(tmp_path: Path) -> None:
    # Through the real path (the way the components register a Secret): the mock monitor
    # deserializes the registration, and the secret must come out masked, never as its value.
    (tmp_path / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(
        "import pulumi\n"
        "from runner_k8s.components.kubernetes import KubernetesObject\n"
        "from runner_k8s.kube.objects import SECRET\n"
        "KubernetesObject(\n"
        '    "s", SECRET, {"metadata": {"name": "plain"},\n'
        '    "stringData": {"k": pulumi.Output.secret("s3cret")}}, pulumi.ResourceOptions(),\n'
        '    secret_fields=("data", "stringData"),\n'
        ")\n"
    )
    run = run_program(tmp_path, StackConfig("probe", "dev", {}))
    assert run.error is None
    [secret] = run.of_type("kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"] == {"k": SECRET_MARKER}
    assert secret.inputs["metadata"]["name"] == "plain"
    assert "s3cret" not in repr(run.resources)


def test_secret_payload_leaves_plain_values_alone() -> None:
    assert secret_payload({"value": "s3cret"}) == (False, {"value": "s3cret"})
    assert secret_payload("s3cret") == (False, "s3cret")


def test_wait_for_runs_a_coroutine_to_its_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert wait_for(answer()) == 42


def test_reset_runtime_clears_what_a_program_leaves_behind() -> None:
    settings = pulumi_internals._SETTINGS
    settings.outputs.add(object())
    reset_runtime()
    assert len(settings.outputs) == 0


def test_a_missing_private_name_fails_with_a_message_naming_it() -> None:
    with pytest.raises(SdkChanged, match=r"pulumi \S+ has no pulumi\.runtime\.rpc\.no_such_name"):
        pulumi_internals._private("pulumi.runtime.rpc", "no_such_name")
