"""What a fleet registers as and runs: its runner labels (config checks, `runsOn`) and its
image, pinned and new enough (images.py and the config check on it)."""

from __future__ import annotations

import pytest
from runner_fixtures import DIGEST, runner_error, runner_values

from runner_k8s.config.runner_checks import load_runner_stack
from runner_k8s.kube.images import parse_image, runner_version


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([""], "runner.labels[0]: must not be empty"),
        (["ok", "two words"], "runner.labels[1]: 'two words' must not contain whitespace"),
        (["tab\there"], "runner.labels[0]: 'tab\\there' must not contain whitespace"),
        (["a,b"], "runner.labels[0]: 'a,b' must not contain ','"),
        (
            ["gpu", "x", "GPU"],
            "runner.labels[2]: duplicate label 'GPU' (also runner.labels[0]; "
            "GitHub compares labels case-insensitively)",
        ),
        (["Self-Hosted"], "runner.labels[0]: 'Self-Hosted' is a label GitHub gives every"),
    ],
)
def test_bad_labels_name_their_index(labels: list[str], expected: str) -> None:
    assert expected in runner_error(labels=labels)


def test_runs_on_puts_self_hosted_first() -> None:
    runner = load_runner_stack(runner_values(labels=["gemini-2.5-flash", "gemini-2.5-pro"])).runner
    assert runner.runs_on == ["self-hosted", "gemini-2.5-flash", "gemini-2.5-pro"]
    assert load_runner_stack(runner_values()).runner.runs_on == ["self-hosted"]


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("ghcr.io/spigell/codex-github-runner:2.329.0-7e2153", (2, 329, 0)),
        ("ghcr.io/x/runner:v2.330.1", (2, 330, 1)),
        ("registry:5000/runner:2.1.0", (2, 1, 0)),
        ("ghcr.io/x/runner:2.329.0-7e2153@" + DIGEST, None),  # the digest wins, the tag is moot
        ("ghcr.io/x/runner@" + DIGEST, None),
        ("ghcr.io/x/runner:main", None),
        ("ghcr.io/x/runner:2.329", None),
        ("ghcr.io/x/runner:2.329.0.1", None),
    ],
)
def test_runner_version_from_the_tag(image: str, version: tuple[int, int, int] | None) -> None:
    assert runner_version(image) == version


def test_a_registry_port_is_not_a_tag() -> None:
    ref = parse_image("registry:5000/runner")
    assert (ref.repository, ref.tag, ref.digest) == ("registry:5000/runner", None, None)


@pytest.mark.parametrize(
    "image",
    ["ghcr.io/x/runner", "ghcr.io/x/runner:latest", "registry:5000/runner"],
)
def test_unpinned_images_are_refused(image: str) -> None:
    message = runner_error(image=image)
    assert message.startswith(f"runner.image: {image!r} is not pinned")
    assert "@sha256:" in message


@pytest.mark.parametrize(
    "image", ["ghcr.io/x/runner@" + DIGEST, "ghcr.io/x/runner:latest@" + DIGEST]
)
def test_a_digest_pins_even_without_a_tag(image: str) -> None:
    assert load_runner_stack(runner_values(image=image, minRunnerVersion="2.329.0"))


def test_a_malformed_digest_is_refused() -> None:
    assert runner_error(image="ghcr.io/x/runner@sha256:abc").startswith(
        "runner.image: the digest after '@' must be sha256: and 64 hex digits"
    )


def test_a_tag_below_the_minimum_runner_version_stops_with_the_reason() -> None:
    message = runner_error(image="ghcr.io/x/runner:2.328.9-abc", minRunnerVersion="2.329.0")
    assert message.startswith(
        "runner.image: runner 2.328.9 (from the tag) is below runner.minRunnerVersion 2.329.0"
    )
    assert "RUNNER_DISABLE_UPDATES=1" in message
    assert "stops receiving jobs once GitHub deprecates its version" in message


@pytest.mark.parametrize("tag", ["2.329.0-7e2153", "2.329.1", "3.0.0", "v2.400.0"])
def test_a_tag_at_or_above_the_minimum_passes(tag: str) -> None:
    runner = load_runner_stack(
        runner_values(image=f"ghcr.io/x/runner:{tag}", minRunnerVersion="2.329.0")
    ).runner
    assert runner.min_runner_version == "2.329.0"


def test_a_minimum_needs_a_tag_that_names_a_version() -> None:
    message = runner_error(image="ghcr.io/x/runner:main", minRunnerVersion="2.329.0")
    assert message.startswith("runner.image: tag 'main' names no runner version")
    assert "runner.minRunnerVersion (2.329.0) cannot be checked" in message


@pytest.mark.parametrize("value", ["2.329", "v2.329.0", "latest", ""])
def test_bad_minimum_runner_version(value: str) -> None:
    assert runner_error(minRunnerVersion=value).startswith(
        f"runner.minRunnerVersion: {value!r} is not a runner version X.Y.Z"
    )
