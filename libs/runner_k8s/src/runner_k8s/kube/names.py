"""Kubernetes names: DNS-1123 labels and subdomains, qualified names (label and annotation keys)
and label values, as k8s.io/apimachinery pkg/util/validation checks them.

Hand-written: pydantic has no Kubernetes types, and the kubernetes client (which has none either)
is far too heavy for a few regular expressions. Every pattern is matched whole (``fullmatch``):
Python's ``$`` would also match before a final newline, which Kubernetes refuses. The same
patterns go into the stack files' JSON Schemas, so they are written in the common subset of
Python's and ECMA-262's syntax.
"""

from __future__ import annotations

import re

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63

DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN = rf"{DNS_LABEL}(\.{DNS_LABEL})*"
# The name part of a qualified name, and a label value: alphanumeric at both ends.
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
# The same with its length in the pattern, for the JSON Schema (which cannot measure a part).
QUALIFIED_NAME_63 = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"

_DNS_LABEL = re.compile(DNS_LABEL)
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN)
_QUALIFIED_NAME = re.compile(QUALIFIED_NAME)


def is_dns_label(value: str) -> bool:
    return len(value) <= DNS_LABEL_MAX and _DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= DNS_SUBDOMAIN_MAX and _DNS_SUBDOMAIN.fullmatch(value) is not None


def qualified_name_problems(value: str) -> list[str]:
    """Why ``value`` is not a Kubernetes qualified name (label or annotation key): an optional
    DNS-1123 subdomain prefix and '/', then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    problems = []
    if slash and (not prefix or "/" in prefix):
        problems.append("may have at most one '/', after a non-empty DNS subdomain prefix")
    elif slash and not is_dns_subdomain(prefix):
        problems.append(f"prefix {prefix!r} is not a DNS-1123 subdomain (lowercase, '-', '.')")
    if len(name) > QUALIFIED_NAME_MAX or not _QUALIFIED_NAME.fullmatch(name):
        problems.append(
            f"name {name!r} must be 1 to 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return problems


def label_value_problems(value: str) -> list[str]:
    if value and (len(value) > LABEL_VALUE_MAX or not _QUALIFIED_NAME.fullmatch(value)):
        return [
            f"{value!r} is not a valid label value: empty, or at most 63 letters, digits, '-', "
            "'_' or '.', starting and ending with a letter or digit"
        ]
    return []
