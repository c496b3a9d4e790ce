from __future__ import annotations

import pytest

from runner_k8s.config.shared import SharedConfig, load_shared


@pytest.fixture
def shared() -> SharedConfig:
    return load_shared({"codexConfig": {"configToml": 'model = "gpt-5-codex"\n'}}, set())
