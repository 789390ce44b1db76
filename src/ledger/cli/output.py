"""Output for the command line: tables (rich), JSON and Markdown, and user-facing errors."""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson
from click.core import ParameterSource

from ledger import settings

if TYPE_CHECKING:
    from rich.console import Console

    from ledger.api import Ledger

FORMATS = ("table", "json", "markdown")


class SettingOption(click.Option):
    """An option that, when not given, takes its value from :mod:`ledger.settings` (the one reader of the environment)."""

    def __init__(self, *args: Any, setting: Callable[[], str | None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting

    def consume_value(self, ctx: click.Context, opts: Any) -> tuple[Any, Any]:
        value, source = super().consume_value(ctx, opts)
        if source == click.core.ParameterSource.DEFAULT:
            value = self.setting() or value
        return value, source


db_option = click.option(
    "--db",
    cls=SettingOption,
    setting=settings.ledger_db,
    default=settings.DEFAULT_DB,
    show_default=True,
    help="The ledger database (SQLite file). Also set by LEDGER_DB.",
)


view_option = click.option(
    "--view",
    cls=SettingOption,
    setting=settings.view_db,
    help="The read model (SQLite file). Also set by LEDGER_VIEW_DB. Default: beside the store, ledger.db → ledger.view.db.",
)

BUNDLED_EVENTS = Path("events")


def open_ledger(db: str, view: str | None = None, *, create: bool = False) -> Ledger:
    """The ledger a command works on.

    A read command given a ``--db`` (or ``LEDGER_DB``) that does not exist fails
    with a one-line message; only the default ``./ledger.db`` is built from
    ``./events`` on first use, and the command says that it did.
    """
    from ledger.api import Ledger, NoLedger, build_from_folder, ledger_exists

    if create or ledger_exists(db):
        return Ledger(db, view=view, create=create)
    source = click.get_current_context().get_parameter_source("db")
    if source is not ParameterSource.DEFAULT or db != settings.DEFAULT_DB or not BUNDLED_EVENTS.is_dir():
        raise UserError(str(NoLedger(db)))
    from ledger.ingest import IngestError

    click.echo(f"no ledger at {db}: building it from ./{BUNDLED_EVENTS} first", err=True)
    try:
        report = build_from_folder(db, BUNDLED_EVENTS, view=view)
    except IngestError as error:
        raise UserError(f"cannot build {db} from ./{BUNDLED_EVENTS}: {error.problems[0]} ({error})") from None
    click.echo(f"appended {len(report.appended)} event(s) into {db}", err=True)
    return Ledger(db, view=view)


TABLE_FORMATS = ("table", "json", "csv", "tsv")
"""The formats of a command whose output is a table."""


def format_option(choices: Sequence[str] = ("table", "json")) -> Callable:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default="table",
        show_default=True,
        help="table for people, json for scripts"
        + (", markdown for notes" if "markdown" in choices else "")
        + (", csv or tsv for spreadsheets" if "csv" in choices else ""),
    )


def console() -> Console:
    """Standard output: the terminal's width and colours on a terminal; plain and wide when piped."""
    from rich.console import Console

    from ledger.cli.terminal import PIPED_WIDTH

    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def emit(*renderables: Any) -> None:
    """Print to standard output, through a pager when on a terminal and longer than the screen."""
    from ledger.cli.terminal import show

    show(console(), renderables)


def emit_delimited(sections: Sequence[tuple[Sequence[str], Sequence[Sequence[Any]]]], fmt: str) -> None:
    """Tables as CSV or TSV, each with its header line; several tables are separated by an empty line."""
    from ledger.cli.terminal import delimited

    click.echo("\n".join(delimited(columns, rows, "," if fmt == "csv" else "\t") for columns, rows in sections), nl=False)


def error_console() -> Console:
    """A console on standard error, for progress bars that must not mix with the output."""
    from rich.console import Console

    return Console(stderr=True)


JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS


def emit_json(data: Any) -> None:
    """Indented UTF-8 JSON on standard output, keys sorted so the same answer prints the same bytes whichever engine gave it."""
    encoded = orjson.dumps(data, option=JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE, default=str)
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stream (an embedding program's): decode once
        sys.stdout.write(encoded.decode())
        return
    sys.stdout.flush()
    out.write(encoded)
    out.flush()


def emit_json_lists(data: dict[str, Any], lists: Sequence[str], batch: int = 2000) -> None:
    """:func:`emit_json` of ``data`` whose ``lists`` are iterables of compact JSON texts (UTF-8 bytes), each written as it is read.

    The same bytes as :func:`emit_json` with each text a :class:`orjson.Fragment`:
    the rest of ``data`` is dumped with a marker in each list, and the texts
    take the markers' places, ``batch`` at a time, never the whole output in memory.
    """
    markers = {name: f'"\\u0000{name}"'.encode() for name in lists if name in data}
    marked = {name: [orjson.Fragment(marker)] for name, marker in markers.items()}
    rest = orjson.dumps({**data, **marked}, option=JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE, default=str)
    out = getattr(sys.stdout, "buffer", None)
    write = out.write if out is not None else (lambda chunk: sys.stdout.write(chunk.decode()))
    sys.stdout.flush()
    for name in sorted(markers):  # in the order the keys are dumped
        before, _, rest = rest.partition(b"[\n    " + markers[name] + b"\n  ]")
        write(before)
        texts = iter(data[name])
        chunk = list(itertools.islice(texts, batch))
        if not chunk:
            write(b"[]")
            continue
        write(b"[\n    ")
        while chunk:
            write(LIST_SEPARATOR.join(chunk))
            chunk = list(itertools.islice(texts, batch))
            if chunk:
                write(LIST_SEPARATOR)
        write(b"\n  ]")
    write(rest)
    sys.stdout.flush()
    if out is not None:
        out.flush()


LIST_SEPARATOR = b",\n    "  # between the items of a list in a top-level key, as OPT_INDENT_2 lays them out


def table(title: str | None, columns: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Any:
    """A table laid out for the width it is printed at, never folding a word (:mod:`ledger.cli.terminal`)."""
    from ledger.cli.terminal import Tabular

    return Tabular(title, [(columns, rows)])


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


class UserError(click.ClickException):
    """An error the user can act on: printed as one line, exit status 2."""

    exit_code = 2


def user_errors(*error_types: type[Exception]) -> Callable:
    """Turn the given exception types (and the ledger's own) into one-line messages with exit 2."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from ledger.dates import DateError
            from ledger.projections.selection import UnknownEntity, UnknownProjection

            expected = (DateError, UnknownEntity, UnknownProjection, *error_types)
            try:
                return command(*args, **kwargs)
            except expected as error:  # type: ignore[misc]  # mypy cannot see a starred tuple of exception types
                raise UserError(str(error)) from None
            except Exception as error:
                if isinstance(error, loaded_error_types()):
                    raise UserError(str(error)) from None
                raise

        return wrapper

    return decorate


def loaded_error_types() -> tuple[type[Exception], ...]:
    """The ledger's user-facing errors from the modules this command loaded.

    Checking only loaded modules keeps commands that never open the store (or
    the read model) from loading them just to name their errors.
    """
    names = {
        "ledger.store": "StoreError",
        "ledger.api": "NoLedger",
        "ledger.browse": "UnknownEvent",
        "ledger.readmodel.schema": "ReadModelError",
    }
    return tuple(getattr(sys.modules[module], name) for module, name in names.items() if module in sys.modules)


def actor_names(ledger: Ledger) -> dict[str, str]:
    """Actor id to name, from the ledger's registry: shown beside actor ids in tables people read."""
    actors = ledger.store.registry("actor").get("actor", {})
    return {key: entry["name"] for key, entry in actors.items() if entry.get("name")}


# --- shell completion ---------------------------------------------------------------------------


def timeline_for_completion(ctx: click.Context) -> list[dict[str, Any]]:
    """The ledger's timeline rows, for completing ids; nothing when there is no ledger (or it fails)."""
    from ledger.settings import ledger_db

    db = ctx.params.get("db") or ledger_db()
    if not Path(db).exists():
        return []
    from ledger.api import Ledger

    try:
        with Ledger(db, view=ctx.params.get("view")) as ledger:
            rows: list[dict[str, Any]] = ledger.timeline().model_dump(mode="json")["events"]
            return rows
    except Exception:  # a completion must never print a traceback into the user's shell
        return []


def complete_event_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of event ids."""
    from click.shell_completion import CompletionItem

    ids = sorted({row["id"] for row in timeline_for_completion(ctx)})
    return [CompletionItem(key) for key in ids if key.startswith(incomplete)]


def complete_entity_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of entity ids (restrictions, aid packages, territory, and ACTOR:QUESTION positions)."""
    from click.shell_completion import CompletionItem

    ids = sorted({row["entity"].partition(":")[2] for row in timeline_for_completion(ctx) if row.get("entity")})
    return [CompletionItem(key) for key in ids if key.startswith(incomplete)]
