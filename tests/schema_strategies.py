"""Hypothesis strategies that draw documents valid against one of our JSON Schemas, and edits of
them: the generator behind the schema/loader agreement properties (tests/test_contract.py).

Our own rather than hypothesis-jsonschema: that library calls hypothesis internals that newer
hypothesis releases removed, and it needed 40 s for 20 stack files. The schemas are ours and
use a small set of keywords, each handled here; a keyword this module does not know fails the
test (a schema change must not silently narrow what is drawn).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
from hypothesis import strategies as st

# Keywords that do not constrain a value.
_ANNOTATIONS = frozenset({"description", "default", "title", "$schema", "examples"})
_HANDLED = _ANNOTATIONS | {
    "$ref",
    "$defs",
    "anyOf",
    "allOf",
    "not",
    "enum",
    "const",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",  # above what is drawn (MAX_ITEMS keys at most)
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "items",
}
# Sizes stay small: a stack file is a handful of keys, and every example is loaded for real.
MAX_ITEMS = 3
MAX_TEXT = 12

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**33), 2**33)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=MAX_TEXT)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=MAX_ITEMS)
        | st.dictionaries(st.text(max_size=8), inner, max_size=MAX_ITEMS)
    ),
    max_leaves=8,
)


def documents(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Documents valid against ``schema`` (a whole schema with its ``$defs``)."""
    return _from(schema, schema)


# Strategies built once per (sub)schema: building one (a regex's above all) costs far more
# than drawing from it, and the same definitions recur throughout a stack file.
_BUILT: dict[tuple[str, int], st.SearchStrategy[Any]] = {}


def _from(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    key = (json.dumps(schema, sort_keys=True), id(root))
    if key not in _BUILT:
        _BUILT[key] = _build(schema, root)
    return _BUILT[key]


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Both schemas at once, for the shapes ours use: properties and required add up."""
    merged = {**a, **b}
    if "properties" in a and "properties" in b:
        merged["properties"] = {**a["properties"], **b["properties"]}
    if "required" in a and "required" in b:
        merged["required"] = sorted({*a["required"], *b["required"]})
    return merged


def _build(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    unknown = set(schema) - _HANDLED
    if unknown:
        raise NotImplementedError(f"schema keywords this generator does not know: {unknown}")
    if "$ref" in schema:
        target = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
        here = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
        return _from(_merge(target, here), root)
    if "not" in schema:
        # What `not` excludes is rare among what the rest allows: drawn, then filtered.
        refused = jsonschema.Draft202012Validator({**schema["not"], "$defs": root.get("$defs", {})})
        here = {k: v for k, v in schema.items() if k != "not"}
        return _from(here, root).filter(lambda value: not refused.is_valid(value))
    if "anyOf" in schema:
        here = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([_from(_merge(here, option), root) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_from({**schema, "type": k}, root) for k in kind])
    if kind is None:
        return JSON_VALUES
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**63)), schema.get("maximum", 2**63 - 1))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(low, high) | st.floats(low, high, allow_nan=False, allow_infinity=False)
    if kind == "string":
        return _string(schema)
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            _from(schema.get("items", {}), root),
            min_size=low,
            max_size=schema.get("maxItems", max(MAX_ITEMS, low)),
        )
    if kind == "object":
        return _object(schema, root)
    raise NotImplementedError(f"type {kind!r}")


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if "pattern" not in schema:
        return st.text(min_size=low, max_size=max(low, high or MAX_TEXT))
    # fullmatch: JSON Schema (ECMA-262) reads `^...$` as the whole string; Python's `$` also
    # matches before a final newline, which hypothesis would otherwise draw.
    drawn = st.from_regex(schema["pattern"].removeprefix("^").removesuffix("$"), fullmatch=True)
    return drawn.filter(lambda s: low <= len(s) <= (high if high is not None else len(s)))


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    # allOf holds what a plain `required` cannot say of the config map: a required key written
    # bare or prefixed ({anyOf: [{required: [k]}, {required: [p:k]}]}), never both
    # ({not: {type: object, required: [k, p:k]}}).
    one_of_each: list[list[str]] = []
    never_together: list[set[str]] = []
    for item in schema.get("allOf", []):
        if set(item) == {"anyOf"} and all(set(o) == {"required"} for o in item["anyOf"]):
            one_of_each.append([o["required"][0] for o in item["anyOf"]])
        elif set(item) == {"not"} and set(item["not"]) <= {"type", "required"}:
            never_together.append(set(item["not"]["required"]))
        elif set(item) == {"required"}:
            required |= set(item["required"])
        else:
            raise NotImplementedError(f"allOf item {item}")
    extra = schema.get("additionalProperties", True)
    low = schema.get("minProperties", 0)
    values = {key: _from(sub, root) for key, sub in properties.items()}
    patterned = [
        (
            st.from_regex(pattern.removeprefix("^").removesuffix("$"), fullmatch=True),
            _from(sub, root),
        )
        for pattern, sub in schema.get("patternProperties", {}).items()
    ]
    extra_keys = _string({"type": "string", **schema.get("propertyNames", {})})
    extra_values = _from(extra, root) if isinstance(extra, dict) else None

    @st.composite
    def draw_object(draw: st.DrawFn) -> dict[str, Any]:
        chosen = set(required) | {draw(st.sampled_from(group)) for group in one_of_each}
        for key in properties:
            clashes = any(key in pair and chosen & (pair - {key}) for pair in never_together)
            if key not in chosen and not clashes and draw(st.booleans()):
                chosen.add(key)
        left = sorted(k for k in properties if k not in chosen)
        while len(chosen) < low and left:  # minProperties, from the named keys first
            chosen.add(left.pop(draw(st.integers(0, len(left) - 1))))
        out = {key: draw(values[key]) for key in sorted(chosen)}
        for keys, value in patterned:
            more = max(0, low - len(out))
            for key in draw(st.lists(keys, min_size=more, max_size=max(2, more), unique=True)):
                if key not in properties:
                    out[key] = draw(value)
        if extra_values is not None:
            more = max(0, low - len(out))
            for key in draw(
                st.lists(extra_keys, min_size=more, max_size=max(2, more), unique=True)
            ):
                out.setdefault(key, draw(extra_values))
        return out

    return draw_object()


# --- edits -------------------------------------------------------------------------------------

# Values an operator might put anywhere by mistake, besides arbitrary JSON.
SUSPECT_VALUES = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        2**31,
        2**63,
        1.5,
        "",
        "x",
        "Upper Case",
        "10.0.0.0/8",
        "0.0.0.0/0",
        "/abs/path",
        "0440",
        [],
        {},
        {"secure": "v1:Zm9v:YmFy"},
    ]
)


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*at, i))
    return found


@st.composite
def edited(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one thing changed: a value replaced, a key removed, or a key added."""
    result = copy.deepcopy(document)
    paths = [p for p in _paths(result) if p]  # never the whole document
    if not paths:
        return result
    path = draw(st.sampled_from(paths))
    parent = result
    for part in path[:-1]:
        parent = parent[part]
    how = draw(st.sampled_from(["replace", "remove", "add"]))
    if how == "replace":
        parent[path[-1]] = draw(SUSPECT_VALUES | JSON_VALUES)
    elif how == "remove" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(st.sampled_from(["zz", "name", "secure", "kubernetes:x"]))] = draw(
            SUSPECT_VALUES
        )
    else:
        parent.append(draw(SUSPECT_VALUES | JSON_VALUES))
    return result
