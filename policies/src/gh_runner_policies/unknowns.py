"""Walking a Kubernetes object whose values may not be known yet.

During `pulumi preview` an input that comes from another resource's output (a StackReference, a
computed name) is unknown. The policy shell turns such a value into ``UNKNOWN``; a rule that
reads it through a ``Field`` gets ``NotYetKnown`` naming the field path, so it can say what it
could not check instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Unknown(Enum):
    """A value the engine only knows at apply time."""

    VALUE = "<unknown until apply>"


UNKNOWN = Unknown.VALUE


class NotYetKnown(Exception):
    """Raised by Field.known() on a value the engine cannot tell during preview."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass(frozen=True)
class Field:
    """A value inside an object, with the path that leads to it (``spec.template.spec``)."""

    value: Any
    path: str

    def known(self) -> Any:
        """The value (None when absent), or NotYetKnown when the engine cannot tell yet."""
        if self.value is UNKNOWN:
            raise NotYetKnown(self.path)
        return self.value

    def __getitem__(self, key: str) -> Field:
        value = self.known()
        child = value.get(key) if isinstance(value, Mapping) else None
        return Field(child, f"{self.path}.{key}" if self.path else key)

    def at(self, dotted: str) -> Field:
        field = self
        for key in dotted.split("."):
            field = field[key]
        return field

    def items(self) -> list[Field]:
        """The elements of a list (none when absent)."""
        value = self.known()
        if not isinstance(value, list):
            return []
        return [Field(element, f"{self.path}[{i}]") for i, element in enumerate(value)]

    def entries(self) -> Iterator[tuple[str, Field]]:
        """The keys and values of a mapping (none when absent)."""
        value = self.known()
        if isinstance(value, Mapping):
            for key, child in value.items():
                yield key, Field(child, f"{self.path}.{key}" if self.path else key)

    def peek(self, key: str) -> Any:
        """A child's value for a label in a message: never raises, whatever is unknown."""
        value = self.value
        child = value.get(key) if isinstance(value, Mapping) else None
        return "?" if child is UNKNOWN or child is None else child


def root(obj: Mapping[str, Any]) -> Field:
    return Field(obj, "")
