"""The ``ledger`` command: a thin click layer over the Python API.

Each command parses its options, calls one API function, and formats the
result with :mod:`ledger.cli.output`. Errors a user can act on exit with
status 2 and a one-line message, never a traceback.

Commands are loaded when they are run (or listed by ``--help``), so
``ledger replay`` does not pay for importing validation and the store it may
not need: :data:`COMMANDS` says which module defines each one.
"""

from __future__ import annotations

import importlib

import click

from ledger import __version__

COMMANDS = {
    "ingest": "core", "log": "core", "show": "core", "verify": "core", "schema": "core",
    "replay": "timetravel", "audit": "timetravel", "diff": "timetravel", "timeline": "timetravel",
    "project": "readmodel", "migrate": "readmodel", "serve": "readmodel",
    "copy": "copy",
    "keygen": "proof", "checkpoint": "proof", "prove": "proof", "verify-proof": "proof",
    "chart": "chart",
}  # fmt: skip
"""Command name to the module of ``ledger.cli`` that defines it (in that module's ``COMMANDS`` list)."""


class LazyGroup(click.Group):
    """A group whose commands are imported from their module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module = importlib.import_module(f"ledger.cli.{COMMANDS[name]}")
            for command in module.COMMANDS:
                self.add_command(command)
        return self.commands.get(name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ledger")
def main() -> None:
    """An event-sourced decision ledger.

    Record every decision, request, statement, battlefield event and aid package
    as an immutable event with its sources, then ask what was in effect on any
    date, as known on any date, and how it got there.

    \b
    Start here:
      ledger ingest events/             validate and append the corpus
      ledger log --kind policy_change   list events
      ledger show EVENT_ID              one event with its sources
      ledger verify                     check the hash chain

    The store is ./ledger.db unless --db or LEDGER_DB names another.

    \b
    Shell completion of commands, options, event and entity ids (bash; zsh and fish alike):
      eval "$(_LEDGER_COMPLETE=bash_source ledger)"      in ~/.bashrc
      eval "$(_LEDGER_COMPLETE=zsh_source ledger)"       in ~/.zshrc
      _LEDGER_COMPLETE=fish_source ledger | source       in ~/.config/fish/completions/ledger.fish
    """
