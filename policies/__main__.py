"""The policy pack the Pulumi language host runs (`pulumi preview --policy-pack policies`).

It only assembles the pack: the rules live in gh_runner_policies, installed into the
workspace's .venv by `uv sync --all-packages` like every other member.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from gh_runner_policies.pack import PACK_NAME, policies, unbuffered_stdout

unbuffered_stdout()
PolicyPack(PACK_NAME, policies(), enforcement_level=EnforcementLevel.MANDATORY)
