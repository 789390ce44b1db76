"""The command table: every command is listed, loaded from the module that defines it, and replay starts light."""

from __future__ import annotations

import importlib
import subprocess
import sys

from click.testing import CliRunner

from ledger.cli import COMMANDS, main


def test_the_table_names_each_command_of_each_module_and_nothing_else():
    defined = {}
    for module in set(COMMANDS.values()):
        for command in importlib.import_module(f"ledger.cli.{module}").COMMANDS:
            defined[command.name] = module
    assert defined == COMMANDS


def test_help_lists_every_command():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)


def test_an_unknown_command_is_refused():
    result = CliRunner().invoke(main, ["replai"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_replay_from_the_read_model_loads_neither_validation_nor_the_store():
    code = (
        "import sys; from ledger.cli import main; main.get_command(None, 'replay');"
        "print(sorted(m for m in ('pydantic', 'eventsourcing', 'ledger.store', 'ledger.ingest') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
