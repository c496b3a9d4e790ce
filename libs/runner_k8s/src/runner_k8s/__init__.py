"""gh-runner's library: config, builders and Pulumi components for the runner fleets."""

import os

# pydantic scans every installed distribution's entry points for plugins when it builds its first
# model (importlib.metadata over the whole environment): a third of `gh-runner render`'s start-up,
# and paid again by every stack program. Nothing here uses a pydantic plugin; an environment that
# wants one sets the variable itself.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
