"""The pack as the engine runs it: the policies it assembles, the proxies the engine's values
arrive in, and the real pack process answering Analyze over gRPC on loopback."""

from __future__ import annotations

import copy
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationArgs
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import (
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
    unknown_checking_proxy,
)

from gh_runner_policies.pack import CannotCheckUntilApply, plain, policies
from gh_runner_policies.rules import RULES
from gh_runner_policies.unknowns import UNKNOWN

PACK = Path(__file__).resolve().parents[1]
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def as_engine_sends(props: dict[str, Any]) -> Any:
    """What a policy finds in ResourceValidationArgs.props for these inputs."""
    return unknown_checking_proxy(deserialize_properties(props))


def with_unknown_image(deployment: dict[str, Any]) -> dict[str, Any]:
    preview = copy.deepcopy(deployment)
    preview["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    return preview


def test_the_pack_has_every_rule_mandatory() -> None:
    assembled = policies()
    assert [p.name for p in assembled] == [r.name for r in RULES]
    assert {p.enforcement_level for p in assembled} == {EnforcementLevel.MANDATORY}
    assert all(p.description for p in assembled)


def test_plain_turns_engine_unknowns_into_unknown() -> None:
    props = as_engine_sends(
        {
            "metadata": {"name": "x", "namespace": UNKNOWN_STRING_VALUE},
            "spec": UNKNOWN_OBJECT_VALUE,
            "list": [1, UNKNOWN_STRING_VALUE, {"a": UNKNOWN_STRING_VALUE}],
        }
    )
    with pytest.raises(UnknownValueError) as raised:
        props["spec"]
    assert raised.value.message == "Object value at .spec can't be known during preview"
    assert plain(props) == {
        "metadata": {"name": "x", "namespace": UNKNOWN},
        "spec": UNKNOWN,
        "list": [1, UNKNOWN, {"a": UNKNOWN}],
    }


def validate(rule: str, resource_type: str, props: dict[str, Any]) -> list[str]:
    """Run one assembled policy as the SDK does; its violations, in order."""
    [policy] = [p for p in policies() if p.name == rule]
    reported: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        as_engine_sends(props),
        "urn:x",
        "x",
        None,
        None,  # type: ignore[arg-type]
    )
    policy.validate(args, lambda message, urn=None: reported.append(message))
    return reported


def test_a_policy_reports_violations_then_what_waits_for_apply(
    deployment: dict[str, Any],
) -> None:
    preview = with_unknown_image(deployment)
    preview["spec"]["template"]["spec"]["hostNetwork"] = True
    assert validate("pod-security-restricted", DEPLOYMENT, preview) == [
        "spec.template.spec.hostNetwork must be unset or false"
    ]
    with pytest.raises(CannotCheckUntilApply) as raised:
        validate("pinned-images", DEPLOYMENT, preview)
    assert raised.value.message == (
        'cannot check the image of container "runner" until apply: '
        "spec.template.spec.containers[0].image is not known during preview"
    )


def test_only_kubernetes_resources_are_checked(deployment: dict[str, Any]) -> None:
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["hostNetwork"] = True
    assert validate("pod-security-restricted", "gcp:storage/bucket:Bucket", bad) == []


# --- the pack process, as the language host starts it -----------------------------------------


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """`python policies ENGINE` with stdout a pipe, as RunPlugin starts it, and no
    PYTHONUNBUFFERED: the pack must get its port out on its own."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    pack = subprocess.Popen(
        [sys.executable, str(PACK), "127.0.0.1:1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=PACK,
    )
    try:
        assert pack.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(pack.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            pytest.fail("the policy pack printed no port within 30 s")
        port = int(pack.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        pack.kill()
        pack.wait(timeout=10)


def analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub, props: dict[str, Any], resource_type: str = DEPLOYMENT
) -> list[Any]:
    properties = struct_pb2.Struct()
    properties.update(props)
    request = analyzer_pb2.AnalyzeRequest(
        type=resource_type, properties=properties, urn="urn:x", name="x"
    )
    return list(stub.Analyze(request, timeout=30).diagnostics)


def test_the_running_pack_lists_its_policies(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == "gh-runner"
    assert [p.name for p in info.policies] == [r.name for r in RULES]
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    assert isinstance(analyzer.GetPluginInfo(empty_pb2.Empty()), plugin_pb2.PluginInfo)


def test_the_running_pack_passes_the_render(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, deployment: dict[str, Any]
) -> None:
    assert analyze(analyzer, deployment) == []


def test_the_running_pack_blocks_a_violation(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, deployment: dict[str, Any]
) -> None:
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/x/runner:latest"
    [diagnostic] = analyze(analyzer, bad)
    assert diagnostic.policyName == "pinned-images"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "'ghcr.io/x/runner:latest' is tagged latest" in diagnostic.message


def test_the_running_pack_reports_an_unknown_as_advisory(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, deployment: dict[str, Any]
) -> None:
    [diagnostic] = analyze(analyzer, with_unknown_image(deployment))
    assert diagnostic.policyName == "pinned-images"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert diagnostic.message.endswith(
        'during preview: cannot check the image of container "runner" until apply: '
        "spec.template.spec.containers[0].image is not known during preview"
    )
