"""The state tier's session: a Cloud Storage emulator with a versioned bucket, and a hermetic
engine logged in to that bucket (`pulumi login gs://...`), its stacks rendering YAML to a
directory (no cluster: the state path is what is under test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pulumi.automation as auto
import pytest
from tiers import require_binaries

from gh_runner_harness.engine import Backend, Engine, engine_session
from gh_runner_harness.gcs_emulator import GcsEmulator, running_gcs_emulator
from gh_runner_harness.paths import K8S_STACKS
from gh_runner_harness.toolchain import GCS_EMULATOR_BINARIES, PULUMI_BINARIES, bin_dir


@pytest.fixture(scope="session")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsEmulator]:
    require_binaries(GCS_EMULATOR_BINARIES, "gcs-emulator-toolchain.sh")
    with running_gcs_emulator(tmp_path_factory.mktemp("gcs"), bin_dir()) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def render_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rendered")


@pytest.fixture(scope="session")
def engine(
    gcs: GcsEmulator, render_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    require_binaries(PULUMI_BINARIES, "pulumi-toolchain.sh")
    backend = Backend(gcs.backend_url, gcs.engine_env)
    with engine_session(tmp_path_factory.mktemp("engine"), backend) as session:
        for stack_dir in K8S_STACKS:
            session.stack(stack_dir).set_config(
                "provider.renderYamlToDirectory",
                auto.ConfigValue(str(render_root / stack_dir)),
                path=True,
            )
        yield session
