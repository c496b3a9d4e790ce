"""An admission webhook that holds chosen API requests: a controlled point inside `pulumi up`.

The fault tests need to act (stop the API server, signal the CLI, start a second update) while a
given write is in flight, at the same point on every run. kube-apiserver calls this webhook
before it stores a matching request; the gate answers dry runs at once and holds real writes
until ``release()``, so "the NetworkPolicy create is in flight" is a state a test can wait for
instead of a race it hopes to win.

    gate = AdmissionGate.start(workdir)
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(gate.configuration(ns, rules)))
    ...  # the write arrives: gate.wait_held(timeout)
    gate.release(); gate.close()

``failurePolicy: Ignore``: a gate that is gone or too slow delays a write, never refuses it, so
a test that fails half-way leaves no cluster that refuses writes behind it.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NAME = "gh-runner-fault-gate"
# kube-apiserver's ceiling for a webhook call; the gate lets a held request go before it.
WEBHOOK_TIMEOUT = 30
HOLD_LIMIT = 25.0


@dataclass(frozen=True)
class Review:
    """One admission request the gate saw."""

    operation: str
    kind: str
    name: str
    dry_run: bool


@dataclass
class AdmissionGate:
    server: ThreadingHTTPServer
    ca_pem: bytes
    seen: list[Review] = field(default_factory=list)
    # Set while real writes are to be held; cleared by release().
    holding: threading.Event = field(default_factory=threading.Event)
    # Set once a real write is being held.
    held: threading.Event = field(default_factory=threading.Event)
    # Set by release(): held writes go on.
    released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, workdir: Path) -> AdmissionGate:
        """Serve HTTPS on a free 127.0.0.1 port with a fresh self-signed certificate."""
        workdir.mkdir(parents=True, exist_ok=True)
        cert, key = workdir / "gate.crt", workdir / "gate.key"
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        gate = cls(server, cert.read_bytes())
        server.gate = gate  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        gate.holding.set()
        return gate

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"https://{host!s}:{port}/validate"

    def configuration(self, namespace: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        """The ValidatingWebhookConfiguration sending ``rules`` in ``namespace`` here."""
        return {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": NAME},
            "webhooks": [
                {
                    "name": "gate.faults.gh-runner.test",
                    "clientConfig": {
                        "url": self.url,
                        "caBundle": base64.b64encode(self.ca_pem).decode(),
                    },
                    "rules": rules,
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": namespace}
                    },
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Ignore",
                    "timeoutSeconds": WEBHOOK_TIMEOUT,
                }
            ],
        }

    def record(self, review: Review) -> None:
        with self._lock:
            self.seen.append(review)

    def reviews(self) -> list[Review]:
        with self._lock:
            return list(self.seen)

    def wait_held(self, timeout: float) -> bool:
        return self.held.wait(timeout)

    def wait_for(self, wanted: Callable[[list[Review]], bool], timeout: float) -> bool:
        """Poll what the gate saw until ``wanted`` holds; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted(self.reviews()):
                return True
            time.sleep(0.1)
        return wanted(self.reviews())

    def release(self) -> None:
        """Let every held write go, and every later one through at once."""
        self.holding.clear()
        self.released.set()

    def hold(self, review: Review) -> None:
        """Called by the handler for each request: hold a real write while holding."""
        self.record(review)
        if review.dry_run or not self.holding.is_set():
            return
        self.held.set()
        self.released.wait(HOLD_LIMIT)

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        gate: AdmissionGate = self.server.gate  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        request = body.get("request", {})
        review = Review(
            operation=str(request.get("operation", "")),
            kind=str(request.get("kind", {}).get("kind", "")),
            name=str(request.get("name", "")),
            dry_run=bool(request.get("dryRun", False)),
        )
        gate.hold(review)
        answer = json.dumps(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {"uid": request.get("uid", ""), "allowed": True},
            }
        ).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            # The API server that asked is gone (a fault test stopped it): nobody to answer.
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the gate's record is ``seen``, not stderr."""
