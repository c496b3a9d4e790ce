"""gh-runner-shared: the codex ConfigMap and the wiring every runner stack reads."""

import pulumi

from runner_k8s.components.kubernetes import SharedResources, kubernetes_provider
from runner_k8s.config.engine import shared_config

config = shared_config()
provider = kubernetes_provider(config.provider)
shared = SharedResources("shared", config, provider)

pulumi.export("namespace", config.namespace)
pulumi.export("wiring", shared.wiring)
