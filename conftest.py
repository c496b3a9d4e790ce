"""Loaded by pytest before any test directory's own conftest: the config models must be built
with their field descriptions, which the reference and schema tests read (the CLI turns them on
only for `schema` and `reference`)."""

from runner_k8s.config.model import describe_fields

describe_fields()
