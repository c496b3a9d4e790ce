"""The bootstrap stack's pure config and plan: validation messages, URLs and the IAM plan."""

from __future__ import annotations

from typing import Any

import pytest

from gh_runner_harness.paths import REPO
from runner_k8s.build.state_backend import (
    Grant,
    backend_url,
    crypto_key_id,
    iam_plan,
    secrets_provider,
    service_account_member,
)
from runner_k8s.config.bootstrap import (
    ENCRYPTER_DECRYPTER,
    OBJECT_ADMIN,
    BootstrapConfig,
    bucket_name_problem,
    kms_location_for,
    load_bootstrap,
    rotation_seconds,
)
from runner_k8s.config.stackfile import load_stack_config
from runner_k8s.errors import ConfigError

PROJECT = {"gcp:project": "my-project-1"}
ACCOUNT = "pulumi-ci@my-project-1.iam.gserviceaccount.com"


def minimal(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "location": "europe-west1",
        "bucket": {"name": "my-project-1-state"},
        "automationServiceAccount": ACCOUNT,
    }
    values.update(changes)
    return values


def load(values: dict[str, Any], provider_values: dict[str, Any] | None = None) -> BootstrapConfig:
    return load_bootstrap(values, PROJECT if provider_values is None else provider_values)


def problems(values: dict[str, Any], provider_values: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(values, provider_values)
    return caught.value.problems


# --- defaults and the stack file ---------------------------------------------------------------


def test_defaults() -> None:
    config = load(minimal())
    assert config.project == "my-project-1"
    assert config.bucket.soft_delete_retention_days == 30
    assert config.bucket.noncurrent_versions.newer_versions == 300
    assert config.bucket.noncurrent_versions.days == 30
    assert config.kms.rotation_period == "7776000s"
    assert config.kms_location == "europe-west1"
    assert config.cmek.enabled is True
    assert (config.cmek.key_ring, config.cmek.key) == ("gh-runner-state", "gh-runner-state")
    assert (config.secrets.key_ring, config.secrets.key) == (
        "gh-runner-secrets",
        "gh-runner-secrets",
    )
    assert config.labels == {"app": "gh-runner", "managed-by": "pulumi"}


def test_dev_stack_file_is_valid_and_holds_no_secret() -> None:
    stack = load_stack_config(REPO / "stacks" / "bootstrap", "dev")
    assert stack.secret_keys == set()
    config = load_bootstrap(stack.values, stack.provider_values)
    assert config.project == "your-project-id"
    assert config.automation_service_account.endswith(".iam.gserviceaccount.com")
    assert config.cmek.enabled is True


def test_every_key_of_the_dev_stack_file_is_commented() -> None:
    lines = (REPO / "stacks" / "bootstrap" / "Pulumi.dev.yaml").read_text().splitlines()
    uncommented = []
    previous = ""
    for line in lines:
        text = line.strip()
        is_key = bool(text) and not text.startswith("#") and ":" in text
        if is_key and "#" not in text and not previous.startswith("#"):
            uncommented.append(text)
        if text:
            previous = text
    assert uncommented == []


def test_unknown_keys_are_refused() -> None:
    assert problems(minimal(bucket={"name": "my-project-1-state", "forceDestroy": True})) == [
        "bucket.forceDestroy: unknown key"
    ]
    # The project is gcp:project, never a key of this project's namespace.
    assert problems(minimal(project="my-project-1")) == ["project: unknown key"]


# --- gcp:project ---------------------------------------------------------------------------------


def test_missing_project_names_gcp_project() -> None:
    [line] = problems(minimal(), {})
    assert line.startswith("gcp:project: is required")


def test_invalid_project_id() -> None:
    [line] = problems(minimal(), {"gcp:project": "My_Project"})
    assert line.startswith("gcp:project: 'My_Project' is not a Google Cloud project id")


def test_project_problem_is_reported_with_the_others() -> None:
    found = problems(minimal(bucket={"name": "ab"}), {})
    assert [p.split(":")[0] for p in found] == ["gcp", "bucket.name"]


# --- bucket name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "my-project-1-gh-runner-state",
        "state_bucket-01",
        "a" * 63,
        "state.example.com",
        ".".join(["a" * 63] * 3),
    ],
)
def test_valid_bucket_names(name: str) -> None:
    assert bucket_name_problem(name) is None
    assert load(minimal(bucket={"name": name})).bucket.name == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("Gh-Runner-State", "use only lowercase letters, digits, '-', '_' and '.'"),
        ("state bucket", "use only lowercase letters"),
        ("-state", "start and end with a letter or digit"),
        ("state_", "start and end with a letter or digit"),
        ("ab", "at least 3 characters"),
        ("a" * 64, "at most 63 characters"),
        ("a" * 64 + ".example.com", "each dot-separated part 1 to 63 characters"),
        ("a..b", "each dot-separated part 1 to 63 characters"),
        (".".join(["a" * 60] * 4), "at most 222 characters"),
        ("192.168.5.4", "must not be an IP address"),
        ("goog-state", "must not start with 'goog'"),
        ("my-google-state", "must not contain 'google'"),
        ("my-g00gle-state", "must not contain 'google'"),
    ],
)
def test_invalid_bucket_names(name: str, rule: str) -> None:
    [line] = problems(minimal(bucket={"name": name}))
    assert line.startswith(f"bucket.name: {name!r} is not a valid Cloud Storage bucket name: ")
    assert rule in line


def test_bucket_name_is_required() -> None:
    assert problems(minimal(bucket={})) == ["bucket.name: is required"]


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        ({"softDeleteRetentionDays": 6}, "bucket.softDeleteRetentionDays: must be >= 7"),
        ({"softDeleteRetentionDays": 0}, "bucket.softDeleteRetentionDays: must be >= 7"),
        ({"softDeleteRetentionDays": 91}, "bucket.softDeleteRetentionDays: must be <= 90"),
        (
            {"noncurrentVersions": {"newerVersions": 0}},
            "bucket.noncurrentVersions.newerVersions: must be >= 1",
        ),
        ({"noncurrentVersions": {"days": 0}}, "bucket.noncurrentVersions.days: must be >= 1"),
        (
            {"noncurrentVersions": {"days": "30"}},
            "bucket.noncurrentVersions.days: must be an integer",
        ),
    ],
)
def test_retention_numbers(bucket: dict[str, Any], expected: str) -> None:
    assert problems(minimal(bucket={"name": "my-project-1-state", **bucket})) == [expected]


# --- KMS -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "seconds"), [("86400s", 86400), ("7776000s", 7776000), ("86400.5s", 86400.5)]
)
def test_rotation_periods_of_a_day_or_more(period: str, seconds: float) -> None:
    assert rotation_seconds(period) == pytest.approx(seconds)
    assert load(minimal(kms={"rotationPeriod": period})).kms.rotation_period == period


def test_rotation_period_under_one_day() -> None:
    [line] = problems(minimal(kms={"rotationPeriod": "86399s"}))
    assert line.startswith("kms.rotationPeriod: '86399s' is shorter than one day")
    assert "86400s" in line


def test_rotation_period_over_the_kms_cap_of_100_years() -> None:
    cap = 876_000 * 3_600  # Cloud KMS: at most 876,000 hours
    assert load(minimal(kms={"rotationPeriod": f"{cap}s"})).kms.rotation_period == f"{cap}s"
    [line] = problems(minimal(kms={"rotationPeriod": f"{cap + 1}s"}))
    assert line.startswith(f"kms.rotationPeriod: '{cap + 1}s' is over Cloud KMS's 100-year cap")


@pytest.mark.parametrize("period", ["90d", "2160h", "86400", "s", "1e6s", "-86400s"])
def test_rotation_period_must_be_kms_seconds(period: str) -> None:
    [line] = problems(minimal(kms={"rotationPeriod": period}))
    assert line.startswith(f"kms.rotationPeriod: {period!r} is not a Cloud KMS duration")


@pytest.mark.parametrize(
    ("bucket_location", "kms_location"),
    [
        ("europe-west1", "europe-west1"),
        ("EUROPE-WEST1", "europe-west1"),
        ("EU", "europe"),
        ("us", "us"),
        ("ASIA", "asia"),
        ("EUR4", "eur4"),
    ],
)
def test_kms_location_follows_the_bucket(bucket_location: str, kms_location: str) -> None:
    assert kms_location_for(bucket_location) == kms_location
    assert load(minimal(location=bucket_location)).kms_location == kms_location
    spelt_out = load(minimal(location=bucket_location, kms={"location": kms_location}))
    assert spelt_out.kms_location == kms_location


@pytest.mark.parametrize(
    ("bucket_location", "kms_location", "expected"),
    [
        ("europe-west1", "us-central1", "europe-west1"),
        ("EU", "eu", "europe"),
        ("EU", "europe-west1", "europe"),
    ],
)
def test_kms_location_differing_from_the_bucket(
    bucket_location: str, kms_location: str, expected: str
) -> None:
    [line] = problems(minimal(location=bucket_location, kms={"location": kms_location}))
    assert line.startswith(
        f"kms.location: {kms_location!r} differs from the bucket's location {bucket_location!r}"
    )
    assert f"({expected!r})" in line


def test_invalid_location() -> None:
    [line] = problems(minimal(location="europe west1"))
    assert line.startswith("location: 'europe west1' is not a Cloud Storage location")


def test_location_is_required() -> None:
    values = minimal()
    del values["location"]
    assert problems(values) == ["location: is required"]


def test_key_names() -> None:
    [line] = problems(minimal(cmek={"key": "state/key"}))
    assert line.startswith("cmek.key: 'state/key' is not a Cloud KMS name")


def test_the_two_keys_need_two_key_rings() -> None:
    same = {"keyRing": "gh-runner"}
    [line] = problems(minimal(cmek=same, secrets=same))
    assert line.startswith("secrets.keyRing: 'gh-runner' is also cmek.keyRing")
    # Without CMEK there is one key ring only, whatever its name.
    config = load(minimal(cmek={"enabled": False, **same}, secrets=same))
    assert config.secrets.key_ring == "gh-runner"


# --- the automation account and labels -----------------------------------------------------------


def test_automation_service_account_is_required() -> None:
    values = minimal()
    del values["automationServiceAccount"]
    assert problems(values) == ["automationServiceAccount: is required"]


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (f"serviceAccount:{ACCOUNT}", "without the 'serviceAccount:' prefix"),
        ("someone@example.com", "is not a service account e-mail"),
        ("allUsers", "is not a service account e-mail"),
        ("allAuthenticatedUsers", "is not a service account e-mail"),
    ],
)
def test_automation_service_account_must_be_one_service_account(account: str, message: str) -> None:
    [line] = problems(minimal(automationServiceAccount=account))
    assert line.startswith("automationServiceAccount: ")
    assert message in line


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"App": "x"}, "label key 'App'"),
        ({"1app": "x"}, "label key '1app'"),
        ({"app": "Gh-Runner"}, "label 'app'"),
        ({"app": "x" * 64}, "label 'app'"),
    ],
)
def test_labels(labels: dict[str, str], message: str) -> None:
    [line] = problems(minimal(labels=labels))
    assert line.startswith("labels: ")
    assert message in line


# --- URLs and the IAM plan -----------------------------------------------------------------------


def test_backend_url_and_secrets_provider() -> None:
    config = load(minimal(location="EU", secrets={"keyRing": "ring", "key": "key"}))
    assert backend_url(config.bucket.name) == "gs://my-project-1-state"
    assert secrets_provider(config) == (
        "gcpkms://projects/my-project-1/locations/europe/keyRings/ring/cryptoKeys/key"
    )
    assert crypto_key_id("p", "l", "r", "k") == "projects/p/locations/l/keyRings/r/cryptoKeys/k"


def test_iam_plan_with_cmek() -> None:
    assert iam_plan(load(minimal())) == [
        Grant("state-automation", "bucket", OBJECT_ADMIN, "automation"),
        Grant("secrets-key-automation", "secretsKey", ENCRYPTER_DECRYPTER, "automation"),
        Grant("state-key-storage-agent", "stateKey", ENCRYPTER_DECRYPTER, "storageServiceAgent"),
        Grant("state-key-automation", "stateKey", ENCRYPTER_DECRYPTER, "automation"),
    ]


def test_iam_plan_without_cmek() -> None:
    plan = iam_plan(load(minimal(cmek={"enabled": False})))
    assert [grant.target for grant in plan] == ["bucket", "secretsKey"]
    assert {grant.principal for grant in plan} == {"automation"}


def test_service_account_member() -> None:
    assert service_account_member(ACCOUNT) == f"serviceAccount:{ACCOUNT}"
