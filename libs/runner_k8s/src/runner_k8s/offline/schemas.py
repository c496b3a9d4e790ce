"""The config contract, written out from the settings models: a JSON Schema per stack project
(``schemas/<project>.schema.json``), which ``reference`` also turns into the operator's
reference (``docs/configuration.md``).

The field docstrings of the ``config`` models are the one source of every description;
pydantic turns the models into JSON Schema and this module only wraps that schema in the shape of
a whole ``Pulumi.<stack>.yaml``, the way ``stackfile`` reads one:

- each project key both bare (``namespace``) and prefixed (``gh-runner-shared:namespace``);
- ``{secure: ...}`` exactly where the loader accepts a secret: ``githubToken`` (and only as a
  secret) and the string options of ``provider`` (a kubeconfig can carry credentials);
- keys of another namespace only for the namespaces a stack can mean (``kubernetes:``/``pulumi:``
  for the Kubernetes stacks, ``gcp:``/``pulumi:`` with a required ``gcp:project`` for the
  bootstrap stack), so a misspelt project prefix is an unknown key rather than a silent no-op;
- the top-level keys Pulumi writes itself (``secretsprovider``, ``encryptedkey``,
  ``encryptionsalt``, ``environment``).

"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from runner_k8s.config.bootstrap import PROJECT_ID, PROJECT_KEY, BootstrapSettings
from runner_k8s.config.runner import RunnerStackConfig
from runner_k8s.config.shared import SharedConfig
from runner_k8s.stacks import BOOTSTRAP_STACK, FLEET_STACKS, SHARED_STACK, StackProject

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas"
REFERENCE_FILE = "docs/configuration.md"
SECURE_DEF = "SecureValue"
_SECURE_REF = {"$ref": f"#/$defs/{SECURE_DEF}"}
# The provider options a secret may hold: the loader hands a `secure:` value on as a marker
# string, which only a string option takes (a secret boolean is refused).
_PROVIDER_DEF = "ProviderConfig"


@dataclass(frozen=True)
class ProjectContract:
    """What one stack project's ``Pulumi.<stack>.yaml`` may hold."""

    stack: StackProject
    model: type[BaseModel]
    summary: str
    # Keys whose value must be a secret (plaintext refused).
    secret_only: tuple[str, ...] = ()
    # Whether `provider`'s string options may be secret.
    secret_provider: bool = False
    # Keys of other namespaces the program reads: {key: (JSON Schema, required)}.
    namespaced_keys: tuple[tuple[str, dict[str, Any], bool], ...] = ()

    @property
    def project(self) -> str:
        return self.stack.project


_GCP_PROJECT_SCHEMA = {
    "type": "string",
    "pattern": PROJECT_ID.pattern,
    "description": "The Google Cloud project of the bucket, the key rings and every IAM grant "
    "(`pulumi config set gcp:project PROJECT_ID`); also the pulumi-gcp provider's project.",
}

CONTRACTS: tuple[ProjectContract, ...] = (
    ProjectContract(
        SHARED_STACK,
        SharedConfig,
        "The namespace, the GitHub Secret wiring every runner reads, the codex ConfigMap and, "
        "with `githubToken`, the registration Secret.",
        secret_only=("githubToken",),
        secret_provider=True,
    ),
    *(
        ProjectContract(
            fleet,
            RunnerStackConfig,
            f"One fleet of runners ({fleet.short_name}): its Deployment and, when enabled, its "
            "egress NetworkPolicy.",
            secret_provider=True,
        )
        for fleet in FLEET_STACKS
    ),
    ProjectContract(
        BOOTSTRAP_STACK,
        BootstrapSettings,
        "The GCS state bucket and the Cloud KMS keys of every gh-runner stack.",
        namespaced_keys=((PROJECT_KEY, _GCP_PROJECT_SCHEMA, True),),
    ),
)
PROJECTS = tuple(c.project for c in CONTRACTS)


def contract(project: str) -> ProjectContract:
    for candidate in CONTRACTS:
        if candidate.project == project:
            return candidate
    raise KeyError(project)


# --- JSON Schema -------------------------------------------------------------------------------


def _tidy(node: Any) -> Any:
    """pydantic's schema, made fit for an editor: one-line descriptions, no generated titles, and
    a map whose keys follow a pattern refuses the keys that do not (pydantic leaves them open)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    tidy = {k: _tidy(v) for k, v in node.items() if k != "title"}
    if isinstance(tidy.get("description"), str):
        tidy["description"] = " ".join(tidy["description"].split())
    if "patternProperties" in tidy and "additionalProperties" not in tidy:
        tidy["additionalProperties"] = False
    if tidy.get("type") == "object" and "properties" not in tidy and "not" not in tidy:
        # A map whose keys are the operator's (env, nodeSelector...) would take `secure` as a
        # key; Pulumi reads `{secure: ...}` as a secret wherever it stands, and the loader
        # refuses a secret there, so the schema does too.
        tidy["not"] = _A_SECRET
    return tidy


_A_SECRET = {"required": ["secure"], "maxProperties": 1}


def _with_secure(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also takes a ``{secure: ...}`` value, when it takes a string."""
    options = schema.get("anyOf", [schema])
    if not any(option.get("type") == "string" for option in options):
        return schema
    described = {k: v for k, v in schema.items() if k not in ("anyOf", "type", "pattern")}
    return {**described, "anyOf": [*options, _SECURE_REF]}


SECURE_VALUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Pulumi secret: the ciphertext `pulumi config set --secret` writes.",
    "properties": {"secure": {"type": "string", "minLength": 1}},
    "required": ["secure"],
    "additionalProperties": False,
}


def _secure_only(description: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{SECURE_DEF}", "description": description}


def config_schema(project: str) -> dict[str, Any]:
    """The ``config:`` map of a stack file of ``project``, with its ``$defs``."""
    spec = contract(project)
    model_schema = _tidy(
        spec.model.model_json_schema(
            by_alias=True, mode="validation", ref_template="#/$defs/{model}"
        )
    )
    defs: dict[str, Any] = model_schema.pop("$defs", {})
    defs[SECURE_DEF] = SECURE_VALUE_SCHEMA
    keys: dict[str, Any] = dict(model_schema["properties"])
    for name, field in spec.model.model_fields.items():
        # pydantic leaves a default_factory's value out of the schema; editors should see it.
        key = field.alias or name
        if field.default_factory is not None and "default" not in keys[key]:
            keys[key] = {
                **keys[key],
                "default": to_jsonable_python(
                    field.get_default(call_default_factory=True, validated_data={})
                ),
            }
    for key in spec.secret_only:
        keys[key] = _secure_only(keys[key].get("description", ""))
    if spec.secret_provider and _PROVIDER_DEF in defs:
        provider = defs[_PROVIDER_DEF]
        provider["properties"] = {k: _with_secure(v) for k, v in provider["properties"].items()}

    properties: dict[str, Any] = {}
    for key, schema in keys.items():
        properties[key] = schema
        properties[f"{project}:{key}"] = schema
    # A required key may be written either way: one of the two spellings must be there. Both
    # at once are one key written twice, which the loader refuses.
    required: list[dict[str, Any]] = [
        {"anyOf": [{"required": [key]}, {"required": [f"{project}:{key}"]}]}
        for key in model_schema.get("required", [])
    ]
    required += [{"not": {"type": "object", "required": [key, f"{project}:{key}"]}} for key in keys]
    for key, schema, is_required in spec.namespaced_keys:
        properties[key] = schema
        if is_required:
            required.append({"required": [key]})
    namespaces = "|".join(spec.stack.other_namespaces)
    config: dict[str, Any] = {
        "type": "object",
        "description": f"Stack config of {project}: each key bare or as `{project}:KEY`.",
        "properties": properties,
        "patternProperties": {
            f"^({namespaces}):[^:]+$": {
                "description": "Config of another namespace (a provider's own settings). The "
                "Kubernetes stacks create an explicit provider configured by `provider`, so "
                "`kubernetes:` keys do not reach it."
            }
        },
        "additionalProperties": False,
    }
    if required:
        config["allOf"] = required
    return {"config": config, "$defs": defs}


def stack_file_schema(project: str) -> dict[str, Any]:
    """The JSON Schema of a whole ``Pulumi.<stack>.yaml`` of ``project``."""
    spec = contract(project)
    parts = config_schema(project)
    config = parts["config"]
    has_required = any("not" not in rule for rule in config.get("allOf", []))
    top: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"Pulumi.<stack>.yaml of {project}",
        "description": f"{spec.summary} Generated by `gh-runner schema {project}` from the "
        "config models; do not edit.",
        "type": "object",
        "properties": {
            "config": config if has_required else {**config, "type": ["object", "null"]},
            "secretsprovider": {
                "type": "string",
                "description": "Written by `pulumi stack init --secrets-provider` (e.g. "
                "`gcpkms://...`); absent for the passphrase provider.",
            },
            "encryptedkey": {
                "type": "string",
                "description": "Written by Pulumi: the data key, encrypted by a cloud secrets "
                "provider.",
            },
            "encryptionsalt": {
                "type": "string",
                "description": "Written by Pulumi for the passphrase secrets provider.",
            },
            "environment": {
                "description": "Pulumi ESC environments the stack imports (Pulumi Cloud only; "
                "the DIY backend has none).",
                "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
            },
        },
        "additionalProperties": False,
        "$defs": parts["$defs"],
    }
    if has_required:
        top["required"] = ["config"]
    return top


def schema_text(project: str) -> str:
    """The schema file's text, as committed under ``schemas/``."""
    return json.dumps(stack_file_schema(project), indent=2, ensure_ascii=False) + "\n"


def schema_path(project: str) -> str:
    return f"{SCHEMA_DIR}/{project}.schema.json"


def schema_comment(project: str) -> str:
    """The first line of a stack file in ``stacks/<dir>/``: editors with the YAML language
    server check and complete keys against the schema."""
    return f"# yaml-language-server: $schema=../../{schema_path(project)}"
