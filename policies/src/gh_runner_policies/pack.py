"""The imperative shell: the pure rules as CrossGuard resource policies.

The engine hands each policy a resource's inputs wrapped in proxies that raise
``UnknownValueError`` on a value not known during preview. ``plain`` turns them back into plain
data with ``UNKNOWN`` in those places, so a rule checks everything it can and names the rest.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .rules import RULES, Rule
from .unknowns import UNKNOWN

PACK_NAME = "gh-runner"


class CannotCheckUntilApply(UnknownValueError):
    """Reported by the policy SDK as an advisory "can't run policy ... during preview: <why>";
    the violations found before it still count. At `pulumi up` the values are known and the
    policy runs in full."""

    def __init__(self, gaps: Iterable[str]) -> None:
        Exception.__init__(self)
        self.message = "; ".join(gaps)


def plain(value: Any) -> Any:
    """Resource inputs as plain dicts and lists, UNKNOWN where the engine cannot tell yet."""
    if isinstance(value, Mapping):
        return {key: _element(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_element(value, index) for index in range(len(value))]
    return value


def _element(container: Any, key: Any) -> Any:
    try:
        return plain(container[key])
    except UnknownValueError:
        return UNKNOWN


def _validation(rule: Rule) -> ResourceValidation:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        # Only Kubernetes objects: the provider resource and other clouds have no manifest.
        if not args.resource_type.startswith("kubernetes:"):
            return
        result = rule.check(plain(args.props))
        for message in result.violations:
            report_violation(message, None)
        if result.unknown:
            raise CannotCheckUntilApply(result.unknown)

    return validate


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            validate=_validation(rule),
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for rule in RULES
    ]


def unbuffered_stdout() -> None:
    """Make the pack's stdout unbuffered, as `python -u` would.

    The engine learns the pack's gRPC port from its first line of stdout, a pipe. pulumi_policy
    writes it to ``sys.stdout.buffer`` without flushing and then serves forever, so through a
    block-buffered pipe the port never arrives and the engine waits in vain; the language host
    starts the pack with a plain `python DIR ENGINE`.
    """
    raw = open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)  # noqa: SIM115 (lives as long as the process)
    sys.stdout = io.TextIOWrapper(raw, write_through=True)
