"""The config contract as written out: field descriptions, the generated reference, and the JSON
Schema of every stack file (whose agreement with the loader is tests/test_contract.py)."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator

import jsonschema
import pytest
import yaml
from pydantic import BaseModel
from stack_documents import REPO, SECURE, dev_file, schema_errors

from runner_k8s.cli import main
from runner_k8s.config.bootstrap import BootstrapSettings
from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.shared import SharedConfig
from runner_k8s.offline.reference import reference_markdown
from runner_k8s.offline.schemas import (
    PROJECTS,
    REFERENCE_FILE,
    schema_comment,
    schema_path,
    schema_text,
)
from runner_k8s.stacks import BOOTSTRAP_STACK, FLEET_STACKS, SHARED_STACK


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


@pytest.mark.parametrize("project", PROJECTS)
def test_dev_stack_file_names_and_passes_its_schema(project: str) -> None:
    path = dev_file(project)
    assert path.read_text().splitlines()[0] == schema_comment(project)
    assert schema_errors(project, yaml.safe_load(path.read_text())) == []


def test_a_misspelt_key_fails_the_schema() -> None:
    document = yaml.safe_load(dev_file("gh-runner-codex").read_text())
    document["config"]["runner"]["replcias"] = 3
    assert any("replcias" in e for e in schema_errors("gh-runner-codex", document))


def test_a_plaintext_github_token_fails_the_schema() -> None:
    document = yaml.safe_load(dev_file("gh-runner-shared").read_text())
    document["config"]["githubToken"] = "ghp_plaintext"
    assert schema_errors("gh-runner-shared", document)
    document["config"]["githubToken"] = SECURE
    assert schema_errors("gh-runner-shared", document) == []
