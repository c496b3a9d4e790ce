"""The engine tier's session: one hermetic engine over one workspace copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tiers import require_binaries

from gh_runner_harness.engine import Engine, engine_session
from gh_runner_harness.toolchain import PULUMI_BINARIES


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    require_binaries(PULUMI_BINARIES, "pulumi-toolchain.sh")
    with engine_session(tmp_path_factory.mktemp("engine")) as session:
        yield session


@pytest.fixture(scope="session")
def render_root(engine: Engine) -> Path:
    return engine.tmp / "rendered"
