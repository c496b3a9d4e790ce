"""The field types of stack config and the base model every settings model derives from.

Each type checks one value the way Kubernetes (or GitHub, or TOML) would, so a bad value is
refused by the loader, naming its key, before any resource is registered.
"""

from __future__ import annotations

import ipaddress
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

from .errors import ConfigError, from_validation_error
from .images import parse_version
from .quantity import parse_quantity

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
GITHUB_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
STACK_REF = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


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
    parse_quantity(text)
    return text


def _image(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} must not contain whitespace")
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
RunnerVersionText = Annotated[str, AfterValidator(_runner_version)]
TomlText = Annotated[str, AfterValidator(toml_document)]


class Model(BaseModel):
    """camelCase keys in config (as in Kubernetes), snake_case in Python; unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        # The docstring under each field is its description: the one source of the generated
        # reference (docs/configuration.md) and of the stack files' JSON Schemas.
        use_attribute_docstrings=True,
    )


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], values: Mapping[str, Any], earlier: Sequence[str] = ()) -> M:
    """``values`` as a ``model``; a failure raises every problem, ``earlier`` ones first."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        raise ConfigError([*earlier, *from_validation_error(exc).problems]) from None
