"""A real Kubernetes control plane on 127.0.0.1 for the cluster tests: etcd and kube-apiserver.

The binaries come from scripts/control-plane-toolchain.sh (``toolchain`` finds them).
Only the API server runs: no controller manager, scheduler or kubelet. Objects are stored,
validated and admitted (PodSecurity included) as on GKE, but nothing reconciles them:
Deployments never get Pods, and new namespaces get no `default` ServiceAccount, so creating a
bare Pod that names no ServiceAccount is refused by the ServiceAccount admission plugin.

    with running_control_plane(tmp_path, bin_dir) as cluster:
        cluster.kubectl("get", "namespaces")
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .toolchain import CONTROL_PLANE_SCRIPT, script_pins

TOOLCHAIN_SCRIPT = CONTROL_PLANE_SCRIPT
CLUSTER_NAME = "gh-runner-test"
ADMIN_USER = "gh-runner-test-admin"
# The token file's group: system:masters passes every authorization check, RBAC included.
ADMIN_GROUP = "system:masters"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_TAIL_LINES = 40


class ControlPlaneError(RuntimeError):
    """The control plane did not come up; the message carries the failing process's log tail."""


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int


@dataclass(frozen=True)
class Layout:
    """Where one control plane keeps its state, credentials and logs: all under `workdir`."""

    workdir: Path
    etcd_data: Path
    etcd_log: Path
    apiserver_log: Path
    # kube-apiserver writes its self-signed serving cert here (apiserver.crt: leaf, then CA).
    serving_certs: Path
    service_account_key: Path
    token_file: Path
    kubeconfig: Path
    # Keeps kubectl's discovery cache out of ~/.kube.
    kubectl_cache: Path

    @classmethod
    def under(cls, workdir: Path) -> Layout:
        return cls(
            workdir=workdir,
            etcd_data=workdir / "etcd-data",
            etcd_log=workdir / "etcd.log",
            apiserver_log=workdir / "kube-apiserver.log",
            serving_certs=workdir / "serving-certs",
            service_account_key=workdir / "service-account.key",
            token_file=workdir / "tokens.csv",
            kubeconfig=workdir / "kubeconfig",
            kubectl_cache=workdir / "kubectl-cache",
        )


@dataclass
class ApiServer:
    """The running kube-apiserver, which the fault tests stop and start again: same port, same
    etcd, same serving certificate (kube-apiserver keeps the one it finds in --cert-dir), same
    token, so every kubeconfig written for it stays valid across a restart."""

    command: list[str]
    log: Path
    ready_url: str
    token: str
    process: subprocess.Popen[bytes]

    def stop(self, kill: bool = True) -> None:
        """``kill``: SIGKILL, a server gone at once (its open connections reset), as a crashed
        or preempted control-plane VM; otherwise SIGTERM and a graceful drain."""
        if kill and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        stop(self.process)

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its port and open connections but answers nothing, as an
        API endpoint that blackholes traffic during a control-plane upgrade."""
        self.process.send_signal(signal.SIGSTOP)

    def restart(self, timeout: float = READY_TIMEOUT) -> None:
        """Start it again and wait until it is ready. Call it from the main thread: the server
        is tied to its parent thread's life (PR_SET_PDEATHSIG)."""
        self.stop()
        self.process = start(self.command, self.log)
        wait_until_healthy(
            "kube-apiserver", self.process, self.ready_url, self.log, self.token, timeout=timeout
        )


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path
    server: str
    context: str
    layout: Layout
    # The toolchain's kubectl (the control plane's own release), never whatever is on PATH.
    kubectl_binary: Path
    # None only for a ControlPlane built by hand; running_control_plane always sets it.
    apiserver: ApiServer | None = field(default=None, compare=False)

    def kubectl(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane only; the caller checks returncode."""
        return subprocess.run(
            [
                str(self.kubectl_binary),
                f"--kubeconfig={self.kubeconfig}",
                f"--context={self.context}",
                f"--cache-dir={self.layout.kubectl_cache}",
                *args,
            ],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


# --- what to run (pure) -------------------------------------------------------------------


def pinned_versions(script: Path = TOOLCHAIN_SCRIPT) -> dict[str, str]:
    """The toolchain script's pins, e.g. {"KUBERNETES_VERSION": "v1.34.4", ...}."""
    return script_pins(script)


def etcd_command(etcd: Path, layout: Layout, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(etcd),
        f"--name={CLUSTER_NAME}",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={CLUSTER_NAME}={peer}",
        # A throwaway store: durability buys nothing and fsync is the slow part on shared disks.
        "--unsafe-no-fsync",
    ]


def apiserver_command(apiserver: Path, layout: Layout, ports: Ports) -> list[str]:
    return [
        str(apiserver),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        # Without it the server advertises the host's first interface address.
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={layout.serving_certs}",
        f"--token-auth-file={layout.token_file}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-account-key-file={layout.service_account_key}",
        f"--service-account-signing-key-file={layout.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        # GKE admits privileged containers; the default (false) would reject them at validation,
        # before PodSecurity admission could warn about them.
        "--allow-privileged=true",
        # The `kubernetes` Service's Endpoints would point at a loopback address, which
        # Endpoints validation refuses; nothing here needs them.
        "--endpoint-reconciler-type=none",
    ]


def token_file_line(token: str) -> str:
    return f'{token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n'


def kubeconfig_document(server: str, ca_pem: bytes, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": ADMIN_USER, "user": {"token": token}}],
        "contexts": [
            {
                "name": CLUSTER_NAME,
                "context": {"cluster": CLUSTER_NAME, "user": ADMIN_USER},
            }
        ],
        "current-context": CLUSTER_NAME,
    }


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.is_file():
        return f"({path} was not written)"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(tail) if tail else f"({path} is empty)"


# --- running it (imperative shell) --------------------------------------------------------


def free_ports() -> Ports:
    # Held open together so the three are distinct; a race with another process binding one
    # between here and the server's start shows up as a startup error with the log tail.
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket(socket.AF_INET)) for _ in range(3)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        client, peer, apiserver = (int(p.getsockname()[1]) for p in probes)
    return Ports(etcd_client=client, etcd_peer=peer, apiserver=apiserver)


def write_credentials(layout: Layout) -> str:
    """Write the service-account signing key and the admin token file; return the token."""
    layout.workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            str(layout.service_account_key),
        ],
        check=True,
        capture_output=True,
    )
    token = secrets.token_hex(32)
    layout.token_file.write_text(token_file_line(token))
    layout.token_file.chmod(0o600)
    return token


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If the test process is killed outright, the kernel sends the server SIGTERM, so no etcd
    # or kube-apiserver outlives the run.
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(command: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = None
    if url.startswith("https:"):
        # The serving cert is only on disk once the server is up; kubectl verifies it afterwards.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")
    except OSError as error:
        return 0, str(error)


def wait_until_healthy(
    name: str,
    process: subprocess.Popen[bytes],
    url: str,
    log: Path,
    token: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> None:
    deadline = time.monotonic() + timeout
    status, body = 0, ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ControlPlaneError(
                f"{name} exited with code {process.returncode} before {url} was healthy; "
                f"last lines of {log}:\n{log_tail(log)}"
            )
        status, body = _get(url, token)
        if status == 200:
            return
        time.sleep(0.25)
    raise ControlPlaneError(
        f"{name} not healthy at {url} after {timeout:.0f}s (last answer: {status} {body[-500:]}); "
        f"last lines of {log}:\n{log_tail(log)}"
    )


@contextlib.contextmanager
def running_control_plane(
    workdir: Path, bin_dir: Path, ready_timeout: float = READY_TIMEOUT
) -> Iterator[ControlPlane]:
    """Start etcd and kube-apiserver on free 127.0.0.1 ports; stop both on exit, even on error."""
    layout = Layout.under(workdir)
    token = write_credentials(layout)
    ports = free_ports()
    server = f"https://127.0.0.1:{ports.apiserver}"
    with contextlib.ExitStack() as running:
        etcd = start(etcd_command(bin_dir / "etcd", layout, ports), layout.etcd_log)
        running.callback(stop, etcd)
        wait_until_healthy(
            "etcd",
            etcd,
            f"http://127.0.0.1:{ports.etcd_client}/health",
            layout.etcd_log,
            timeout=ready_timeout,
        )
        command = apiserver_command(bin_dir / "kube-apiserver", layout, ports)
        apiserver = ApiServer(
            command,
            layout.apiserver_log,
            f"{server}/readyz",
            token,
            start(command, layout.apiserver_log),
        )
        # The process of the moment: a fault test may have restarted it.
        running.callback(lambda: stop(apiserver.process))
        wait_until_healthy(
            "kube-apiserver",
            apiserver.process,
            apiserver.ready_url,
            layout.apiserver_log,
            token,
            timeout=ready_timeout,
        )
        ca_pem = (layout.serving_certs / "apiserver.crt").read_bytes()
        layout.kubeconfig.write_text(
            yaml.safe_dump(kubeconfig_document(server, ca_pem, token), sort_keys=False)
        )
        layout.kubeconfig.chmod(0o600)
        yield ControlPlane(
            kubeconfig=layout.kubeconfig,
            server=server,
            context=CLUSTER_NAME,
            layout=layout,
            kubectl_binary=bin_dir / "kubectl",
            apiserver=apiserver,
        )
