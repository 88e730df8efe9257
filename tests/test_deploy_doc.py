"""docs/deploy.md names only real commands: every `flexledger` (or `fl`) line in its examples
parses with the CLI's own parser, flags and all."""
import re
import shlex
from pathlib import Path

import pytest

from cli.main import build_parser

DOC = Path(__file__).resolve().parent.parent / "docs" / "deploy.md"
COMMAND = re.compile(r"^(?:fl|flexledger|/opt/flexledger/bin/flexledger)\s")
SHELL_SUBSTITUTION = re.compile(r"\$\([^)]*\)")  # $(date +%F): one word to the CLI


def example_commands() -> list[str]:
    """The command lines of the doc's indented examples, continuation lines joined, comments cut."""
    commands, pending = [], ""
    for line in DOC.read_text().splitlines():
        if not line.startswith("    ") and not pending:
            continue
        text = pending + line.strip()
        if text.endswith("\\"):
            pending = text[:-1] + " "
            continue
        pending = ""
        if COMMAND.match(text):
            commands.append(text)
    return commands


def test_the_doc_has_the_walk_s_commands():
    names = {" ".join(shlex.split(c, comments=True)[1:3]) for c in example_commands()}
    for expected in ("node init", "genesis new", "genesis finalize", "node install-genesis", "validators approve",
                     "node export-state", "node import-state"):
        assert any(name.endswith(expected) or expected in name for name in names), expected


@pytest.mark.parametrize("command", example_commands())
def test_every_example_parses(command):
    argv = shlex.split(SHELL_SUBSTITUTION.sub("x", command), comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exit:
        assert exit.code == 0, f"docs/deploy.md: not a valid command line: {command}"  # 0: --help
