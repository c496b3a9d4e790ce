"""What the API server checks in a NetworkPolicy's egress rules beyond its OpenAPI schema: port
numbers and names, protocols, peers and their label selectors, and ipBlock CIDRs with their
``except`` ranges.

Ported from Kubernetes v1.34.4 (the release the cluster tier builds),
pkg/apis/networking/validation/validation.go: ValidateNetworkPolicyPort (:71-104),
ValidateNetworkPolicyPeer (:107-134), ValidateIPBlock (:246-275), so a rule the API server would
refuse at `pulumi up` is refused by the loader, naming the config key; tests/cluster/
test_network_policy_rules.py holds the two side by side. The OpenAPI schema (kube.schema) checks
the types; these functions look at well-typed values only, so a wrong type is reported once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from runner_k8s.kube.names import (
    DNS_SUBDOMAIN,
    QUALIFIED_NAME_63,
    label_value_problems,
    qualified_name_problems,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# ValidateNetworkPolicyPort (validation.go:73): anything else is NotSupported, case-sensitive.
PROTOCOLS = ("TCP", "UDP", "SCTP")
PORT_MIN, PORT_MAX = 1, 65535  # apimachinery IsValidPortNum
# apimachinery IsValidPortName (IANA_SVC_NAME): [-a-z0-9], at least one letter, at most 15,
# no '--', no '-' at either end.
_PORT_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?")
PORT_NAME_MAX = 15
_DECIMAL = re.compile(r"[0-9]+")


def _octets(text: str) -> bytes | None:
    """An IPv4 address as Kubernetes' ParseCIDRSloppy reads it: four decimal parts of at most 255,
    leading zeros allowed (Go refused them from 1.17 on; Kubernetes kept its own parser,
    k8s.io/utils net.ParseCIDRSloppy, for stored objects, and at 1.34 the strict check behind the
    StrictIPCIDRValidation gate is off by default)."""
    parts = text.split(".")
    if len(parts) != 4 or not all(_DECIMAL.fullmatch(p) for p in parts):
        return None
    values = [int(p) for p in parts]
    return bytes(values) if all(v <= 255 for v in values) else None


def parse_cidr(text: str) -> Network | None:
    """``text`` as Kubernetes parses an ipBlock CIDR (the network, host bits masked), or None.

    Python's ipaddress alone would differ: it takes an address with no '/' (as a /32), a netmask
    after the '/', an IPv6 zone ('%eth0'), and refuses leading zeros; Kubernetes does none of
    that."""
    address, slash, length = text.partition("/")
    if not slash or not _DECIMAL.fullmatch(length) or "%" in address:
        return None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    octets = _octets(address)
    try:
        if octets is not None:
            ip = ipaddress.IPv4Address(octets)
        else:
            head, colon, tail = address.rpartition(":")
            if colon and "." in tail:  # a trailing IPv4 part, read as sloppily as above
                tail_octets = _octets(tail)
                if tail_octets is None:
                    return None
                address = f"{head}:{ipaddress.IPv4Address(tail_octets)}"
            ip = ipaddress.IPv6Address(address)
        # An IPv6 group of more than 4 hex digits with leading zeros (00001::) Go takes and
        # ipaddress refuses; nobody writes one.
        return ipaddress.ip_network((ip, int(length)), strict=False)
    except ValueError:
        return None


def _is_strictly_inside(inner: Network, outer: Network) -> bool:
    # validation.go:268-272: cidr.Contains(except.IP) and a longer prefix; another IP family is
    # never inside.
    return (
        inner.version == outer.version
        and inner.subnet_of(outer)  # type: ignore[arg-type]
        and inner.prefixlen > outer.prefixlen
    )


def ip_block_problems(block: Mapping[str, Any], at: str) -> list[str]:
    """ValidateIPBlock (validation.go:246-275); ``at`` is the key of the ipBlock."""
    cidr_text = block.get("cidr")
    if not isinstance(cidr_text, str):
        return []  # missing or not a string: the schema says so
    if not cidr_text:
        return [f"{at}.cidr: is required"]
    cidr = parse_cidr(cidr_text)
    if cidr is None:
        # The excepts are not looked at when the cidr is unreadable (validation.go:253-257).
        return [f"{at}.cidr: {cidr_text!r} {_NOT_A_CIDR}"]
    problems = []
    excepts = block.get("except")
    for i, text in enumerate(excepts if isinstance(excepts, list) else []):
        if not isinstance(text, str):
            continue
        network = parse_cidr(text)
        if network is None:
            problems.append(f"{at}.except[{i}]: {text!r} {_NOT_A_CIDR}")
        elif not _is_strictly_inside(network, cidr):
            problems.append(f"{at}.except[{i}]: {text!r} {outside(cidr_text)}")
    return problems


_NOT_A_CIDR = "is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/64"


def outside(cidr: str) -> str:
    """Why an except range is refused, in the words of the API server's rule."""
    return (
        f"must lie strictly inside the ipBlock's cidr {cidr} (a smaller range of the same IP "
        "family, not the cidr itself): the API server refuses it"
    )


def port_problems(port: Mapping[str, Any], at: str) -> list[str]:
    """ValidateNetworkPolicyPort (validation.go:71-104); ``at`` is the key of the port entry."""
    problems = []
    protocol, number, end = port.get("protocol"), port.get("port"), port.get("endPort")
    if isinstance(protocol, str) and protocol not in PROTOCOLS:
        problems.append(f"{at}.protocol: {protocol!r} is not supported: use TCP, UDP or SCTP")
    if isinstance(end, bool) or not isinstance(end, int):
        end = None  # absent, or of the wrong type (reported by the schema)
    if isinstance(number, int) and not isinstance(number, bool):
        if not PORT_MIN <= number <= PORT_MAX:
            problems.append(f"{at}.port: must be between 1 and 65535")
        if end is not None and end < number:
            problems.append(f"{at}.endPort: must be greater than or equal to port ({number})")
        if end is not None and not PORT_MIN <= end <= PORT_MAX:
            problems.append(f"{at}.endPort: must be between 1 and 65535")
    elif isinstance(number, str):
        if end is not None:
            problems.append(f"{at}.endPort: not allowed with a named port ({number!r})")
        if len(number) > PORT_NAME_MAX or "--" in number or not _PORT_NAME.fullmatch(number):
            problems.append(
                f"{at}.port: {number!r} is neither a port number nor a port name (at most 15 of "
                "a-z, 0-9 and '-', with a letter, no '--', no '-' at either end); write a "
                "number unquoted"
            )
    elif number is None and end is not None:
        problems.append(f"{at}.endPort: not allowed without port")
    return problems


def label_key_problems(key: str) -> list[str]:
    problems = qualified_name_problems(key)
    return [f"{key!r} is not a valid label key: {'; '.join(problems)}"] if problems else []


def selector_problems(selector: Mapping[str, Any], at: str) -> list[str]:
    """ValidateLabelSelector (apimachinery pkg/apis/meta/v1/validation/validation.go:62-122)."""
    problems = []
    labels = selector.get("matchLabels")
    for key, value in labels.items() if isinstance(labels, Mapping) else ():
        problems += [f"{at}.matchLabels.{key}: {p}" for p in label_key_problems(key)]
        if isinstance(value, str):
            problems += [f"{at}.matchLabels.{key}: {p}" for p in label_value_problems(value)]
    expressions = selector.get("matchExpressions")
    for i, expression in enumerate(expressions if isinstance(expressions, list) else []):
        if not isinstance(expression, Mapping):
            continue
        here = f"{at}.matchExpressions[{i}]"
        operator, values = expression.get("operator"), expression.get("values") or []
        if operator in ("In", "NotIn") and not values:
            problems.append(f"{here}.values: required when operator is {operator}")
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append(f"{here}.values: must be empty when operator is {operator}")
        elif operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            problems.append(
                f"{here}.operator: {operator!r} is not In, NotIn, Exists or DoesNotExist"
            )
        key = expression.get("key")
        if isinstance(key, str):
            problems += [f"{here}.key: {p}" for p in label_key_problems(key)]
        for j, value in enumerate(values if isinstance(values, list) else []):
            if isinstance(value, str):
                problems += [f"{here}.values[{j}]: {p}" for p in label_value_problems(value)]
    return problems


def peer_problems(peer: Mapping[str, Any], at: str) -> list[str]:
    """ValidateNetworkPolicyPeer (validation.go:107-134); ``at`` is the key of the peer."""
    kinds = [k for k in ("podSelector", "namespaceSelector", "ipBlock") if peer.get(k) is not None]
    if not kinds:
        return [f"{at}: names no peer: set ipBlock, podSelector or namespaceSelector"]
    problems = []
    if "ipBlock" in kinds and len(kinds) > 1:
        others = " and ".join(k for k in kinds if k != "ipBlock")
        problems.append(
            f"{at}: ipBlock may not be combined with {others} in one peer; make them two peers"
        )
    for kind in ("podSelector", "namespaceSelector"):
        selector = peer.get(kind)
        if isinstance(selector, Mapping):
            problems += selector_problems(selector, f"{at}.{kind}")
    block = peer.get("ipBlock")
    if isinstance(block, Mapping):
        problems += ip_block_problems(block, f"{at}.ipBlock")
    return problems


def egress_rule_problems(rules: Sequence[Any], at: str) -> list[str]:
    """The API server's checks of ``rules`` (NetworkPolicyEgressRules); ``at`` is their key."""
    problems = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        for key, check in (("ports", port_problems), ("to", peer_problems)):
            entries = rule.get(key)
            for j, entry in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(entry, Mapping):
                    problems += check(entry, f"{at}[{i}].{key}[{j}]")
    return problems


# --- the same rules as JSON Schema, as far as a schema can say them ------------------------------
# For the stack files' schemas (config.runner.EgressRule): an editor then flags ICMP or port 0.
# CIDR syntax and "except strictly inside cidr" stay the loader's (tests/test_contract.py).

_LABEL_KEY = rf"^(({DNS_SUBDOMAIN})/)?{QUALIFIED_NAME_63}$"
_LABEL_VALUE = rf"^({QUALIFIED_NAME_63})?$"
_PORT_NUMBER = {"type": "integer", "minimum": PORT_MIN, "maximum": PORT_MAX}


def _selector(what: str) -> dict[str, Any]:
    return {
        "description": f"{what} by label; both parts must match.",
        "type": "object",
        "properties": {
            "matchLabels": {
                "description": "Label key to value, each required.",
                "type": "object",
                "patternProperties": {_LABEL_KEY: {"type": "string", "pattern": _LABEL_VALUE}},
                "additionalProperties": False,
            },
            "matchExpressions": {
                "description": "Requirements, each `{key, operator, values}`.",
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "key": {
                            "description": "A label key.",
                            "type": "string",
                            "pattern": _LABEL_KEY,
                        },
                        "operator": {
                            "description": "`In`/`NotIn` need `values`; `Exists`/`DoesNotExist` "
                            "take none.",
                            "enum": ["In", "NotIn", "Exists", "DoesNotExist"],
                        },
                        "values": {
                            "description": "Label values.",
                            "type": "array",
                            "items": {"type": "string", "pattern": _LABEL_VALUE},
                        },
                    },
                    "required": ["key", "operator"],
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }


PEER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "ipBlock": {
            "description": "An IP range; not together with a selector in one peer.",
            "type": "object",
            "properties": {
                "cidr": {
                    "description": "A CIDR range, `10.0.0.0/8` or `2001:db8::/32`.",
                    "type": "string",
                    "minLength": 1,
                },
                "except": {
                    "description": "CIDR ranges left out, each strictly inside `cidr` (a smaller "
                    "range of the same IP family, not `cidr` itself).",
                    "type": "array",
                    "items": {"type": "string"},
                },
            },
            "required": ["cidr"],
            "additionalProperties": False,
        },
        "podSelector": _selector(
            "Pods (of the namespaces `namespaceSelector` picks, else the runner's)"
        ),
        "namespaceSelector": _selector("Namespaces"),
    },
    "minProperties": 1,
    "additionalProperties": False,
}
PORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "protocol": {"description": "Unset: `TCP`.", "enum": list(PROTOCOLS)},
        "port": {
            "description": "A port number, or a container port's name.",
            "anyOf": [
                _PORT_NUMBER,
                {
                    "type": "string",
                    "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$",
                    "maxLength": PORT_NAME_MAX,
                    "not": {"pattern": "^[-0-9]*$"},  # a name has a letter
                },
            ],
        },
        "endPort": {
            **_PORT_NUMBER,
            "description": "The last port of a range from `port` (a number), at least `port`.",
        },
    },
    "additionalProperties": False,
}
