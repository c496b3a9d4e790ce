"""The environment variables gh-runner sets in every runner container itself.

One list, read by the builders that set them and by the check that keeps `runner.env` from
shadowing them: a variable added to a builder but not here would let an operator's `env`
silently override it (a test builds every variable and compares with this list).
"""

from __future__ import annotations

# From the shared stack's wiring: where to register, and with which credentials.
GITHUB_URL = "GITHUB_URL"
GITHUB_PAT = "GITHUB_PAT"
GITHUB_TOKEN = "GITHUB_TOKEN"  # the MCP server's token
# From the runner config.
RUNNER_LABELS = "RUNNER_LABELS"
RUNNER_EPHEMERAL = "RUNNER_EPHEMERAL"
RUNNER_REPLACE = "RUNNER_REPLACE"
RUNNER_DISABLE_UPDATES = "RUNNER_DISABLE_UPDATES"
RUNNER_WORKDIR = "RUNNER_WORKDIR"

RESERVED_ENV = frozenset(
    {
        GITHUB_URL,
        GITHUB_PAT,
        GITHUB_TOKEN,
        RUNNER_LABELS,
        RUNNER_EPHEMERAL,
        RUNNER_REPLACE,
        RUNNER_DISABLE_UPDATES,
        RUNNER_WORKDIR,
    }
)
