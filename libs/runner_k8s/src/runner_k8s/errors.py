"""One error type for bad stack config, with messages that name the full config key."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

T = TypeVar("T")


class ConfigError(Exception):
    """Bad stack configuration. ``str()`` is the operator-facing message, one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    @classmethod
    def at(cls, key: str, message: str) -> ConfigError:
        return cls([f"{key}: {message}"])


def key_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """``("runner", "pvcMounts", 0, "name")`` -> ``runner.pvcMounts[0].name``."""
    path = prefix
    for part in loc:
        if part == "[key]":  # pydantic's marker for a bad mapping key: the key is named already
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(stack config)"


def _message(error: Any) -> str:
    # pydantic's own wording talks about "Input"; operators think in terms of the value they set.
    # The input value itself is never echoed: it may be a secret.
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be an integer"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("list_type",):
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    message = str(error["msg"])
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message


def from_validation_error(exc: ValidationError, prefix: str = "") -> ConfigError:
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        line = f"{key_path(error['loc'], prefix)}: {_message(error)}"
        top = error["loc"][0] if len(error["loc"]) == 1 else None
        if error["type"] == "extra_forbidden" and isinstance(top, str) and "." in top:
            # `pulumi config set runner.replicas 3` without --path makes a top-level key.
            line += (
                f"; to set a nested value use `pulumi config set --path {top} VALUE` "
                f"(and `pulumi config rm {top}`)"
            )
        if line not in problems:
            problems.append(line)
    return ConfigError(problems)


def yaml_problem(exc: Exception) -> str:
    """PyYAML's message on one line (its own spans several): the problem and where it is."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        text = f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    else:
        text = str(exc)
    return " ".join(text.split())


def repeats(entries: Iterable[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """``(where, value)`` pairs -> ``(where, value, where it first stood)`` for every value seen
    before: the one rule behind "duplicate volume name", "the same object twice" and "two stacks
    render one object", each of which words its own message."""
    first: dict[str, str] = {}
    found = []
    for where, value in entries:
        if value in first:
            found.append((where, value, first[value]))
        else:
            first[value] = where
    return found


def or_run_error(load: Callable[[], T]) -> T:
    """Run ``load`` inside a Pulumi program; bad config becomes the engine's clean,
    traceback-free error."""
    try:
        return load()
    except ConfigError as exc:
        import pulumi  # only programs call this; the offline tools never import Pulumi

        raise pulumi.RunError(f"invalid stack config:\n{exc}") from None
