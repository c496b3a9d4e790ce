"""``gh-runner status``: whether each fleet actually serves jobs."""

from datetime import timedelta

# How long a running pod may take to register. Here rather than in ``model``: the CLI's argument
# parser names it, and loading the status models would slow down every offline command.
DEFAULT_GRACE = timedelta(seconds=120)
