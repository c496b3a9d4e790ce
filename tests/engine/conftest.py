"""The engine tier's session: one hermetic engine over one workspace copy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_support import Engine, engine_session


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with engine_session(tmp_path_factory.mktemp("engine")) as session:
        yield session


@pytest.fixture(scope="session")
def render_root(engine: Engine) -> Path:
    return engine.tmp / "rendered"
