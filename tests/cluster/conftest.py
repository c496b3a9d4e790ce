"""The cluster tier's session: a loopback control plane prepared as production is today, and
a hermetic engine whose stacks point their provider at it."""

from __future__ import annotations

from collections.abc import Iterator

import pulumi.automation as auto
import pytest
from tiers import require_binaries

from gh_runner_harness.cluster import Cluster
from gh_runner_harness.control_plane import ControlPlane, running_control_plane
from gh_runner_harness.engine import Engine, engine_session
from gh_runner_harness.paths import BASELINE, K8S_STACKS
from gh_runner_harness.toolchain import CONTROL_PLANE_BINARIES, PULUMI_BINARIES, bin_dir


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    require_binaries(CONTROL_PLANE_BINARIES, "control-plane-toolchain.sh")
    with running_control_plane(tmp_path_factory.mktemp("control-plane"), bin_dir()) as running:
        yield running


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Cluster:
    if not BASELINE.is_file():
        pytest.skip(f"{BASELINE} absent: nothing to prepare the cluster as production from")
    prepared = Cluster(control_plane, BASELINE)
    prepared.prepare_as_production()
    return prepared


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, cluster: Cluster) -> Iterator[Engine]:
    require_binaries(PULUMI_BINARIES, "pulumi-toolchain.sh")
    with engine_session(tmp_path_factory.mktemp("engine")) as session:
        for stack_dir in K8S_STACKS:
            stack = session.stack(stack_dir)
            stack.set_config(
                "provider.kubeconfig", auto.ConfigValue(str(cluster.kubeconfig)), path=True
            )
            # No kubelet or controllers: a Deployment would never report ready.
            stack.set_config("provider.skipAwait", auto.ConfigValue("true"), path=True)
        yield session
