"""The operator's reference, ``docs/configuration.md``: one table per stack project, written out
from the JSON Schemas of ``schemas``, so the reference and the schemas cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runner_k8s.offline.schemas import (
    _SECURE_REF,
    CONTRACTS,
    _tidy,
    config_schema,
    contract,
    schema_path,
)

# --- the Markdown reference --------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    type: str
    default: str
    secret: str
    description: str


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


PATTERN_SHOWN_MAX = 60


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema, resolved; ``secure`` values left out. An object's
    own ``anyOf`` (codexConfig: disabled, or with its TOML) is a rule on its keys, not a choice
    of types."""
    if schema.get("$ref") != _SECURE_REF["$ref"]:
        schema = _resolve(schema, defs)
    options = [schema] if "properties" in schema else schema.get("anyOf", [schema])
    return [
        _resolve(o, defs)
        for o in options
        if o.get("type") != "null" and o.get("$ref") != _SECURE_REF["$ref"]
    ]


def _bounds(schema: dict[str, Any]) -> str:
    parts = []
    for word, sign in (("minimum", ">="), ("maximum", "<="), ("minLength", "length >=")):
        if word in schema:
            parts.append(f"{sign} {schema[word]}")
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item(s)")
    # A short pattern says something; a long one (a DNS name, an image reference) is a wall of
    # regex that the description says better in words.
    if "pattern" in schema and len(schema["pattern"]) <= PATTERN_SHOWN_MAX:
        parts.append(f"matching `{schema['pattern']}`")
    return ", ".join(parts)


def _type_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    texts = []
    for option in _options(schema, defs):
        if "enum" in option:
            texts.append(" | ".join(f"`{json.dumps(v)}`" for v in option["enum"]))
            continue
        if "const" in option:
            texts.append(f"`{json.dumps(option['const'])}`")
            continue
        kind = option.get("type", "any")
        if kind == "array":
            text = f"list of {_type_of(option.get('items', {}), defs)}"
        elif kind == "object" and "properties" in option:
            text = "object"
        elif kind == "object":
            values = option.get("additionalProperties")
            for pattern_values in option.get("patternProperties", {}).values():
                values = pattern_values
            text = f"map of {_type_of(values, defs)}" if isinstance(values, dict) else "map (any)"
            if "pattern" in option.get("propertyNames", {}):
                text += f", keys matching `{option['propertyNames'].get('pattern', '')}`"
            for pattern in option.get("patternProperties", {}):
                if len(pattern) <= PATTERN_SHOWN_MAX:
                    text += f", keys matching `{pattern}`"
        else:
            text = kind
        bounds = _bounds(option)
        texts.append(f"{text} ({bounds})" if bounds else text)
    if any(o.get("type") == "null" for o in schema.get("anyOf", [])):
        texts.append("null")
    return " or ".join(dict.fromkeys(texts)) or "any"


def _default(schema: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in schema:
        return ""
    value = schema["default"]
    if value is None:
        return "unset"
    text = json.dumps(value, separators=(", ", ": "))
    if len(text) > 60:
        return "see the keys below" if isinstance(value, dict) else "see description"
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(
    schema: dict[str, Any],
    defs: dict[str, Any],
    path: str,
    required: bool,
    secret: str,
    rows: list[Row],
) -> None:
    rows.append(
        Row(
            path,
            _type_of(schema, defs),
            _default(schema, required),
            secret,
            schema.get("description", "") or _resolve(schema, defs).get("description", ""),
        )
    )
    for option in _options(schema, defs):
        if option.get("type") == "array" and "items" in option:
            item = _resolve(option["items"], defs)
            if "properties" in item:
                _children(item, defs, f"{path}[]", rows, secret)
        elif "properties" in option:
            _children(option, defs, path, rows, secret)


def _children(
    schema: dict[str, Any], defs: dict[str, Any], path: str, rows: list[Row], secret: str
) -> None:
    needed = set(schema.get("required", []))
    for key, sub in schema["properties"].items():
        may_be_secret = any(o.get("$ref") == _SECURE_REF["$ref"] for o in sub.get("anyOf", []))
        _rows(
            sub, defs, f"{path}.{key}", key in needed, "may be" if may_be_secret else secret, rows
        )


def reference_rows(project: str) -> list[Row]:
    """Every key of ``project``'s stack file, depth first, as the reference lists it."""
    spec = contract(project)
    parts = config_schema(project)
    defs = parts["$defs"]
    model_schema = _tidy(spec.model.model_json_schema(by_alias=True, mode="validation"))
    needed = set(model_schema.get("required", []))
    rows: list[Row] = []
    for key, schema, is_required in spec.namespaced_keys:
        rows.append(
            Row(
                key,
                _type_of(schema, defs),
                _default(schema, is_required),
                "no",
                schema.get("description", ""),
            )
        )
    for key in model_schema["properties"]:
        schema = parts["config"]["properties"][key]
        if key in spec.secret_only:
            rows.append(
                Row(
                    key,
                    "secret (`{secure: ...}`)",
                    "unset",
                    "**only**",
                    schema.get("description", ""),
                )
            )
            continue
        _rows(schema, defs, key, key in needed, "no", rows)
    return rows


def reference_markdown() -> str:
    """``docs/configuration.md``."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by `uv run gh-runner reference > docs/configuration.md` from the config",
        "     models' field docstrings; do not edit by hand (a test fails while it is stale). -->",
        "",
        "Every key of every stack file, `Pulumi.<stack>.yaml`. Keys are written without the "
        "project prefix (`namespace`) or with it (`gh-runner-shared:namespace`); nested keys are "
        "set with `pulumi config set --path`, e.g. `pulumi config set --path runner.replicas 3`. "
        "`key[]` is each item of a list.",
        "",
        "**Secret** says whether a key may hold a Pulumi secret (`pulumi config set --secret`): "
        "`githubToken` must, the string options of `provider` may (a kubeconfig can carry "
        "credentials), every other key refuses one, since its value would land in plain text in "
        "a Deployment, a ConfigMap or the state. Keep other secrets in a Kubernetes Secret and "
        "mount it with `runner.secretMounts`.",
        "",
        "Each stack file is also described by a JSON Schema, `schemas/<project>.schema.json` "
        "(`uv run gh-runner schema PROJECT` prints it); the first line of every committed "
        "`Pulumi.dev.yaml` points editors with the YAML language server at it. The schema and "
        "the loader accept the same files, save for what a schema cannot say: rules across keys "
        "(unique volume names and mount paths, requests within limits, tolerations, an image "
        "new enough for `minRunnerVersion`...), TOML and CIDR parsing, and Kubernetes' own "
        "checks of `affinity` and `extraEgress`. Those are the loader's, reported by "
        "`uv run gh-runner render` and `pulumi preview`, every problem at once (the list, with "
        "each reason: `tests/test_contract.py`).",
        "",
        "Projects: " + ", ".join(f"[{c.project}](#{c.project})" for c in CONTRACTS) + ".",
        "",
    ]
    for spec in CONTRACTS:
        out += [
            f"## {spec.project}",
            "",
            f"`{spec.stack.directory}/Pulumi.<stack>.yaml`, schema "
            f"[`{schema_path(spec.project)}`](../{schema_path(spec.project)}). {spec.summary}",
            "",
            "| Key | Type | Default | Secret | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in reference_rows(spec.project):
            out.append(
                f"| `{row.key}` | {_cell(row.type)} | {_cell(row.default)} | {row.secret} | "
                f"{_cell(row.description)} |"
            )
        out.append("")
    return "\n".join(out)
