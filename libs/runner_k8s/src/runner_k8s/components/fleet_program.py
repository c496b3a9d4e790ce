"""The body of every fleet stack's program: a fleet is config, not code.

A fleet project's ``__main__.py`` calls :func:`fleet_program` and nothing else; ``stacks``
recognises fleet projects by that call, so adding a fleet is adding a directory.
"""

from __future__ import annotations

import pulumi

from runner_k8s.components.kubernetes import RunnerFleet, kubernetes_provider
from runner_k8s.config.engine import runner_stack_config


def fleet_program() -> None:
    """One fleet: its Deployment (and NetworkPolicy), wired to the shared stack."""
    config = runner_stack_config()
    shared = pulumi.StackReference(config.shared_stack_name(pulumi.get_stack()))
    provider = kubernetes_provider(config.provider)
    fleet = RunnerFleet(
        config.runner.name,
        runner=config.runner,
        # get_output, not require_output: a destroyed shared stack then gets the library's
        # one-line message instead of a KeyError traceback.
        wiring=shared.get_output("wiring"),
        provider=provider,
        provider_config=config.provider,
    )
    pulumi.export("deployment", fleet.deployment.metadata["name"])
    pulumi.export("namespace", fleet.deployment.metadata["namespace"])
    # The `runs-on` list that lands a workflow job on this fleet.
    pulumi.export("runsOn", config.runner.runs_on)
