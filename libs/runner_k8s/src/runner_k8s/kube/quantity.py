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
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|(?P<exp>[eE][+-]?\d+))?$"
)


def parse_quantity(value: object) -> Decimal:
    """Parse a quantity; raise ``ValueError`` when it is not one."""
    if isinstance(value, bool):
        raise ValueError("must be a Kubernetes quantity such as 500m, 0.5, 1Gi")
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"must be a Kubernetes quantity such as 500m, 0.5, 1Gi (got {text!r})")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees a number
        raise ValueError(f"not a number: {text!r}") from exc
    if match["exp"]:
        return number * Decimal(10) ** int(match["exp"][1:])
    return number * _SUFFIXES[match["suffix"] or ""]
