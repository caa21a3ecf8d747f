"""Every ``avatar-bridge`` command shown in the README and docs/ parses with the real CLI parser.

A user copies these lines; one that the parser rejects is a broken promise (the README's batch-bake
example once passed two formats space-separated, which ``--format`` does not take).
"""

from __future__ import annotations

import re
import shlex

import pytest

from bridge.cli import build_parser
from bridge.offline.exports import FORMATS
from tests.conftest import ROOT

_FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)


def documented_commands() -> list[tuple[str, list[str]]]:
    """(where, argv after ``avatar-bridge``) for every command line in a fenced block."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in _FENCE.findall(doc.read_text()):
            for line in block.splitlines():
                code = line.split(" #", 1)[0]
                # Pipelines and command lists: each part that calls the bridge is one command.
                for part in re.split(r"[|;]|&&", code):
                    if not part.strip().startswith("avatar-bridge "):
                        continue
                    # [optional] parts count as given; a quoted "..." is some text, a bare ... more options.
                    words = shlex.split(part.replace("[", "").replace("]", "").replace('"..."', "text"))
                    argv = [w for w in words[1:] if w != "..."]
                    found.append((f"{doc.relative_to(ROOT)}: {part.strip()}", argv))
    return found


COMMANDS = documented_commands()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[c[0][:80] for c in COMMANDS])
def test_documented_command_parses(where: str, argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{where}: the parser rejects it (exit {e.code})")
    for fmt in ",".join(getattr(args, "format", None) or []).split(","):
        assert not fmt or fmt in FORMATS, f"{where}: unknown format {fmt!r}"
