"""Container image references: tag, digest, and the runner version an image tag carries.

A tiny parser rather than ``packaging.version``: runner versions are always three numbers, the
tags (``2.329.0-7e2153``) are not PEP 440 versions anyway, and a tuple of ints compares right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RunnerVersion = tuple[int, int, int]

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# The runner version leads the tag: 2.329.0, v2.329.0, 2.329.0-7e2153, 2.329.0_build.3 ...
_VERSION_TAG = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-_+].*)?$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None
    digest: str | None  # "sha256:<64 hex>", as written after '@'


def parse_image(image: str) -> ImageRef:
    name, at, digest = image.partition("@")
    repository, tag = name, None
    # A ':' before the last '/' is a registry port (host:5000/runner), not a tag.
    if ":" in name.rsplit("/", 1)[-1]:
        repository, tag = name.rsplit(":", 1)
    return ImageRef(repository, tag or None, digest if at else None)


def is_digest(digest: str) -> bool:
    return bool(_DIGEST.match(digest))


def parse_version(text: str) -> RunnerVersion | None:
    match = _VERSION.match(text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def runner_version(image: str) -> RunnerVersion | None:
    """The runner version the image tag names; None for a digest-pinned image (the tag beside a
    digest is ignored by Kubernetes, so it proves nothing) or a tag that names no version."""
    ref = parse_image(image)
    if ref.digest is not None or ref.tag is None:
        return None
    match = _VERSION_TAG.match(ref.tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def show(version: RunnerVersion) -> str:
    return ".".join(map(str, version))
