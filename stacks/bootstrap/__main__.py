"""gh-runner-bootstrap: the GCS state backend of every gh-runner stack, and its KMS keys.

Its own state stays on a local file backend (or is moved into the bucket afterwards); see
the README's State backend section.
"""

import pulumi

from runner_k8s.components.state_backend import StateBackend, google_provider
from runner_k8s.config.engine import bootstrap_config

config = bootstrap_config()
backend = StateBackend("state-backend", config, google_provider(config))

pulumi.export("backendUrl", backend.backend_url)
pulumi.export("secretsProvider", backend.secrets_provider)
pulumi.export("bucketId", backend.bucket.id)
pulumi.export("secretsKeyId", backend.secrets_key.id)
if backend.state_key is not None:
    pulumi.export("stateKeyId", backend.state_key.id)
