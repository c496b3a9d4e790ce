"""The bootstrap stack's Pulumi shell: the GCS state bucket, its KMS keys and their IAM grants.

What to declare is decided in ``state_backend.py``; this module only registers it. Needs the
``gcp`` extra (pulumi-gcp), which only the bootstrap stack installs.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from runner_k8s.build.state_backend import (
    Grant,
    backend_url,
    iam_plan,
    secrets_provider,
    service_account_member,
)
from runner_k8s.config.bootstrap import ONE_DAY_SECONDS, BootstrapConfig

# The provider refuses to delete a resource whose deletion policy is PREVENT, on top of Pulumi's
# own `protect`: losing the bucket or a key loses every stack's state or secrets.
PREVENT = "PREVENT"


def google_provider(config: BootstrapConfig, name: str = "gcp") -> gcp.Provider:
    """The one provider every resource and lookup of the stack goes through, pinned to the
    configured project rather than whatever the ambient gcloud settings say."""
    return gcp.Provider(name, project=config.project)


# The component type string: part of the URN of every resource under it, so fixed for good.
STATE_BACKEND_TYPE = "gh-runner:gcp:StateBackend"


class StateBackend(pulumi.ComponentResource):
    """The state bucket, the CMEK key (optional) and the secrets key, locked to one identity."""

    bucket: gcp.storage.Bucket
    state_key: gcp.kms.CryptoKey | None
    secrets_key: gcp.kms.CryptoKey
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: BootstrapConfig,
        provider: gcp.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(STATE_BACKEND_TYPE, name, None, opts)
        self._config = config
        self._child = pulumi.ResourceOptions(parent=self, provider=provider)
        kept = pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(protect=True))

        self.secrets_key = self._key("secrets", config.secrets.key_ring, config.secrets.key, kept)
        self.state_key = None
        agent_member: pulumi.Output[str] | None = None
        if config.cmek.enabled:
            self.state_key = self._key("state", config.cmek.key_ring, config.cmek.key, kept)
            # Looked up, never spelt out: the lookup also makes Google create the agent.
            agent = gcp.storage.get_project_service_account_output(
                project=config.project,
                opts=pulumi.InvokeOutputOptions(parent=self, provider=provider),
            )
            agent_member = agent.apply(lambda a: service_account_member(a.email_address))

        plan = iam_plan(config)
        members = {"automation": service_account_member(config.automation_service_account)}
        key_grants = {
            grant.name: self._key_grant(grant, members, agent_member)
            for grant in plan
            if grant.target != "bucket"
        }
        # Cloud Storage checks its agent's access to the key when the default key is set, so the
        # bucket waits for that grant.
        agent_grants = [
            key_grants[grant.name] for grant in plan if grant.principal == "storageServiceAgent"
        ]

        encryption = None
        if self.state_key is not None:
            encryption = gcp.storage.BucketEncryptionArgs(default_kms_key_name=self.state_key.id)
        noncurrent = config.bucket.noncurrent_versions
        self.bucket = gcp.storage.Bucket(
            "state",
            name=config.bucket.name,
            project=config.project,
            location=config.location,
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=config.bucket.soft_delete_retention_days
                * ONE_DAY_SECONDS
            ),
            # Two rules, so a noncurrent version goes once either limit is reached.
            lifecycle_rules=[
                _delete_noncurrent(num_newer_versions=noncurrent.newer_versions),
                _delete_noncurrent(days_since_noncurrent_time=noncurrent.days),
            ],
            encryption=encryption,
            labels=config.labels,
            force_destroy=False,
            deletion_policy=PREVENT,
            opts=pulumi.ResourceOptions.merge(
                kept, pulumi.ResourceOptions(depends_on=agent_grants)
            ),
        )
        for grant in plan:
            if grant.target == "bucket":
                gcp.storage.BucketIAMMember(
                    grant.name,
                    bucket=self.bucket.name,
                    role=grant.role,
                    member=members[grant.principal],
                    opts=self._child,
                )

        self.backend_url = self.bucket.name.apply(backend_url)
        # Known from config; waiting for the key keeps it from being used before the key exists.
        self.secrets_provider = self.secrets_key.id.apply(lambda _: secrets_provider(config))
        self.register_outputs(
            {
                "backendUrl": self.backend_url,
                "secretsProvider": self.secrets_provider,
                "bucketId": self.bucket.id,
                "secretsKeyId": self.secrets_key.id,
                "stateKeyId": self.state_key.id if self.state_key is not None else None,
            }
        )

    def _key(
        self, prefix: str, key_ring: str, key: str, opts: pulumi.ResourceOptions
    ) -> gcp.kms.CryptoKey:
        ring = gcp.kms.KeyRing(
            f"{prefix}-key-ring",
            name=key_ring,
            project=self._config.project,
            location=self._config.kms_location,
            opts=opts,
        )
        return gcp.kms.CryptoKey(
            f"{prefix}-key",
            name=key,
            key_ring=ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=self._config.kms.rotation_period,
            labels=self._config.labels,
            deletion_policy=PREVENT,
            opts=opts,
        )

    def _key_grant(
        self,
        grant: Grant,
        members: dict[str, str],
        agent_member: pulumi.Output[str] | None,
    ) -> gcp.kms.CryptoKeyIAMMember:
        key = self.state_key if grant.target == "stateKey" else self.secrets_key
        assert key is not None, f"{grant.name}: no key for {grant.target}"
        member: pulumi.Input[str]
        if grant.principal == "storageServiceAgent":
            assert agent_member is not None
            member = agent_member
        else:
            member = members[grant.principal]
        return gcp.kms.CryptoKeyIAMMember(
            grant.name, crypto_key_id=key.id, role=grant.role, member=member, opts=self._child
        )


def _delete_noncurrent(
    num_newer_versions: int | None = None, days_since_noncurrent_time: int | None = None
) -> gcp.storage.BucketLifecycleRuleArgs:
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(
            with_state="ARCHIVED",
            num_newer_versions=num_newer_versions,
            days_since_noncurrent_time=days_since_noncurrent_time,
        ),
    )
