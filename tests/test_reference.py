"""The config contract as written out: field descriptions, the generated reference, and the JSON
Schema of every stack file, checked with an independent validator against the loader itself."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from runner_k8s.cli import main
from runner_k8s.config.bootstrap import BootstrapSettings, load_bootstrap
from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.config.shared import SharedConfig, load_shared
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.errors import ConfigError
from runner_k8s.offline.reference import reference_markdown
from runner_k8s.offline.schemas import (
    CONTRACTS,
    PROJECTS,
    REFERENCE_FILE,
    schema_comment,
    schema_path,
    schema_text,
)
from runner_k8s.stacks import BOOTSTRAP_STACK, FLEET_STACKS, SHARED_STACK

REPO = Path(__file__).resolve().parents[1]
DIRECTORY = {c.project: c.stack.directory for c in CONTRACTS}
SECURE = {"secure": "v1:Zm9v:YmFy"}


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            kind = stack.pop()
            stack += typing.get_args(kind)
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _models(kind, seen)


def test_every_config_field_has_a_description() -> None:
    seen: set[type[BaseModel]] = set()
    models = [
        m
        for root in (SharedConfig, RunnerStackConfig, BootstrapSettings)
        for m in _models(root, seen)
    ]
    assert len(models) > 20  # the walk reached the nested models
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not undocumented, (
        f"give each a docstring under the field (it becomes the reference): {undocumented}"
    )


def test_the_projects_are_the_stack_list() -> None:
    assert set(PROJECTS) == {s.project for s in (SHARED_STACK, *FLEET_STACKS, BOOTSTRAP_STACK)}


def test_committed_reference_is_current() -> None:
    committed = (REPO / REFERENCE_FILE).read_text()
    assert committed == reference_markdown(), (
        f"{REFERENCE_FILE} is stale: uv run gh-runner reference > {REFERENCE_FILE}"
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_committed_schema_is_current(project: str) -> None:
    committed = (REPO / schema_path(project)).read_text()
    assert committed == schema_text(project), (
        f"{schema_path(project)} is stale: uv run gh-runner schema --out schemas"
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_schema_is_valid_json_schema(project: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_text(project)))


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "gh-runner-codex"]) == 0
    assert capsys.readouterr().out == (REPO / schema_path("gh-runner-codex")).read_text()
    assert main(["schema", "gh-runner-nope"]) == 2
    assert "gh-runner-shared" in capsys.readouterr().err


def test_schema_command_defaults_to_the_project_it_stands_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO / BOOTSTRAP_STACK.directory)
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text(BOOTSTRAP_STACK.project)
    monkeypatch.chdir(REPO)
    assert main(["schema"]) == 2  # no Pulumi.yaml here: name a project
    assert "name one of" in capsys.readouterr().err


def test_reference_lists_every_key_of_a_dev_stack() -> None:
    text = (REPO / REFERENCE_FILE).read_text()
    for key in (
        "runner.networkPolicy.inClusterServices[].port",
        "runner.homeVolume.colocate",
        "runner.volumeOrder",
        "secretRefs.managedToken.key",
        "gcp:project",
        "bucket.noncurrentVersions.days",
        "provider.kubeconfig",
    ):
        assert f"| `{key}` |" in text, key


# --- the stack files against their schemas -----------------------------------------------------


def _validator(project: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads((REPO / schema_path(project)).read_text()))


def _errors(project: str, document: Any) -> list[str]:
    return [e.message for e in _validator(project).iter_errors(document)]


def _dev_file(project: str) -> Path:
    return REPO / DIRECTORY[project] / "Pulumi.dev.yaml"


@pytest.mark.parametrize("project", PROJECTS)
def test_dev_stack_file_names_and_passes_its_schema(project: str) -> None:
    path = _dev_file(project)
    assert path.read_text().splitlines()[0] == schema_comment(project)
    assert _errors(project, yaml.safe_load(path.read_text())) == []


def test_a_misspelt_key_fails_the_schema() -> None:
    document = yaml.safe_load(_dev_file("gh-runner-codex").read_text())
    document["config"]["runner"]["replcias"] = 3
    assert any("replcias" in e for e in _errors("gh-runner-codex", document))


def test_a_plaintext_github_token_fails_the_schema() -> None:
    document = yaml.safe_load(_dev_file("gh-runner-shared").read_text())
    document["config"]["githubToken"] = "ghp_plaintext"
    assert _errors("gh-runner-shared", document)
    document["config"]["githubToken"] = SECURE
    assert _errors("gh-runner-shared", document) == []


# --- the schema and the loader agree -----------------------------------------------------------


def _loader_accepts(tmp_path: Path, project: str, document: dict[str, Any]) -> bool:
    stack_dir = tmp_path / project
    stack_dir.mkdir(parents=True, exist_ok=True)
    (stack_dir / "Pulumi.yaml").write_text(f"name: {project}\nruntime: python\n")
    (stack_dir / "Pulumi.case.yaml").write_text(yaml.safe_dump(document))
    try:
        config = load_stack_config(stack_dir, "case")
        if project == SHARED_STACK.project:
            load_shared(config.values, config.secret_keys)
        elif project == BOOTSTRAP_STACK.project:
            load_bootstrap(config.values, config.provider_values)
        else:
            load_runner_stack(config.values, config.secret_keys)
    except ConfigError:
        return False
    return True


def _dev(project: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(_dev_file(project).read_text())
    return document


def _edit(project: str, path: str, value: Any) -> dict[str, Any]:
    """The dev file of ``project`` with ``value`` at the dotted ``path`` of its config."""
    document = _dev(project)
    *parents, last = path.split(".")
    node = document["config"]
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return document


def _stack_init_rewrite(project: str) -> dict[str, Any]:
    """The dev file as `pulumi stack init` leaves a copy of it (seen with pulumi v3.274): every key
    prefixed with the project, and the passphrase provider's salt added."""
    document = _dev(project)
    document["config"] = {
        f"{project}:{k}" if ":" not in k else k: v for k, v in document["config"].items()
    }
    document["encryptionsalt"] = "v1:qyJp7kp2YuQ=:v1:29FiMJoGEBpjWgY1:/HWGo1LfnwsuGOi3"
    return document


SHARED, CODEX, BOOT = "gh-runner-shared", "gh-runner-codex", "gh-runner-bootstrap"
AGREED: list[tuple[str, str, dict[str, Any], bool]] = [
    (SHARED, "dev file", _dev(SHARED), True),
    (SHARED, "after stack init", _stack_init_rewrite(SHARED), True),
    (SHARED, "secret githubToken", _edit(SHARED, "githubToken", SECURE), True),
    (SHARED, "plaintext githubToken", _edit(SHARED, "githubToken", "ghp_x"), False),
    (SHARED, "misspelt key", _edit(SHARED, "namepsace", "x"), False),
    (SHARED, "secret kubeconfig", _edit(SHARED, "provider.kubeconfig", SECURE), True),
    (SHARED, "secret boolean", _edit(SHARED, "provider.retainOnDelete", SECURE), False),
    (SHARED, "secret in the ConfigMap", _edit(SHARED, "codexConfig.configToml", SECURE), False),
    (SHARED, "secret Secret name", _edit(SHARED, "secretRefs.githubUrl.name", SECURE), False),
    (SHARED, "half a secret ref", _edit(SHARED, "secretRefs.githubUrl", {"name": "a"}), False),
    (SHARED, "kubernetes: namespace", _edit(SHARED, "kubernetes:context", "ctx"), True),
    (SHARED, "bad githubRepo", _edit(SHARED, "githubRepo", "no-slash"), False),
    (CODEX, "dev file", _dev(CODEX), True),
    (CODEX, "after stack init", _stack_init_rewrite(CODEX), True),
    (CODEX, "no runner", {"config": {"sharedStack": "organization/gh-runner-shared/dev"}}, False),
    (CODEX, "negative replicas", _edit(CODEX, "runner.replicas", -1), False),
    (CODEX, "replicas as text", _edit(CODEX, "runner.replicas", "2"), False),
    (CODEX, "unknown pull policy", _edit(CODEX, "runner.imagePullPolicy", "Sometimes"), False),
    (CODEX, "secret env", _edit(CODEX, "runner.env", {"A": SECURE}), False),
    (CODEX, "secret image", _edit(CODEX, "runner.image", SECURE), False),
    (CODEX, "secret kubeconfig", _edit(CODEX, "provider.kubeconfig", SECURE), True),
    (CODEX, "unquoted cpu", _edit(CODEX, "runner.resources.limits", {"cpu": 2}), True),
    (CODEX, "bad env name", _edit(CODEX, "runner.env", {"1BAD": "x"}), False),
    (CODEX, "root user", _edit(CODEX, "runner.securityContext.runAsUser", 0), False),
    (CODEX, "RWX home", _edit(CODEX, "runner.homeVolume.accessMode", "ReadWriteMany"), True),
    (CODEX, "unknown access mode", _edit(CODEX, "runner.homeVolume.accessMode", "RWX"), False),
    (
        CODEX,
        "port out of range",
        _edit(
            CODEX,
            "runner.networkPolicy.inClusterServices",
            [{"podSelector": {"app": "x"}, "port": 70000}],
        ),
        False,
    ),
    (
        CODEX,
        "mode too wide",
        _edit(
            CODEX,
            "runner.secretMounts",
            [{"name": "s", "secretName": "s", "mountPath": "/s", "defaultMode": 0o1000}],
        ),
        False,
    ),
    (CODEX, "misspelt runner key", _edit(CODEX, "runner.replcias", 2), False),
    # A misspelt project prefix reads as another namespace; both refuse it now.
    (SHARED, "misspelt prefix", _edit(SHARED, "gh-runner-shard:namespace", "x"), False),
    (BOOT, "dev file", _dev(BOOT), True),
    (BOOT, "after stack init", _stack_init_rewrite(BOOT), True),
    (
        BOOT,
        "no gcp:project",
        {"config": {k: v for k, v in _dev(BOOT)["config"].items() if k != "gcp:project"}},
        False,
    ),
    (BOOT, "short soft delete", _edit(BOOT, "bucket.softDeleteRetentionDays", 5), False),
    (BOOT, "no bucket name", _edit(BOOT, "bucket", {"softDeleteRetentionDays": 30}), False),
    (BOOT, "secret account", _edit(BOOT, "automationServiceAccount", SECURE), False),
    (BOOT, "unknown cmek key", _edit(BOOT, "cmek.rotation", "1s"), False),
]


@pytest.mark.parametrize(
    ("project", "document", "accepted"),
    [pytest.param(p, d, a, id=f"{p}: {name}") for p, name, d, a in AGREED],
)
def test_schema_and_loader_agree(
    tmp_path: Path, project: str, document: dict[str, Any], accepted: bool
) -> None:
    assert _loader_accepts(tmp_path, project, document) is accepted
    assert (_errors(project, document) == []) is accepted


# Where they differ, on purpose or by what JSON Schema can say; each difference pinned here so a
# change on either side shows up. (schema accepts, loader accepts)
DIFFERENCES: list[tuple[str, str, dict[str, Any], bool, bool]] = [
    # Schema stricter: pydantic also takes the Python field names; only camelCase is documented.
    (CODEX, "snake_case key", _edit(CODEX, "runner.min_runner_version", "2.329.0"), False, True),
    # Loader stricter: a rule in a validator function, which JSON Schema does not see.
    (CODEX, "not a DNS label", _edit(CODEX, "runner.name", "Codex_Runner"), True, False),
    # Loader stricter: a rule across keys (configToml is required when enabled).
    (SHARED, "enabled, no TOML", _edit(SHARED, "codexConfig", {"enabled": True}), True, False),
]


@pytest.mark.parametrize(
    ("project", "document", "schema_accepts", "loader_accepts"),
    [pytest.param(p, d, s, ld, id=f"{p}: {name}") for p, name, d, s, ld in DIFFERENCES],
)
def test_known_differences_between_schema_and_loader(
    tmp_path: Path,
    project: str,
    document: dict[str, Any],
    schema_accepts: bool,
    loader_accepts: bool,
) -> None:
    assert (_errors(project, document) == []) is schema_accepts
    assert _loader_accepts(tmp_path, project, document) is loader_accepts
