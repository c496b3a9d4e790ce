"""The field types of stack config and the base model every settings model derives from.

Each type checks one value the way Kubernetes (or GitHub, or TOML) would, so a bad value is
refused by the loader, naming its key, before any resource is registered. Where a rule is a
function, the type also carries the JSON Schema that says the same (``schema_only``), so the stack
files' schemas refuse what the loader refuses; what a schema cannot say is listed, with its
reason, in tests/test_contract.py.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import tomllib
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    WithJsonSchema,
)

from runner_k8s.kube.env_names import RESERVED_ENV
from runner_k8s.kube.images import parse_version
from runner_k8s.kube.names import (
    DNS_LABEL,
    DNS_LABEL_MAX,
    DNS_SUBDOMAIN,
    DNS_SUBDOMAIN_MAX,
    QUALIFIED_NAME_63,
    is_dns_label,
    is_dns_subdomain,
    label_value_problems,
    qualified_name_problems,
)
from runner_k8s.kube.quantity import QUANTITY, parse_quantity

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# A GitHub user or organisation login, and a repository under it.
_GITHUB_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})"
GITHUB_OWNER = re.compile(rf"^{_GITHUB_OWNER}$")
GITHUB_REPO = re.compile(rf"^{_GITHUB_OWNER}/[A-Za-z0-9._-]{{1,100}}$")
STACK_REF = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

# Integer ranges of the Kubernetes API: the API server refuses a larger int32, and silently
# wraps or clamps an int64 out of range (terminationGracePeriodSeconds: 2**64 became 1 second).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Linux user and group ids, as Kubernetes validates them (apimachinery IsValidUserID: 0..MaxInt32).
MAX_ID = INT32_MAX

# Container image references, from the grammar of github.com/distribution/reference
# (regexp.go): [host[:port]/]path[:tag][@digest], the path in lowercase components joined by
# '.', '_', '__' or dashes. The kubelet refuses anything else (InvalidImageName) only at pull.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_IMAGE_NAME = rf"(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII only
_IMAGE_REFERENCE = re.compile(
    rf"(?P<name>{_IMAGE_NAME})(?::{_TAG})?"
    # The digest is left to runner_checks._check_image, which wants sha256 and says so.
    r"(?:@.+)?",
    re.DOTALL,
)
IMAGE_NAME_MAX = 255  # distribution/reference NameTotalLengthMax
# What the loader takes in all (runner_checks._check_image): pinned by a tag other than latest, or
# by a sha256 digest.
_DIGEST = "sha256:[0-9a-f]{64}"
PINNED_IMAGE = rf"^{_IMAGE_NAME}(:{_TAG}(@{_DIGEST})?|@{_DIGEST})$"


def schema_only(**keywords: Any) -> Any:
    """The JSON Schema keywords that say what a validator function checks (schema only)."""
    return Field(json_schema_extra=keywords)


def _whole(pattern: str) -> str:
    """A JSON Schema pattern (unanchored, as JSON Schema reads one) for the whole value."""
    return f"^({pattern})$"


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
            "at most 253 characters)"
        )
    return value


def _config_key(value: str) -> str:
    if not _CONFIG_KEY.fullmatch(value) or len(value) > 253:
        raise ValueError(f"{value!r} is not a valid key (letters, digits, '-', '_' and '.')")
    return value


def _label_key(value: str) -> str:
    problems = qualified_name_problems(value)
    if problems:
        raise ValueError(f"{value!r} is not a valid label key: {'; '.join(problems)}")
    return value


def _annotation_key(value: str) -> str:
    # The API server checks annotation keys lowercased (ValidateAnnotations), so upper case in
    # the prefix is accepted there, unlike in a label key.
    problems = qualified_name_problems(value.lower())
    if problems:
        raise ValueError(f"{value!r} is not a valid annotation key: {'; '.join(problems)}")
    return value


def _label_value(value: str) -> str:
    problems = label_value_problems(value)
    if problems:
        raise ValueError(problems[0])
    return value


def _env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an environment variable name (letters, digits, '-', '.' and "
            "'_', not starting with a digit)"
        )
    if value in RESERVED_ENV:
        raise ValueError("is set by gh-runner itself; use the dedicated key")
    return value


# Resource names a container may request without a domain prefix (Kubernetes
# IsStandardContainerResourceName); any other name needs one, as extended resources have.
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def is_extended_resource(name: str) -> bool:
    """A resource with a domain prefix outside kubernetes.io, e.g. nvidia.com/gpu."""
    return "/" in name and "kubernetes.io/" not in name


def _resource_name(value: str) -> str:
    if "/" not in value:
        if value in STANDARD_CONTAINER_RESOURCES or value.startswith("hugepages-"):
            return value
        raise ValueError(
            f"{value!r} is not a container resource: use cpu, memory, ephemeral-storage, "
            "hugepages-<size>, or an extended resource with a domain prefix (nvidia.com/gpu)"
        )
    problems = qualified_name_problems(value)
    if problems or value.startswith("requests."):
        reason = "; ".join(problems) or "it must not start with 'requests.'"
        raise ValueError(f"{value!r} is not a valid resource name: {reason}")
    return value


def _relative_path(value: str) -> str:
    # The kubelet writes the file at this path inside the volume (Kubernetes
    # validateLocalDescendingPath): never absolute, never climbing out with '..'.
    if not value:
        raise ValueError("must not be empty")
    if value.startswith("/"):
        raise ValueError(f"{value!r} must be a relative path inside the volume")
    if ".." in value.split("/") or value.startswith(".."):
        raise ValueError(f"{value!r} must not contain a '..' element or start with '..'")
    return value


def _file_mode(value: object) -> object:
    if isinstance(value, str):
        # "0440" would be read as decimal 440 (0o670, group-writable) by anything lenient.
        raise ValueError(
            f"{value!r} must be an integer, not a string: write the decimal mode (288 for "
            "0o440) or an unquoted YAML octal (0440)"
        )
    return value


def normal_path(path: str) -> str:
    """A mount path as the kubelet sees it: `/a/b/` and `/a//b` are `/a/b`."""
    return posixpath.normpath(path)


def _absolute_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must be an absolute path")
    if ":" in value:
        raise ValueError(f"{value!r} must not contain ':'")
    return value


def _quantity(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("must be a Kubernetes quantity such as 500m, 0.5, 1Gi")
    text = str(value)
    # A number is checked as a number (-0.0 is zero); a text by its sign, so "-0" is refused
    # as the JSON Schema's pattern refuses it.
    if (value < 0 if not isinstance(value, str) else text.startswith("-")) or parse_quantity(
        text
    ) < 0:
        raise ValueError(f"{text!r} must not be negative")
    return text


def _image(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    match = _IMAGE_REFERENCE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"{value!r} is not an image reference [registry[:port]/]repository[:tag][@digest]: "
            "the repository path is lowercase letters, digits and '.', '_', '-' between them, "
            "the tag at most 128 of letters, digits, '_', '.', '-'"
        )
    if len(match["name"]) > IMAGE_NAME_MAX:
        raise ValueError(f"the image name must be at most {IMAGE_NAME_MAX} characters")
    return value


def _runner_label(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if "," in value:
        raise ValueError(f"{value!r} must not contain ',' (RUNNER_LABELS is comma-separated)")
    if re.search(r"\s", value):  # as the schema's pattern sees whitespace
        raise ValueError(f"{value!r} must not contain whitespace")
    return value


def _runner_version(value: str) -> str:
    if parse_version(value) is None:
        raise ValueError(f"{value!r} is not a runner version X.Y.Z, e.g. 2.329.0")
    return value


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a CIDR range such as 10.0.0.0/8 (no host bits, no leading zeros)"
        ) from None
    # Each range becomes an `except` of the internet rule's ipBlock 0.0.0.0/0, which the API
    # server wants strictly inside the cidr (networking validation ValidateIPBlock).
    if network.version != 4:
        raise ValueError(f"{value!r} must be an IPv4 range (it is cut out of 0.0.0.0/0)")
    if network.prefixlen == 0:
        raise ValueError(
            f"{value!r} is the internet rule's own cidr (0.0.0.0/0): the API server refuses an "
            "ipBlock except that is not strictly inside its cidr"
        )
    return value


def toml_document(value: str) -> str:
    try:
        tomllib.loads(value)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"is not valid TOML: {exc}") from None
    return value


# `self-hosted` in any case, without the inline flags ECMA-262 lacks.
_SELF_HOSTED = "^" + "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in "self-hosted") + "$"
# An IPv4 octet without leading zeros, and a prefix length of 1 to 32 (0 is refused above).
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_ADDRESS = rf"{_OCTET}(\.{_OCTET}){{3}}"
IPV4_RANGE = rf"{IPV4_ADDRESS}/([1-9]|[12][0-9]|3[0-2])"
_QUALIFIED_KEY = rf"({DNS_SUBDOMAIN}/)?{QUALIFIED_NAME_63}"
# The API server lowercases an annotation key before checking it.
_ANNOTATION_KEY = rf"({DNS_SUBDOMAIN.replace('a-z', 'a-zA-Z')}/)?{QUALIFIED_NAME_63}"
_RESOURCE_NAME = (
    rf"cpu|memory|ephemeral-storage|hugepages-[^/]*|{DNS_SUBDOMAIN}/{QUALIFIED_NAME_63}"
)

DnsLabel = Annotated[
    str,
    AfterValidator(_dns_label),
    schema_only(pattern=_whole(DNS_LABEL), maxLength=DNS_LABEL_MAX),
]
DnsSubdomain = Annotated[
    str,
    AfterValidator(_dns_subdomain),
    schema_only(pattern=_whole(DNS_SUBDOMAIN), maxLength=DNS_SUBDOMAIN_MAX),
]
DataKey = Annotated[
    str,
    AfterValidator(_config_key),
    schema_only(pattern=_whole(_CONFIG_KEY.pattern), maxLength=253),
]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path), schema_only(pattern="^/[^:]*$")]
# A Kubernetes quantity: text (`500m`, `1Gi`) or a YAML number (`cpu: 2`), never negative.
Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _whole(QUANTITY.replace("[+-]?", "[+]?", 1))},
                {"type": "number", "minimum": 0},
            ]
        }
    ),
]
Image = Annotated[
    str,
    AfterValidator(_image),
    # A tag other than latest, or a digest (runner_checks._check_image).
    schema_only(pattern=PINNED_IMAGE, **{"not": {"pattern": ":latest$"}}),
]
RunnerLabel = Annotated[
    str,
    AfterValidator(_runner_label),
    # GitHub gives every self-hosted runner that label itself (runner_checks._check_labels).
    schema_only(pattern=r"^[^,\s]+$", **{"not": {"pattern": _SELF_HOSTED}}),
]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr), schema_only(pattern=_whole(IPV4_RANGE))]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Int32 = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]  # non-negative
Int64 = Annotated[int, Field(strict=True, ge=-INT64_MAX - 1, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
UserId = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
FileMode = Annotated[int, Field(strict=True, ge=0, le=0o777), BeforeValidator(_file_mode)]
LabelKey = Annotated[str, AfterValidator(_label_key), schema_only(pattern=_whole(_QUALIFIED_KEY))]
LabelValue = Annotated[
    str, AfterValidator(_label_value), schema_only(pattern=f"^({QUALIFIED_NAME_63})?$")
]
AnnotationKey = Annotated[
    str, AfterValidator(_annotation_key), schema_only(pattern=_whole(_ANNOTATION_KEY))
]
ResourceName = Annotated[
    str,
    AfterValidator(_resource_name),
    schema_only(pattern=_whole(_RESOURCE_NAME), **{"not": {"pattern": "^requests\\."}}),
]
RelativePath = Annotated[
    str,
    AfterValidator(_relative_path),
    schema_only(minLength=1, **{"not": {"pattern": "^/|^\\.\\.|(^|/)\\.\\.(/|$)"}}),
]
RunnerVersionText = Annotated[
    str, AfterValidator(_runner_version), schema_only(pattern="^[0-9]+\\.[0-9]+\\.[0-9]+$")
]
TomlText = Annotated[str, AfterValidator(toml_document)]
# An env var's name: not one gh-runner sets itself.
EnvName = Annotated[
    str,
    AfterValidator(_env_name),
    schema_only(pattern=_whole(ENV_NAME.pattern), **{"not": {"enum": sorted(RESERVED_ENV)}}),
]
