"""What the bootstrap stack declares from its validated config: the backend URL, the secrets
provider and the IAM plan. Pure; ``components.state_backend`` registers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from runner_k8s.config.bootstrap import ENCRYPTER_DECRYPTER, OBJECT_ADMIN, BootstrapConfig

# --- what the stack declares and exports -------------------------------------------------------


def backend_url(bucket_name: str) -> str:
    """What ``pulumi login`` takes for a DIY backend in this bucket."""
    return f"gs://{bucket_name}"


def crypto_key_id(project: str, location: str, key_ring: str, key: str) -> str:
    return f"projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys/{key}"


def secrets_provider(config: BootstrapConfig) -> str:
    """What ``pulumi stack init --secrets-provider`` takes to encrypt with the secrets key."""
    key = crypto_key_id(
        config.project, config.kms_location, config.secrets.key_ring, config.secrets.key
    )
    return f"gcpkms://{key}"


def service_account_member(email: str) -> str:
    """The IAM member of a service account given by its e-mail address."""
    return f"serviceAccount:{email}"


Target = Literal["bucket", "stateKey", "secretsKey"]
Principal = Literal["automation", "storageServiceAgent"]


@dataclass(frozen=True)
class Grant:
    """One member-level IAM grant: ``principal`` gets ``role`` on ``target``."""

    name: str
    target: Target
    role: str
    principal: Principal


def iam_plan(config: BootstrapConfig) -> list[Grant]:
    """Every grant the stack makes. Nothing for allUsers, allAuthenticatedUsers or the project.

    The storage service agent's e-mail is known only once looked up in Google Cloud, so the plan
    names principals and the component resolves them.
    """
    grants = [
        Grant("state-automation", "bucket", OBJECT_ADMIN, "automation"),
        Grant("secrets-key-automation", "secretsKey", ENCRYPTER_DECRYPTER, "automation"),
    ]
    if config.cmek.enabled:
        grants += [
            Grant(
                "state-key-storage-agent", "stateKey", ENCRYPTER_DECRYPTER, "storageServiceAgent"
            ),
            Grant("state-key-automation", "stateKey", ENCRYPTER_DECRYPTER, "automation"),
        ]
    return grants
