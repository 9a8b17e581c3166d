"""The README's Commands table is the `repfit --help` a new user reads first: same commands,
real options."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from repfit.host.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _table_rows() -> dict[str, str]:
    """``command -> its usage cell`` for each row of the README's Commands table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("## Commands", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        m = re.match(r"\| `repfit (\w+)([^`]*)` \|", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in build_parser()._actions
                 if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_the_commands_table_lists_every_command_in_help_order() -> None:
    assert list(_table_rows()) == list(_subcommands())


def test_the_options_in_the_commands_table_are_real_options() -> None:
    commands = _subcommands()
    for command, usage in _table_rows().items():
        known = {s for a in commands[command]._actions for s in a.option_strings}
        shown = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", usage))
        assert shown <= known, (command, shown - known)
