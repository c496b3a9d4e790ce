"""One config contract: the committed JSON Schema of each stack project and its loader accept the
same stack files, save for the differences pinned here, each with its reason.

Proved two ways: a table of hand-picked files (valid and invalid, the issue's cases among them),
and properties over files drawn from each schema (tests/schema_strategies.py): the loader takes
every file the schema takes, and of files with one edit, the schema refuses every one the loader
refuses for a reason a schema can say. The properties run a few dozen files per project in the
fast tier; GH_RUNNER_CONTRACT_EXAMPLES=500 runs more (the draw is derandomized, so a failure
reproduces).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schema_strategies import documents, edited
from stack_documents import (
    BOOT,
    CODEX,
    SECURE,
    SHARED,
    committed_schema,
    dev,
    edit,
    loader_problems,
    remove,
    schema_errors,
    stack_init_rewrite,
)

from runner_k8s.offline.schemas import PROJECTS

# --- the differences, on purpose or by what a schema cannot say -------------------------------


@dataclass(frozen=True)
class Pinned:
    """Problems the loader reports and the schema cannot express: each line it matches."""

    name: str
    reason: str
    line: re.Pattern[str]
    example: tuple[str, dict[str, Any]]  # (project, a file the schema takes and the loader not)

    def covers(self, problem: str) -> bool:
        return self.line.search(problem) is not None


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_TWO_VOLUMES = [
    {"name": "home", "claimName": "a", "mountPath": "/a"},
    {"name": "home", "claimName": "b", "mountPath": "/b"},
]
PINNED: list[Pinned] = [
    Pinned(
        "unique volume names and mount paths",
        "a rule across list items and keys: JSON Schema's uniqueItems compares whole items",
        _rule(r": duplicate (volume name|mount path|path) "),
        (CODEX, edit(CODEX, "runner.pvcMounts", _TWO_VOLUMES)),
    ),
    Pinned(
        "volume and mount orders",
        "each must list exactly the fleet's volume names, which come from other keys",
        _rule(r"^runner\.(volume|mount)Order: must list each"),
        (CODEX, edit(CODEX, "runner.volumeOrder", ["work"])),
    ),
    Pinned(
        "runner labels unique regardless of case",
        "uniqueItems is case-sensitive; GitHub compares labels case-insensitively",
        _rule(r"^runner\.labels\[\d+\]: duplicate label"),
        (CODEX, edit(CODEX, "runner.labels", ["gpu", "GPU"])),
    ),
    Pinned(
        "image new enough for minRunnerVersion",
        "compares the version in the image tag with another key",
        _rule(r"^runner\.image: (runner \S+ \(from the tag\) is below|tag .* names no runner)"),
        (CODEX, edit(CODEX, "runner.minRunnerVersion", "9.0.0")),
    ),
    Pinned(
        "image name length",
        "at most 255 characters for the name without its tag: a pattern cannot count a part",
        _rule(r"^runner\.image: the image name must be at most 255"),
        (CODEX, edit(CODEX, "runner.image", "a" * 256 + ":1.0.0")),
    ),
    Pinned(
        "requests within limits",
        "compares two maps' quantities (and extended resources' request == limit, whole)",
        _rule(
            r"^runner\.resources\.(requests|limits)\.\S+: "
            r"(.* exceeds |an extended resource needs|.* must be a whole number)"
        ),
        (CODEX, edit(CODEX, "runner.resources", {"requests": {"cpu": "3"}})),
    ),
    Pinned(
        "toleration rules",
        "the API server's rules across a toleration's keys (key, operator, value, effect)",
        _rule(r"^runner\.tolerations\[\d+\]\.(operator|value|tolerationSeconds): "),
        (CODEX, edit(CODEX, "runner.tolerations", [{"key": "a", "tolerationSeconds": 1}])),
    ),
    Pinned(
        "annotations size",
        "256 KiB for all pod annotations together",
        _rule(r"^runner\.podAnnotations: \d+ bytes"),
        (CODEX, edit(CODEX, "runner.podAnnotations", {"a": "x" * 300_000})),
    ),
    Pinned(
        "prefix length of a qualified name",
        "a label or annotation key's DNS prefix is at most 253: a pattern cannot count a part",
        _rule(r"prefix '[^']{254,}' is not a DNS-1123 subdomain"),
        (CODEX, edit(CODEX, "runner.nodeSelector", {"a" * 254 + "/b": "c"})),
    ),
    Pinned(
        "a value ending in a newline",
        "Python's re (which Python validators use for `pattern`) lets `$` match before a final "
        "newline, ECMA-262 (which JSON Schema specifies) does not; the loader refuses it",
        _rule(r"\\n'"),
        (CODEX, edit(CODEX, "runner.name", "codex\n")),
    ),
    Pinned(
        "TOML",
        "codexConfig.configToml must parse as TOML",
        _rule(r"^codexConfig\.configToml: (is not valid TOML|\d+ bytes with its key)"),
        (SHARED, edit(SHARED, "codexConfig.configToml", "= nope")),
    ),
    Pinned(
        "the token Secret's own name",
        "secretRefs.managedToken must not name a Secret another secretRefs entry reads",
        _rule(r"^secretRefs\.managedToken\.name: .* is the Secret of"),
        (SHARED, edit(SHARED, "secretRefs.managedToken.name", "github-runner-config")),
    ),
    Pinned(
        "keys that go together",
        "githubUrl needs githubRepo, allowCrossStack needs sharedStack: the config map has two "
        "spellings of each key, which dependentRequired cannot pair",
        _rule(r"^(githubUrl|allowCrossStack): only (used|meaningful) together with"),
        (SHARED, edit(SHARED, "githubUrl", "https://ghe.example")),
    ),
    Pinned(
        "repository name . or ..",
        "GitHub has no such repository; the pattern admits the characters",
        _rule(r"^githubRepo: .* names no repository"),
        (SHARED, edit(SHARED, "githubRepo", "owner/..")),
    ),
    Pinned(
        "affinity",
        "passed through in Kubernetes shape and checked against Kubernetes' OpenAPI schema",
        _rule(r"^runner\.affinity[.:]"),
        (CODEX, edit(CODEX, "runner.affinity", {"nodeAffinity": {"nodeSelectorTermz": []}})),
    ),
    Pinned(
        "NetworkPolicy rules of the API server",
        "CIDR parsing, except strictly inside cidr, port ranges, peers and selectors: "
        "Kubernetes' own validation (runner_k8s.kube.network_policy), and the OpenAPI schema",
        _rule(
            r"^runner\.networkPolicy\.extraEgress\[\d+\]\.(to|ports)\[\d+\]"
            r"(\.ipBlock\.(cidr|except\[\d+\])|\.endPort|: |\.\w+Selector\.matchExpressions)"
        ),
        (
            CODEX,
            edit(CODEX, "runner.networkPolicy.extraEgress", [{"to": [{"ipBlock": {"cidr": "x"}}]}]),
        ),
    ),
    Pinned(
        "privateRanges without host bits",
        "10.1.2.3/8 names a host, not a range: the pattern checks the syntax only",
        _rule(r"^runner\.networkPolicy\.privateRanges\[\d+\]: .* is not a CIDR range"),
        (CODEX, edit(CODEX, "runner.networkPolicy.privateRanges", ["10.1.2.3/8"])),
    ),
    Pinned(
        "a KMS rotation period's range",
        "one day to 100 years, a number inside a string (`7776000s`)",
        _rule(r"^(kms|cmek|secrets)\.rotationPeriod: '[^']*' is (shorter than one day|over)"),
        (BOOT, edit(BOOT, "kms.rotationPeriod", "60s")),
    ),
    Pinned(
        "KMS and bucket locations, key ring names",
        "the key rings' location must match the bucket's, and the two key rings differ",
        _rule(r"^(kms\.location: .* differs from the bucket's|secrets\.keyRing: .* is also cmek)"),
        (BOOT, edit(BOOT, "kms.location", "asia")),
    ),
    Pinned(
        "a whole number written as a float",
        "JSON Schema counts 2.0 an integer (one number, two spellings); the loader, like the "
        "Kubernetes API's integer fields, wants it written 2",
        _rule(r": must be an integer$"),
        (CODEX, edit(CODEX, "runner.replicas", 2.0)),
    ),
    Pinned(
        "YAML's infinity",
        "`.inf` is a YAML number, which a JSON Schema `number` takes; no quantity is infinite",
        _rule(r"\(got '-?inf'\)"),
        (CODEX, edit(CODEX, "runner.resources", {"limits": {"cpu": float("inf")}})),
    ),
]


def pinned(problem: str) -> bool:
    return any(p.covers(problem) for p in PINNED)


@pytest.mark.parametrize(
    ("project", "document"), [p.example for p in PINNED], ids=[p.name for p in PINNED]
)
def test_each_pinned_difference_is_real(project: str, document: dict[str, Any]) -> None:
    assert schema_errors(project, document) == []
    problems = loader_problems(project, document)
    assert problems, "the loader takes it too: unpin it"
    assert all(pinned(p) for p in problems), problems


def test_the_legacy_config_spelling_is_the_loaders_only() -> None:
    # `project:config:key`, which old Pulumi releases wrote, is still read (by Pulumi and the
    # loader); the schema lists the two spellings `pulumi stack init` and `config set` write.
    document = dev(CODEX)
    document["config"] = {f"{CODEX}:config:{k}": v for k, v in document["config"].items()}
    assert loader_problems(CODEX, document) == []
    assert schema_errors(CODEX, document)


# --- a table of files both sides judge alike ---------------------------------------------------

_NOT_A_CIDR = [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]
AGREED: list[tuple[str, str, dict[str, Any], bool]] = [
    (SHARED, "dev file", dev(SHARED), True),
    (SHARED, "after stack init", stack_init_rewrite(SHARED), True),
    (SHARED, "secret githubToken", edit(SHARED, "githubToken", SECURE), True),
    (SHARED, "plaintext githubToken", edit(SHARED, "githubToken", "ghp_x"), False),
    (SHARED, "misspelt key", edit(SHARED, "namepsace", "x"), False),
    (SHARED, "secret kubeconfig", edit(SHARED, "provider.kubeconfig", SECURE), True),
    (SHARED, "secret boolean", edit(SHARED, "provider.retainOnDelete", SECURE), False),
    (SHARED, "secret in the ConfigMap", edit(SHARED, "codexConfig.configToml", SECURE), False),
    (SHARED, "secret Secret name", edit(SHARED, "secretRefs.githubUrl.name", SECURE), False),
    (SHARED, "half a secret ref", edit(SHARED, "secretRefs.githubUrl", {"name": "a"}), False),
    (SHARED, "kubernetes: namespace", edit(SHARED, "kubernetes:context", "ctx"), True),
    (SHARED, "bad githubRepo", edit(SHARED, "githubRepo", "no-slash"), False),
    (SHARED, "misspelt prefix", edit(SHARED, "gh-runner-shard:namespace", "x"), False),
    (SHARED, "enabled, no TOML", edit(SHARED, "codexConfig", {"enabled": True}), False),
    (SHARED, "disabled, no TOML", edit(SHARED, "codexConfig", {"enabled": False}), True),
    (SHARED, "namespace not a DNS label", edit(SHARED, "namespace", "My_NS"), False),
    (SHARED, "both spellings", edit(SHARED, f"{SHARED}:namespace", "other"), False),
    (SHARED, "unknown top-level key", {**dev(SHARED), "secretprovider": "x"}, False),
    (CODEX, "dev file", dev(CODEX), True),
    (CODEX, "after stack init", stack_init_rewrite(CODEX), True),
    (CODEX, "no runner", {"config": {"sharedStack": "organization/gh-runner-shared/dev"}}, False),
    (CODEX, "negative replicas", edit(CODEX, "runner.replicas", -1), False),
    (CODEX, "replicas as text", edit(CODEX, "runner.replicas", "2"), False),
    (CODEX, "unknown pull policy", edit(CODEX, "runner.imagePullPolicy", "Sometimes"), False),
    (CODEX, "plain env", edit(CODEX, "runner.env", {"FOO": "bar"}), True),
    (CODEX, "env value object", edit(CODEX, "runner.env", {"FOO": {"value": "bar"}}), True),
    (
        CODEX,
        "env from a Secret",
        edit(CODEX, "runner.env", {"KEY": {"secretKeyRef": {"name": "s", "key": "k"}}}),
        True,
    ),
    (
        CODEX,
        "env with two sources",
        edit(CODEX, "runner.env", {"K": {"value": "v", "secretKeyRef": {"name": "s", "key": "k"}}}),
        False,
    ),
    (CODEX, "env of gh-runner's own", edit(CODEX, "runner.env", {"GITHUB_PAT": "x"}), False),
    (CODEX, "secret env", edit(CODEX, "runner.env", {"A": SECURE}), False),
    (CODEX, "secret image", edit(CODEX, "runner.image", SECURE), False),
    (CODEX, "secret kubeconfig", edit(CODEX, "provider.kubeconfig", SECURE), True),
    (CODEX, "unquoted cpu", edit(CODEX, "runner.resources.limits", {"cpu": 2}), True),
    (CODEX, "negative cpu", edit(CODEX, "runner.resources.limits", {"cpu": "-1"}), False),
    (CODEX, "unknown resource", edit(CODEX, "runner.resources.limits", {"cpuu": "1"}), False),
    (CODEX, "bad env name", edit(CODEX, "runner.env", {"1BAD": "x"}), False),
    (CODEX, "root user", edit(CODEX, "runner.securityContext.runAsUser", 0), False),
    (CODEX, "RWX home", edit(CODEX, "runner.homeVolume.accessMode", "ReadWriteMany"), True),
    (CODEX, "unknown access mode", edit(CODEX, "runner.homeVolume.accessMode", "RWX"), False),
    (CODEX, "no pvcMounts", remove(CODEX, "runner.pvcMounts"), False),
    (CODEX, "null pvcMounts", edit(CODEX, "runner.pvcMounts", None), False),
    (CODEX, "no home", edit(CODEX, "runner.pvcMounts", []), True),
    (CODEX, "name not a DNS label", edit(CODEX, "runner.name", "Codex_Runner"), False),
    (CODEX, "untagged image", edit(CODEX, "runner.image", "ghcr.io/a/b"), False),
    (CODEX, "latest image", edit(CODEX, "runner.image", "ghcr.io/a/b:latest"), False),
    (CODEX, "digest image", edit(CODEX, "runner.image", "ghcr.io/a/b@sha256:" + "0" * 64), True),
    (CODEX, "short digest", edit(CODEX, "runner.image", "ghcr.io/a/b@sha256:00"), False),
    (CODEX, "self-hosted label", edit(CODEX, "runner.labels", ["Self-Hosted"]), False),
    (CODEX, "label with a comma", edit(CODEX, "runner.labels", ["a,b"]), False),
    (CODEX, "snake_case key", edit(CODEX, "runner.min_runner_version", "2.329.0"), False),
    (
        CODEX,
        "path climbing out",
        edit(
            CODEX,
            "runner.secretMounts",
            [
                {
                    "name": "s",
                    "secretName": "s",
                    "mountPath": "/s",
                    "items": [{"key": "k", "path": "../k"}],
                }
            ],
        ),
        False,
    ),
    (
        CODEX,
        "port out of range",
        edit(
            CODEX,
            "runner.networkPolicy.inClusterServices",
            [{"podSelector": {"app": "x"}, "port": 70000}],
        ),
        False,
    ),
    (
        CODEX,
        "mode too wide",
        edit(
            CODEX,
            "runner.secretMounts",
            [{"name": "s", "secretName": "s", "mountPath": "/s", "defaultMode": 0o1000}],
        ),
        False,
    ),
    (CODEX, "misspelt runner key", edit(CODEX, "runner.replcias", 2), False),
    (
        CODEX,
        "egress ICMP",
        edit(CODEX, "runner.networkPolicy.extraEgress", [{"ports": [{"protocol": "ICMP"}]}]),
        False,
    ),
    (
        CODEX,
        "egress port 0",
        edit(CODEX, "runner.networkPolicy.extraEgress", [{"ports": [{"port": 0}]}]),
        False,
    ),
    (
        CODEX,
        "egress port range",
        edit(
            CODEX,
            "runner.networkPolicy.extraEgress",
            [{"ports": [{"protocol": "UDP", "port": 8000, "endPort": 8100}]}],
        ),
        True,
    ),
    (
        CODEX,
        "egress to a CIDR",
        edit(
            CODEX,
            "runner.networkPolicy.extraEgress",
            [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
        ),
        True,
    ),
    (
        CODEX,
        "privateRanges 0.0.0.0/0",
        edit(CODEX, "runner.networkPolicy.privateRanges", ["0.0.0.0/0"]),
        False,
    ),
    (
        CODEX,
        "privateRanges IPv6",
        edit(CODEX, "runner.networkPolicy.privateRanges", ["fd00::/8"]),
        False,
    ),
    (
        CODEX,
        "privateRanges /32",
        edit(CODEX, "runner.networkPolicy.privateRanges", ["10.1.2.3/32"]),
        True,
    ),
    (BOOT, "dev file", dev(BOOT), True),
    (BOOT, "after stack init", stack_init_rewrite(BOOT), True),
    (
        BOOT,
        "no gcp:project",
        {"config": {k: v for k, v in dev(BOOT)["config"].items() if k != "gcp:project"}},
        False,
    ),
    (BOOT, "short soft delete", edit(BOOT, "bucket.softDeleteRetentionDays", 5), False),
    (BOOT, "no bucket name", edit(BOOT, "bucket", {"softDeleteRetentionDays": 30}), False),
    (BOOT, "secret account", edit(BOOT, "automationServiceAccount", SECURE), False),
    (BOOT, "unknown cmek key", edit(BOOT, "cmek.rotation", "1s"), False),
]


@pytest.mark.parametrize(
    ("project", "document", "accepted"),
    [pytest.param(p, d, a, id=f"{p}: {name}") for p, name, d, a in AGREED],
)
def test_schema_and_loader_agree(project: str, document: dict[str, Any], accepted: bool) -> None:
    problems = loader_problems(project, document)
    assert (problems == []) is accepted, problems
    assert (schema_errors(project, document) == []) is accepted


# --- the properties ----------------------------------------------------------------------------

EXAMPLES = int(os.environ.get("GH_RUNNER_CONTRACT_EXAMPLES", "20"))
# derandomize: the same files on every run, so CI is deterministic and a failure reproduces.
CONTRACT_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _disagreement(project: str, document: Any) -> str | None:
    """Why the two sides judge ``document`` differently, or None when they agree."""
    errors = schema_errors(project, document)
    unpinned = [p for p in loader_problems(project, document) if not pinned(p)]
    if not errors and unpinned:
        return f"the schema takes it, the loader refuses: {unpinned}"
    if errors and not unpinned and not loader_problems(project, document):
        return f"the loader takes it, the schema refuses: {errors[:3]}"
    return None


@pytest.mark.parametrize("project", PROJECTS)
def test_the_loader_takes_every_file_the_schema_takes(project: str) -> None:
    @CONTRACT_SETTINGS
    @given(documents(committed_schema(project)))
    def check(document: Any) -> None:
        assert schema_errors(project, document) == [], "the generator drew outside the schema"
        unpinned = [p for p in loader_problems(project, document) if not pinned(p)]
        assert unpinned == [], document

    check()


@pytest.mark.parametrize("project", PROJECTS)
def test_both_sides_judge_an_edited_file_alike(project: str) -> None:
    written = st.sampled_from([dev(project), stack_init_rewrite(project)])
    drawn = documents(committed_schema(project))

    @CONTRACT_SETTINGS
    @given((written | drawn).flatmap(edited))
    def check(document: Any) -> None:
        assert _disagreement(project, document) is None, document

    check()
