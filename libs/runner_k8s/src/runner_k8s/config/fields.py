"""The field types of stack config and the base model every settings model derives from.

Each type checks one value the way Kubernetes (or GitHub, or TOML) would, so a bad value is
refused by the loader, naming its key, before any resource is registered.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from runner_k8s.errors import ConfigError, from_validation_error
from runner_k8s.kube.images import parse_version
from runner_k8s.kube.quantity import parse_quantity

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
STACK_REF = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

# Integer ranges of the Kubernetes API: the API server refuses a larger int32, and silently
# wraps or clamps an int64 out of range (terminationGracePeriodSeconds: 2**64 became 1 second).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Linux user and group ids, as Kubernetes validates them (apimachinery IsValidUserID: 0..MaxInt32).
MAX_ID = INT32_MAX

# Label keys and values, from k8s.io/apimachinery pkg/api/validate/content/kube.go. Hand-written:
# pydantic has no Kubernetes types, and the kubernetes client (which has none either) is far too
# heavy for three regular expressions. Name part: at most 63, alphanumeric at both ends.
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE_MAX = 63

# Container image references, from the grammar of github.com/distribution/reference
# (regexp.go): [host[:port]/]path[:tag][@digest], the path in lowercase components joined by
# '.', '_', '__' or dashes. The kubelet refuses anything else (InvalidImageName) only at pull.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_IMAGE_NAME = rf"(?:{_HOST}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_IMAGE_REFERENCE = re.compile(
    rf"^(?P<name>{_IMAGE_NAME})(?::[\w][\w.-]{{0,127}})?"
    # The digest is left to config._check_image, which wants sha256 and says so.
    r"(?:@.+)?$",
    re.ASCII,  # Go's \w is ASCII only
)
IMAGE_NAME_MAX = 255  # distribution/reference NameTotalLengthMax


def _dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
            "at most 253 characters)"
        )
    return value


def _config_key(value: str) -> str:
    if not _CONFIG_KEY.match(value) or len(value) > 253:
        raise ValueError(f"{value!r} is not a valid key (letters, digits, '-', '_' and '.')")
    return value


def qualified_name_problems(value: str) -> list[str]:
    """Why ``value`` is not a Kubernetes qualified name (label or annotation key): an optional
    DNS-1123 subdomain prefix and '/', then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    problems = []
    if slash and (not prefix or "/" in prefix):
        problems.append("may have at most one '/', after a non-empty DNS subdomain prefix")
    elif slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        problems.append(f"prefix {prefix!r} is not a DNS-1123 subdomain (lowercase, '-', '.')")
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        problems.append(
            f"name {name!r} must be 1 to 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return problems


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
    if value and (len(value) > LABEL_VALUE_MAX or not _QUALIFIED_NAME.match(value)):
        raise ValueError(
            f"{value!r} is not a valid label value: empty, or at most 63 letters, digits, '-', "
            "'_' or '.', starting and ending with a letter or digit"
        )
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
    if parse_quantity(text) < 0:
        raise ValueError(f"{text!r} must not be negative")
    return text


def _image(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    match = _IMAGE_REFERENCE.match(value)
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
    if any(c.isspace() for c in value):
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
        raise ValueError(f"{value!r} is not a CIDR range such as 10.0.0.0/8") from None
    if network.version != 4:
        # It is cut out of 0.0.0.0/0, and an ipBlock's except must lie inside its cidr.
        raise ValueError(f"{value!r} must be an IPv4 range")
    return value


def toml_document(value: str) -> str:
    try:
        tomllib.loads(value)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"is not valid TOML: {exc}") from None
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
DataKey = Annotated[str, AfterValidator(_config_key)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
# The input type tells the JSON Schema what YAML may hold (`cpu: 2` as well as `cpu: "2"`).
Quantity = Annotated[str, BeforeValidator(_quantity, json_schema_input_type=str | int | float)]
Image = Annotated[str, AfterValidator(_image)]
RunnerLabel = Annotated[str, AfterValidator(_runner_label)]
Ipv4Cidr = Annotated[str, AfterValidator(_ipv4_cidr)]
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Int32 = Annotated[int, Field(strict=True, ge=0, le=INT32_MAX)]  # non-negative
Int64 = Annotated[int, Field(strict=True, ge=-INT64_MAX - 1, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)]
UserId = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]
FileMode = Annotated[int, Field(strict=True, ge=0, le=0o777), BeforeValidator(_file_mode)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]
ResourceName = Annotated[str, AfterValidator(_resource_name)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
RunnerVersionText = Annotated[str, AfterValidator(_runner_version)]
TomlText = Annotated[str, AfterValidator(toml_document)]


class Model(BaseModel):
    """camelCase keys in config (as in Kubernetes), snake_case in Python; unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


def describe_fields() -> None:
    """Make the docstring under each field its description (the one source of the generated
    reference, docs/configuration.md, and of the stack files' JSON Schemas), for the models built
    from now on: call it before any config model is imported.

    Off by default: reading every model's source for its docstrings is a tenth of `gh-runner
    render`'s start-up, and only `schema`, `reference` and the tests print descriptions."""
    if Model.model_config.get("use_attribute_docstrings"):
        return
    built = Model.__subclasses__()
    if built:
        raise RuntimeError(
            f"config models already built without descriptions ({built[0].__name__}); "
            "call describe_fields() before importing them"
        )
    Model.model_config["use_attribute_docstrings"] = True


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], values: Mapping[str, Any], earlier: Sequence[str] = ()) -> M:
    """``values`` as a ``model``; a failure raises every problem, ``earlier`` ones first."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError([*earlier, *from_validation_error(exc).problems]) from None


def misplaced_secrets(secret_keys: set[str], allowed: set[str]) -> list[str]:
    """Secret config under a key whose value lands in a plain Kubernetes field (env, ConfigMap)
    would be decrypted into the cluster and the state: refuse it. ``provider`` may be secret, since
    a kubeconfig can carry credentials."""
    return [
        f"{key}: holds a secret value, which would be written into the cluster in plain text; "
        "keep secrets in a Kubernetes Secret instead (runner.secretMounts, or "
        "runner.env.NAME: {secretKeyRef: {name, key}})"
        for key in sorted(secret_keys)
        # A key may be a path (runner.env.FOO) when the stack file says where the secret is.
        if re.split(r"[.\[]", key, maxsplit=1)[0] not in allowed | {"provider"}
    ]
