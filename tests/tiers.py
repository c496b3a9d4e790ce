"""What the real-engine tiers do where their toolchain is not built: skip, saying which script
to run, or fail where CI has just built it (GH_RUNNER_REQUIRE_TOOLCHAIN)."""

from __future__ import annotations

import pytest

from gh_runner_harness.toolchain import missing, required


def require_binaries(binaries: tuple[str, ...], script: str) -> None:
    reason = missing(binaries, script)
    if reason is None:
        return
    if required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)
