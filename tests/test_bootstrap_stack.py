"""The bootstrap stack's real __main__.py under Pulumi mocks, config from its Pulumi.dev.yaml."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from stack_fixtures import REPO

from runner_k8s.config.stackfile import StackConfig, load_stack_config
from runner_k8s.offline.mockrun import ProgramRun, Registration, run_stack

STACK_DIR = REPO / "stacks" / "bootstrap"
PROJECT = "your-project-id"
AUTOMATION = "serviceAccount:gh-runner-automation@your-project-id.iam.gserviceaccount.com"
# What the mocked getProjectServiceAccount lookup answers (runner_k8s.mockrun).
STORAGE_AGENT = "serviceAccount:service-123456789012@gs-project-accounts.iam.gserviceaccount.com"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

# pulumi-gcp warns about one of its own misspelt functions as soon as it is imported.
pytestmark = pytest.mark.filterwarnings(
    "ignore:gcp.storage.getTransferProjectServieAccount:DeprecationWarning"
)

COMPONENT = "gh-runner:gcp:StateBackend"
PROVIDER = "pulumi:providers:gcp"
BUCKET = "gcp:storage/bucket:Bucket"
KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"


def dev_config() -> StackConfig:
    return load_stack_config(STACK_DIR, "dev")


def run_with(
    values: dict[str, Any] | None = None, provider_values: dict[str, Any] | None = None
) -> ProgramRun:
    """The dev stack with some top-level keys replaced."""
    config = dev_config()
    config = replace(
        config,
        values={**config.values, **(values or {})},
        provider_values=config.provider_values if provider_values is None else provider_values,
    )
    return run_stack(STACK_DIR, "dev", config=config)


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    run = run_stack(STACK_DIR, "dev")
    assert run.error is None
    return run


def one(run: ProgramRun, type_: str, name: str) -> Registration:
    [found] = [r for r in run.of_type(type_) if r.name == name]
    return found


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::gh-runner-bootstrap::{COMPONENT}${type_}::{name}"


def iam_grants(run: ProgramRun) -> set[tuple[str, str, str, str, str]]:
    """(type, name, target, role, member) of every IAM resource the stack registered."""
    grants = set()
    for r in run.resources:
        if "IAM" in r.type:
            target = r.inputs.get("cryptoKeyId") or r.inputs.get("bucket")
            grants.add((r.type, r.name, target, r.inputs["role"], r.inputs["member"]))
    return grants


# --- the dev stack -------------------------------------------------------------------------------


def test_outputs(dev: ProgramRun) -> None:
    assert dev.outputs == {
        "backendUrl": "gs://your-project-id-gh-runner-state",
        "secretsProvider": (
            "gcpkms://projects/your-project-id/locations/europe-west1/"
            "keyRings/gh-runner-secrets/cryptoKeys/gh-runner-secrets"
        ),
        # The mocks give every resource the id `<name>-id`.
        "bucketId": "state-id",
        "secretsKeyId": "secrets-key-id",
        "stateKeyId": "state-key-id",
    }


def test_bucket_is_made_to_hold_state(dev: ProgramRun) -> None:
    bucket = one(dev, BUCKET, "state")
    assert bucket.inputs["name"] == "your-project-id-gh-runner-state"
    assert bucket.inputs["project"] == PROJECT
    assert bucket.inputs["location"] == "europe-west1"
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert bucket.inputs["softDeletePolicy"] == {"retentionDurationSeconds": 30 * 86_400}
    assert bucket.inputs["labels"] == {"app": "gh-runner", "managed-by": "pulumi"}
    assert bucket.inputs["forceDestroy"] is False


def test_bucket_deletes_noncurrent_versions_on_either_limit(dev: ProgramRun) -> None:
    rules = one(dev, BUCKET, "state").inputs["lifecycleRules"]
    # Conditions within one rule must all hold; separate rules act on either.
    assert rules == [
        {
            "action": {"type": "Delete"},
            "condition": {"withState": "ARCHIVED", "numNewerVersions": 300},
        },
        {
            "action": {"type": "Delete"},
            "condition": {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 30},
        },
    ]


def test_bucket_and_keys_are_protected_against_deletion(dev: ProgramRun) -> None:
    bucket = one(dev, BUCKET, "state")
    assert bucket.protect is True
    assert bucket.inputs["deletionPolicy"] == "PREVENT"
    for key in dev.of_type(CRYPTO_KEY):
        assert key.protect is True, key.name
        assert key.inputs["deletionPolicy"] == "PREVENT", key.name
    for ring in dev.of_type(KEY_RING):
        assert ring.protect is True, ring.name


def test_bucket_default_key_is_the_cmek_key(dev: ProgramRun) -> None:
    ring = one(dev, KEY_RING, "state-key-ring")
    assert ring.inputs == {
        "name": "gh-runner-state",
        "location": "europe-west1",
        "project": PROJECT,
    }
    key = one(dev, CRYPTO_KEY, "state-key")
    assert key.inputs["name"] == "gh-runner-state"
    assert key.inputs["keyRing"] == "state-key-ring-id"
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    bucket = one(dev, BUCKET, "state")
    assert bucket.inputs["encryption"] == {"defaultKmsKeyName": "state-key-id"}


def test_storage_agent_may_use_the_cmek_key_before_the_bucket_does(dev: ProgramRun) -> None:
    grant = one(dev, KEY_MEMBER, "state-key-storage-agent")
    assert grant.inputs == {
        "cryptoKeyId": "state-key-id",
        "role": ENCRYPTER_DECRYPTER,
        # Looked up with getProjectServiceAccount, not spelt out from the project.
        "member": STORAGE_AGENT,
    }
    bucket = one(dev, BUCKET, "state")
    assert urn(KEY_MEMBER, "state-key-storage-agent") in bucket.dependencies
    assert dev.resources.index(grant) < dev.resources.index(bucket)


def test_rotation_period_of_both_keys(dev: ProgramRun) -> None:
    keys = {key.name: key.inputs for key in dev.of_type(CRYPTO_KEY)}
    assert set(keys) == {"state-key", "secrets-key"}
    for inputs in keys.values():
        assert inputs["rotationPeriod"] == "7776000s"
        assert inputs["labels"] == {"app": "gh-runner", "managed-by": "pulumi"}


def test_secrets_key_has_a_key_ring_of_its_own(dev: ProgramRun) -> None:
    ring = one(dev, KEY_RING, "secrets-key-ring")
    assert ring.inputs == {
        "name": "gh-runner-secrets",
        "location": "europe-west1",
        "project": PROJECT,
    }
    key = one(dev, CRYPTO_KEY, "secrets-key")
    assert key.inputs["name"] == "gh-runner-secrets"
    assert key.inputs["keyRing"] == "secrets-key-ring-id"


def test_iam_members_are_exactly_the_automation_account_and_the_storage_agent(
    dev: ProgramRun,
) -> None:
    assert iam_grants(dev) == {
        (
            BUCKET_MEMBER,
            "state-automation",
            PROJECT + "-gh-runner-state",
            "roles/storage.objectAdmin",
            AUTOMATION,
        ),
        (KEY_MEMBER, "state-key-automation", "state-key-id", ENCRYPTER_DECRYPTER, AUTOMATION),
        (KEY_MEMBER, "secrets-key-automation", "secrets-key-id", ENCRYPTER_DECRYPTER, AUTOMATION),
        (KEY_MEMBER, "state-key-storage-agent", "state-key-id", ENCRYPTER_DECRYPTER, STORAGE_AGENT),
    }


def test_nothing_public_nothing_project_wide(dev: ProgramRun) -> None:
    for r in dev.resources:
        # Member-level grants only: no binding or policy that would replace others' access.
        assert not r.type.endswith(("IAMBinding", "IAMPolicy")), r.type
        assert not r.type.startswith("gcp:projects/"), r.type
        assert "allUsers" not in str(r.inputs)
        assert "allAuthenticatedUsers" not in str(r.inputs)


def test_one_explicit_provider_and_one_component(dev: ProgramRun) -> None:
    [provider] = dev.of_type(PROVIDER)
    assert provider.inputs["project"] == PROJECT
    [component] = dev.of_type(COMPONENT)
    assert component.name == "state-backend"
    for r in dev.resources:
        if r.custom and r.type.startswith("gcp:"):
            assert f"{PROVIDER}::gcp::" in r.provider, r.name
        # Every URN a resource waits for is a child of the component.
        for dependency in r.dependencies:
            assert f"::{COMPONENT}$" in dependency, (r.name, dependency)


# --- CMEK off ------------------------------------------------------------------------------------


def test_cmek_off() -> None:
    run = run_with({"cmek": {"enabled": False}})
    assert run.error is None
    bucket = one(run, BUCKET, "state")
    assert "encryption" not in bucket.inputs
    assert bucket.inputs["versioning"] == {"enabled": True}
    assert bucket.dependencies == ()
    # No key ring and no key for CMEK: only the secrets key and its ring.
    assert [r.name for r in run.of_type(KEY_RING)] == ["secrets-key-ring"]
    assert [r.name for r in run.of_type(CRYPTO_KEY)] == ["secrets-key"]
    assert {member for *_, member in iam_grants(run)} == {AUTOMATION}
    assert {name for _, name, *_ in iam_grants(run)} == {
        "state-automation",
        "secrets-key-automation",
    }
    assert "stateKeyId" not in run.outputs
    assert run.outputs["secretsProvider"].endswith(
        "/keyRings/gh-runner-secrets/cryptoKeys/gh-runner-secrets"
    )


def test_config_reaches_the_resources() -> None:
    run = run_with(
        {
            "location": "EU",
            "bucket": {
                "name": "other-state",
                "softDeleteRetentionDays": 7,
                "noncurrentVersions": {"newerVersions": 5, "days": 90},
            },
            "kms": {"rotationPeriod": "86400s"},
        }
    )
    assert run.error is None
    bucket = one(run, BUCKET, "state")
    assert bucket.inputs["location"] == "EU"
    assert bucket.inputs["softDeletePolicy"] == {"retentionDurationSeconds": 7 * 86_400}
    conditions = [rule["condition"] for rule in bucket.inputs["lifecycleRules"]]
    assert conditions == [
        {"withState": "ARCHIVED", "numNewerVersions": 5},
        {"withState": "ARCHIVED", "daysSinceNoncurrentTime": 90},
    ]
    # Keys for an EU bucket live in the KMS multi-region `europe`.
    assert {r.inputs["location"] for r in run.of_type(KEY_RING)} == {"europe"}
    assert {r.inputs["rotationPeriod"] for r in run.of_type(CRYPTO_KEY)} == {"86400s"}
    assert run.outputs["backendUrl"] == "gs://other-state"
    assert "/locations/europe/" in run.outputs["secretsProvider"]


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "provider_values", "expected"),
    [
        pytest.param(
            {"bucket": {"name": "Gh_Runner_State"}},
            None,
            "bucket.name: 'Gh_Runner_State' is not a valid Cloud Storage bucket name",
            id="bucket-name",
        ),
        pytest.param(
            {"bucket": {"name": "my-google-state"}},
            None,
            "bucket.name: 'my-google-state' is not a valid Cloud Storage bucket name",
            id="bucket-name-google",
        ),
        pytest.param(
            {"kms": {"rotationPeriod": "3600s"}},
            None,
            "kms.rotationPeriod: '3600s' is shorter than one day",
            id="rotation-under-a-day",
        ),
        pytest.param(
            {"kms": {"rotationPeriod": "90d"}},
            None,
            "kms.rotationPeriod: '90d' is not a Cloud KMS duration",
            id="rotation-not-seconds",
        ),
        pytest.param(
            {"kms": {"location": "us-central1"}},
            None,
            "kms.location: 'us-central1' differs from the bucket's location 'europe-west1'",
            id="kms-location",
        ),
        pytest.param({}, {}, "gcp:project: is required", id="missing-project"),
    ],
)
def test_bad_input_stops_before_any_resource(
    values: dict[str, Any], provider_values: dict[str, Any] | None, expected: str
) -> None:
    run = run_with(values, provider_values)
    assert run.error is not None
    header, *problems = run.error.splitlines()
    assert header == "invalid stack config:"
    assert len(problems) == 1
    assert problems[0].startswith(expected)
    assert run.resources == []
    assert run.outputs == {}


def test_dev_stack_file_holds_no_secret() -> None:
    config = dev_config()
    assert config.secret_keys == set()
    assert "secure:" not in (STACK_DIR / "Pulumi.dev.yaml").read_text()
    assert config.provider_values == {"gcp:project": PROJECT}
