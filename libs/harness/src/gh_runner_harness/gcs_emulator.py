"""A Cloud Storage emulator on 127.0.0.1 for the state tier: fake-gcs-server, with one bucket
versioned as the bootstrap stack makes the production state bucket, so `pulumi login gs://...`
runs the DIY backend's real GCS code (gocloud's gcsblob) against it.

The binary comes from scripts/gcs-emulator-toolchain.sh (``toolchain`` finds it). What the
engine needs to reach it, measured with fake-gcs-server v1.56.1 and Pulumi 3.274:

- ``STORAGE_EMULATOR_HOST=127.0.0.1:PORT``, host and port only: with a scheme the client dials
  ``http://http/...``;
- a credential, any: ``GOOGLE_OAUTH_ACCESS_TOKEN`` (without one: "missing google credentials");
- the server started with ``-public-host 127.0.0.1:PORT``: without it `stack init` works and
  `up` then fails to load the checkpoint (downloads go to the default public host);
- ``-backend memory``: object versioning works only there.

The helpers below are the JSON API calls behind the `gcloud storage` commands that
docs/state-backend.md and docs/when-things-go-wrong.md show, so the tier runs what they say:

    with running_gcs_emulator(tmp_path, bin_dir()) as gcs:
        gcs.generations(".pulumi/stacks/gh-runner-shared/dev.json")   # ls --all-versions --long
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from .control_plane import start, stop, wait_until_healthy

BUCKET = "gh-runner-state"
# The emulator checks no credential; the Google client libraries only need one to be set.
ACCESS_TOKEN = "gh-runner-state-tier"
READY_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Generation:
    """One version of an object, as `gcloud storage ls --all-versions --long` lists it."""

    name: str
    generation: int
    created: str
    size: int
    # Set once a newer version replaced it or it was deleted (a noncurrent version).
    noncurrent_since: str | None

    @property
    def live(self) -> bool:
        return self.noncurrent_since is None


def emulator_command(binary: Path, port: int) -> list[str]:
    host = f"127.0.0.1:{port}"
    return [
        str(binary),
        "-scheme",
        "http",
        "-backend",
        "memory",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-public-host",
        host,
        "-external-url",
        f"http://{host}",
        "-log-level",
        "warn",
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _object_path(bucket: str, name: str) -> str:
    return f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}"


@dataclass
class GcsEmulator:
    host: str
    bucket: str
    process: subprocess.Popen[bytes]
    log: Path
    client: httpx.Client

    @property
    def backend_url(self) -> str:
        return f"gs://{self.bucket}"

    @property
    def engine_env(self) -> dict[str, str]:
        """What the Pulumi CLI (and the Google libraries in it) needs to use this emulator."""
        return {"STORAGE_EMULATOR_HOST": self.host, "GOOGLE_OAUTH_ACCESS_TOKEN": ACCESS_TOKEN}

    def url(self, name: str) -> str:
        """The object as gcloud names it, gs://BUCKET/NAME."""
        return f"{self.backend_url}/{name}"

    def create_bucket(self, name: str, versioning: bool = True) -> None:
        body = {"name": name, "versioning": {"enabled": versioning}}
        done = self.client.post("/storage/v1/b", params={"project": "gh-runner"}, json=body)
        done.raise_for_status()

    def names(self, prefix: str) -> list[str]:
        """The live objects under ``prefix`` (`gcloud storage ls gs://BUCKET/PREFIX**`)."""
        return [item["name"] for item in self._list(prefix, versions=False)]

    def generations(self, name: str) -> list[Generation]:
        """Every version of one object, oldest first
        (`gcloud storage ls --all-versions --long gs://BUCKET/NAME`)."""
        versions = [
            Generation(
                name=item["name"],
                generation=int(item["generation"]),
                created=item.get("timeCreated", ""),
                size=int(item.get("size", 0)),
                noncurrent_since=item.get("timeDeleted"),
            )
            for item in self._list(name, versions=True)
            if item["name"] == name
        ]
        return sorted(versions, key=lambda v: v.generation)

    def read(self, name: str, generation: int | None = None) -> bytes:
        """An object's content, the live version or one generation
        (`gcloud storage cat gs://BUCKET/NAME[#GENERATION]`)."""
        params = {"alt": "media"}
        if generation is not None:
            params["generation"] = str(generation)
        done = self.client.get(_object_path(self.bucket, name), params=params)
        done.raise_for_status()
        return done.content

    def restore(self, name: str, generation: int) -> int:
        """Copy one generation onto the name, making it live again; the version it replaces
        becomes noncurrent (`gcloud storage cp gs://BUCKET/NAME#GENERATION gs://BUCKET/NAME`).
        Returns the new live generation."""
        path = _object_path(self.bucket, name)
        done = self.client.post(
            f"{path}/copyTo/b/{self.bucket}/o/{quote(name, safe='')}",
            params={"sourceGeneration": str(generation)},
        )
        done.raise_for_status()
        return int(done.json()["generation"])

    def delete(self, name: str) -> None:
        """Delete the live version; in a versioned bucket it stays as a noncurrent one
        (`gcloud storage rm gs://BUCKET/NAME`)."""
        self.client.delete(_object_path(self.bucket, name)).raise_for_status()

    def _list(self, prefix: str, versions: bool) -> list[dict[str, str]]:
        items: list[dict[str, str]] = []
        params = {"prefix": prefix, "versions": str(versions).lower()}
        while True:
            done = self.client.get(f"/storage/v1/b/{self.bucket}/o", params=params)
            done.raise_for_status()
            page = done.json()
            items += page.get("items", [])
            if not page.get("nextPageToken"):
                return items
            params["pageToken"] = page["nextPageToken"]


@contextlib.contextmanager
def running_gcs_emulator(
    workdir: Path, bin_dir: Path, bucket: str = BUCKET, ready_timeout: float = READY_TIMEOUT
) -> Iterator[GcsEmulator]:
    """Start fake-gcs-server on a free 127.0.0.1 port with a versioned ``bucket``; end it on
    exit (by its pid, even on error). Its objects live in its memory and go with it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "fake-gcs-server.log"
    process = start(emulator_command(bin_dir / "fake-gcs-server", port), log)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(
            "fake-gcs-server", process, f"{base}/_internal/healthcheck", log, timeout=ready_timeout
        )
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            emulator = GcsEmulator(f"127.0.0.1:{port}", bucket, process, log, client)
            emulator.create_bucket(bucket)
            yield emulator
    finally:
        stop(process)
