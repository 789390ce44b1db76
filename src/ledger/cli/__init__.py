"""The ``ledger`` command: a thin click layer over the Python API.

Each command parses its options, calls one API function, and formats the
result with :mod:`ledger.cli.output`. Errors a user can act on exit with
status 2 and a one-line message, never a traceback.
"""

from __future__ import annotations

import importlib

import click

from ledger import __version__

COMMAND_MODULES = ("core", "timetravel", "readmodel", "bench")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    """


for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"ledger.cli.{_name}")
    except ModuleNotFoundError as _error:
        if _error.name != f"ledger.cli.{_name}":
            raise
        continue
    for _command in getattr(_module, "COMMANDS", []):
        main.add_command(_command)
