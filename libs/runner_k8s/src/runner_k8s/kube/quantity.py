"""Kubernetes resource quantities (``500m``, ``0.5``, ``1Gi``, ``1e3``) as exact decimals.

Written by hand rather than pulling in the whole ``kubernetes`` client for one function: the
grammar is small and fixed by the API (k8s.io/apimachinery/pkg/api/resource).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
# The grammar: a number, then a suffix or an exponent. Written in the common subset of Python's
# and ECMA-262's regular expressions, since the stack files' JSON Schema carries it too; ASCII
# digits only, as Go's parser reads them.
QUANTITY = (
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_QUANTITY = re.compile(QUANTITY)


def parse_quantity(value: object) -> Decimal:
    """Parse a quantity; raise ``ValueError`` when it is not one."""
    if isinstance(value, bool):
        raise ValueError("must be a Kubernetes quantity such as 500m, 0.5, 1Gi")
    text = str(value)
    match = _QUANTITY.fullmatch(text)
    if not match:
        raise ValueError(f"must be a Kubernetes quantity such as 500m, 0.5, 1Gi (got {text!r})")
    number_text, suffix = match.groups()
    try:
        number = Decimal(number_text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees a number
        raise ValueError(f"not a number: {text!r}") from exc
    if suffix and suffix not in _SUFFIXES:  # an exponent: e3, E-2
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix or ""]
