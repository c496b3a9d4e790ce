"""The documentation stays true to the code: every `uv run gh-runner ...` it quotes parses, and
every relative link (and its #anchor) leads somewhere."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from runner_k8s.cli import parser

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")])
# Written on another branch at the same time as these pages; checked like the others once here.
PENDING = {REPO / "docs" / "when-things-go-wrong.md"}

_COMMAND = re.compile(r"uv run gh-runner ([^`#|>\n]*)")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*```")


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line in page.read_text().splitlines():
            for match in _COMMAND.finditer(line):
                found.append((page.relative_to(REPO).as_posix(), match[1].strip()))
    return found


COMMANDS = _commands()


def test_the_pages_quote_commands() -> None:
    assert len(COMMANDS) > 15
    assert {c.split()[0] for _, c in COMMANDS} >= {"render", "diff", "status", "schema"}


@pytest.mark.parametrize(("page", "command"), COMMANDS, ids=[f"{p}: {c}" for p, c in COMMANDS])
def test_quoted_command_parses(page: str, command: str) -> None:
    tokens = shlex.split(command)
    with pytest.raises(SystemExit) as done:
        parser().parse_args([tokens[0], "--help"])
    assert done.value.code == 0, f"{page}: no subcommand {tokens[0]!r}"
    if any(mark in command for mark in ("[", "...")):
        return  # a synopsis: its placeholders are not arguments
    # A concrete command line: its options must be ones the subcommand takes.
    parser().parse_args(tokens)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors, fenced = set(), False
    for line in page.read_text().splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def _links() -> list[tuple[Path, str]]:
    found = []
    for page in PAGES:
        # Code spans first: a regex in one (the reference's patterns) can look like a link.
        prose = re.sub(r"`[^`\n]*`", "", page.read_text())
        for target in _LINK.findall(prose):
            if not re.match(r"^[a-z]+:", target):
                found.append((page, target))
    return found


LINKS = _links()


def test_the_pages_link_to_each_other() -> None:
    assert len(LINKS) > 20


@pytest.mark.parametrize(
    ("page", "target"), LINKS, ids=[f"{p.relative_to(REPO)} -> {t}" for p, t in LINKS]
)
def test_relative_link_resolves(page: Path, target: str) -> None:
    path_part, _, anchor = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    if destination in PENDING and not destination.exists():
        return
    assert destination.exists(), f"{page.relative_to(REPO)}: {target} does not exist"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination), f"{page.relative_to(REPO)}: no #{anchor} there"


def test_slugs_follow_github() -> None:
    assert _slug(" Roll the runners: `runner.rolloutOnConfigChange`") == (
        "roll-the-runners-runnerrolloutonconfigchange"
    )
    assert _slug("A policy pack: `policies/`") == "a-policy-pack-policies"
