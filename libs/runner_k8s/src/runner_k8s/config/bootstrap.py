"""The bootstrap stack's settings (the GCS state bucket, its KMS keys, who may use them), each
value checked, and their loader.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from runner_k8s.config.fields import IPV4_ADDRESS, schema_only
from runner_k8s.config.model import Model, misplaced_secrets, parse_partly
from runner_k8s.errors import ConfigError

PROJECT_KEY = "gcp:project"

ONE_DAY_SECONDS = 86_400
# Cloud KMS refuses a rotation period over 876,000 hours (100 years of 365 days).
MAX_ROTATION_SECONDS = 876_000 * 3_600
OBJECT_ADMIN = "roles/storage.objectAdmin"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

# GCS multi-regions and the Cloud KMS location a key protecting them must be in. Every other
# location (regions, dual-regions) is spelt the same in both services, in lowercase for KMS.
_KMS_MULTI_REGIONS = {"us": "us", "eu": "europe", "asia": "asia"}

PROJECT_ID = re.compile(r"^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$")
_LOCATION = re.compile(r"^[A-Za-z]+[0-9]*(-[A-Za-z]+[0-9]+)?$")
_BUCKET_CHARS = re.compile(r"^[a-z0-9._-]+$")
_GOOGLE = re.compile(r"g[o0][o0]gle")
_KMS_ID = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
_ROTATION = re.compile(r"^[0-9]+(\.[0-9]{1,9})?s$")
_SERVICE_ACCOUNT = re.compile(r"^[a-z0-9][-a-z0-9_.]*@[a-z0-9][-a-z0-9.]*\.gserviceaccount\.com$")
_LABEL_KEY = re.compile(r"^[a-z][-_a-z0-9]{0,62}$")
_LABEL_VALUE = re.compile(r"^[-_a-z0-9]{0,63}$")


# --- single values -----------------------------------------------------------------------------


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` breaks the Cloud Storage bucket naming rules, or None when it does not."""
    what = f"{name!r} is not a valid Cloud Storage bucket name"
    if not _BUCKET_CHARS.fullmatch(name):
        return f"{what}: use only lowercase letters, digits, '-', '_' and '.'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return f"{what}: it must start and end with a letter or digit"
    if "." in name:
        if len(name) > 222 or any(not 1 <= len(part) <= 63 for part in name.split(".")):
            return (
                f"{what}: a dotted name is at most 222 characters and each dot-separated "
                "part 1 to 63 characters"
            )
    elif len(name) > 63:
        return f"{what}: it must be at most 63 characters (222 with dots)"
    if len(name) < 3:
        return f"{what}: it must be at least 3 characters"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return f"{what}: it must not be an IP address"
    if name.startswith("goog"):
        return f"{what}: it must not start with 'goog'"
    if _GOOGLE.search(name):
        return f"{what}: it must not contain 'google' or a look-alike"
    return None


def _bucket_name(value: str) -> str:
    problem = bucket_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _location(value: str) -> str:
    if not _LOCATION.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Cloud Storage location (a region such as europe-west1, "
            "a dual-region such as EUR4 or a multi-region such as EU)"
        )
    return value


def _kms_id(value: str) -> str:
    if not _KMS_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Cloud KMS name (1 to 63 letters, digits, '-' and '_')"
        )
    return value


def rotation_seconds(period: str) -> Decimal:
    """``"7776000s"`` -> 7776000: the Cloud KMS duration format, seconds with an ``s`` suffix."""
    if not _ROTATION.fullmatch(period):
        raise ValueError(
            f"{period!r} is not a Cloud KMS duration: write seconds followed by 's', "
            "e.g. 7776000s for 90 days"
        )
    return Decimal(period[:-1])


def _rotation_period(value: str) -> str:
    if rotation_seconds(value) < ONE_DAY_SECONDS:
        raise ValueError(
            f"{value!r} is shorter than one day; Cloud KMS rotates at most daily "
            f"(use {ONE_DAY_SECONDS}s or more)"
        )
    if rotation_seconds(value) > MAX_ROTATION_SECONDS:
        raise ValueError(
            f"{value!r} is over Cloud KMS's 100-year cap (at most {MAX_ROTATION_SECONDS}s)"
        )
    return value


def _service_account(value: str) -> str:
    if value.startswith("serviceAccount:"):
        raise ValueError("give the e-mail address only, without the 'serviceAccount:' prefix")
    if not _SERVICE_ACCOUNT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a service account e-mail (NAME@PROJECT_ID.iam.gserviceaccount.com)"
        )
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    if len(value) > 64:
        raise ValueError("at most 64 labels")
    for key, text in value.items():
        if not _LABEL_KEY.fullmatch(key):
            raise ValueError(
                f"label key {key!r}: 1 to 63 lowercase letters, digits, '-' and '_', "
                "starting with a letter"
            )
        if not _LABEL_VALUE.fullmatch(text):
            raise ValueError(
                f"label {key!r}: the value may hold up to 63 lowercase letters, digits, '-' and '_'"
            )
    return value


def project_problem(project: object) -> str | None:
    """Why ``gcp:project`` is unusable, or None."""
    if project is None or project == "":
        return "is required; set it with `pulumi config set gcp:project <project-id>`"
    if not isinstance(project, str) or not PROJECT_ID.fullmatch(project):
        return (
            f"{project!r} is not a Google Cloud project id (6 to 30 lowercase letters, digits "
            "and '-', starting with a letter)"
        )
    return None


# Each type with the JSON Schema that says what its function checks (fields.schema_only); what a
# schema cannot say (a rotation period's range) is listed in tests/test_contract.py.
BucketName = Annotated[
    str,
    AfterValidator(_bucket_name),
    schema_only(
        pattern="^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$",
        minLength=3,
        maxLength=222,
        **{
            "not": {
                "anyOf": [
                    {"pattern": "^goog|g[o0][o0]gle"},
                    {"pattern": "[^.]{64}|\\.\\."},  # each dot-separated part 1 to 63
                    {"pattern": f"^{IPV4_ADDRESS}$"},
                ]
            }
        },
    ),
]
Location = Annotated[str, AfterValidator(_location), schema_only(pattern=_LOCATION.pattern)]
KmsId = Annotated[str, AfterValidator(_kms_id), schema_only(pattern=_KMS_ID.pattern)]
RotationPeriod = Annotated[
    str, AfterValidator(_rotation_period), schema_only(pattern=_ROTATION.pattern)
]
ServiceAccount = Annotated[
    str, AfterValidator(_service_account), schema_only(pattern=_SERVICE_ACCOUNT.pattern)
]
Labels = Annotated[
    dict[str, str],
    AfterValidator(_labels),
    schema_only(
        propertyNames={"pattern": _LABEL_KEY.pattern},
        additionalProperties={"type": "string", "pattern": _LABEL_VALUE.pattern},
        maxProperties=64,
    ),
]


# --- the config --------------------------------------------------------------------------------


class NoncurrentVersions(Model):
    """A noncurrent (overwritten) state version is deleted once EITHER limit is reached."""

    # ...it has this many newer versions (the live one included). Counted in writes, not updates:
    # an `up` writes its stack file after every step, up to 14 times for these stacks (measured,
    # tests/retention.py), so 300 keeps the state from before each of the last 10 updates with
    # room for a stack twice that size (tests/test_bootstrap_retention.py).
    newer_versions: Annotated[int, Field(strict=True, ge=1)] = 300
    """Delete a noncurrent state version once it has this many newer versions, the live one included
    (lifecycle `numNewerVersions`); at least 1. Each `pulumi up` writes several versions of its
    stack file (one per step), so this counts writes, not updates.
    """
    # ...it has been noncurrent for this many days.
    days: Annotated[int, Field(strict=True, ge=1)] = 30
    """...or once it has been noncurrent this many days (lifecycle `daysSinceNoncurrentTime`); at
    least 1.
    """


class BucketSettings(Model):
    name: BucketName
    """The state bucket's globally unique name; checked against the Cloud Storage naming rules and
    fixed for good (a new name replaces the bucket).
    """
    # Cloud Storage keeps deleted objects restorable for 7 to 90 days; 0 (off) is refused here.
    soft_delete_retention_days: Annotated[int, Field(strict=True, ge=7, le=90)] = 30
    """Days a deleted or replaced object stays restorable (`softDeletePolicy`), 7 to 90."""
    noncurrent_versions: NoncurrentVersions = NoncurrentVersions()
    """When an overwritten state version is deleted: once EITHER limit is reached (two lifecycle
    rules).
    """


class KmsSettings(Model):
    # Unset: the KMS location of the bucket's location. Set: it must be that very location.
    location: Location | None = None
    """Cloud KMS location of both key rings; unset: the bucket's location as Cloud KMS names it (EU
    -> europe, US -> us, ASIA -> asia). Anything else is refused.
    """
    # Both keys; Cloud KMS takes seconds with an 's' suffix and at least one day.
    rotation_period: RotationPeriod = "7776000s"
    """`rotationPeriod` of both keys: seconds with an `s`, at least `86400s` (default 90 days)."""


class CmekSettings(Model):
    enabled: bool = True
    """Encrypt the bucket with its own KMS key (CMEK); `false`: Google-managed encryption, no CMEK
    key ring or key.
    """
    key_ring: KmsId = "gh-runner-state"
    """Name of the key ring made for the CMEK key; must differ from `secrets.keyRing`."""
    key: KmsId = "gh-runner-state"
    """Name of the bucket's default KMS key."""


class SecretsKeySettings(Model):
    key_ring: KmsId = "gh-runner-secrets"
    """Name of the key ring made for the secrets key."""
    key: KmsId = "gh-runner-secrets"
    """Name of the key every gh-runner stack encrypts its secret config with (`gcpkms://` secrets
    provider).
    """


class BootstrapSettings(Model):
    """The keys of ``Pulumi.<stack>.yaml`` in this project's namespace."""

    location: Location
    """Cloud Storage location of the bucket: a region (`europe-west1`), a dual-region (`EUR4`) or a
    multi-region (`EU`, `US`, `ASIA`).
    """
    bucket: BucketSettings
    """The state bucket: versioning, uniform bucket-level access and public access prevention always
    on, `force_destroy` off, protected against deletion.
    """
    kms: KmsSettings = KmsSettings()
    """Cloud KMS settings shared by both keys."""
    cmek: CmekSettings = CmekSettings()
    """Customer-managed encryption of the bucket."""
    secrets: SecretsKeySettings = SecretsKeySettings()
    """The key ring and key of the gh-runner stacks' secrets provider."""
    automation_service_account: ServiceAccount
    """E-mail (no `serviceAccount:` prefix) of the one identity meant to run `pulumi up` on the
    gh-runner stacks: gets objectAdmin on the bucket and encrypter/decrypter on both keys.
    """
    labels: Labels = Field(default_factory=lambda: {"app": "gh-runner", "managed-by": "pulumi"})
    """Labels on the bucket and both keys: lowercase keys and values of at most 63 characters, at
    most 64 labels.
    """


class BootstrapConfig(BootstrapSettings):
    """The settings plus ``gcp:project``, the project every resource of the stack lives in."""

    project: str
    """The Google Cloud project of every resource, from `gcp:project`."""

    @property
    def kms_location(self) -> str:
        """Where both key rings live (``kms.location``, when set, was checked to be the same)."""
        return kms_location_for(self.location)


def kms_location_for(bucket_location: str) -> str:
    """The Cloud KMS location whose keys may encrypt a bucket in ``bucket_location``."""
    location = bucket_location.lower()
    return _KMS_MULTI_REGIONS.get(location, location)


def check_bootstrap(settings: BootstrapSettings) -> list[str]:
    """Rules across keys."""
    problems = []
    expected = kms_location_for(settings.location)
    if settings.kms.location is not None and settings.kms.location.lower() != expected:
        problems.append(
            f"kms.location: {settings.kms.location!r} differs from the bucket's location "
            f"{settings.location!r}; Cloud Storage only uses a key from the same location "
            f"({expected!r}): set {expected!r} or remove kms.location"
        )
    if settings.cmek.enabled and settings.cmek.key_ring == settings.secrets.key_ring:
        problems.append(
            f"secrets.keyRing: {settings.secrets.key_ring!r} is also cmek.keyRing; the CMEK key "
            "and the secrets key each get a key ring of their own, give them different names"
        )
    return problems


def load_bootstrap(
    values: Mapping[str, Any],
    provider_values: Mapping[str, Any],
    secret_keys: set[str] | None = None,
    earlier: Sequence[str] = (),
) -> BootstrapConfig:
    """Validate the bootstrap stack's config and raise every problem at once.

    ``values``: this project's keys, prefix stripped. ``provider_values``: keys of other
    namespaces, fully qualified; only ``gcp:project`` is read. ``secret_keys``: where the
    ``--secret`` values are; nothing of this stack is secret. ``earlier``: the stack file's own.
    """
    problems = [*earlier, *misplaced_secrets(secret_keys or set(), allowed=set())]
    project = provider_values.get(PROJECT_KEY)
    problem = project_problem(project)
    if problem is not None:
        problems.append(f"{PROJECT_KEY}: {problem}")
    parsed = parse_partly(BootstrapSettings, values)
    problems += parsed.problems
    if parsed.model is not None:
        problems += [p for p in check_bootstrap(parsed.model) if not parsed.about_dropped(p)]
    if problems:
        raise ConfigError(problems)
    assert isinstance(project, str) and parsed.model is not None  # no problem: all parsed
    return BootstrapConfig(project=project, **dict(parsed.model))
