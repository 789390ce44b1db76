"""How far the targets a run missed can go: bounds measured on the run's own results and the stores it left.

``python -m benchmarks.bounds RESULTS.json`` reads a full run's results and, in its folder,
the store and the read model at N events, and measures four bounds:

- **ingest on two cores** (from the results alone): the CPU the ingest spent per
  event, in its appending process and its validation workers together, spread
  over the machine's cores with no wait at all. The rate that gives, divided by
  the raw rate of the same run, is the best ``ingest ÷ raw`` the run's code could
  reach however well its pipeline overlapped; and the CPU per event the target
  allows is set beside it.
- **the store's append-only triggers**: the rows the store's appends wrote, copied
  one append at a time with ``executemany`` as the raw baseline copies them
  (:func:`benchmarks.write.copy_appends`), into same-shaped tables without triggers and
  with the store's own triggers, alternately, three times each; the median user
  CPU per event of each. The raw baseline pays no trigger; every ingest pays them.
- **a question through ``Ledger``, by part**: one entity on one date asked
  through ``Ledger.replay`` (as the query phase asks it), the read model's lookup
  alone, and the check ``Ledger`` makes before each answer that the read model is
  current (``Ledger.engine_for``), each timed on the same questions, interleaved.
  The lookup and the check together are the least a question through ``Ledger``
  can cost while its answer is never stale.
- **the read model's bytes** by what they serve (events with their sources and
  full-text search, histories with their indexes, states, the rest), and what it
  would weigh with its states compressed with zstd (a dictionary trained on a
  sample of each states table): what could be saved if no one read states as text.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import click
import zstandard

from benchmarks.measure import disk_usage, latency_summary
from benchmarks.write import copy_appends
from ledger.store import open_reader

TRIGGER_ROUNDS = 3
"""Copies without and with the store's triggers, alternately; the median CPU per event of each is reported."""
STATE_SAMPLE = 20_000
"""Rows at most read from each states table: half train the dictionary, the other half are compressed with it."""
DICTIONARY_BYTES = 112_640
"""zstd's default dictionary size."""
QUESTIONS = 2_000
"""Questions asked of each part of a question through ``Ledger`` (each asked once before, to warm up)."""


# --- ingest on two cores ----------------------------------------------------------------------


def ingest_bound(results: dict[str, Any], cores: int, target: float = 0.5) -> dict[str, Any]:
    """The best ``ingest ÷ raw`` the run's ingest could reach on ``cores`` cores, from the CPU it spent per event."""
    ingest, raw = results["phases"]["ingest"], results["phases"]["raw"]
    events = ingest["events"]
    main_us = ingest["main_cpu_seconds"] / events * 1e6
    workers_us = ingest["validation_cpu_seconds"] / events * 1e6
    cpu_us = main_us + workers_us
    best_rate = cores * 1e6 / cpu_us
    raw_rate = raw["events_per_s"]
    return {
        "events": events,
        "cores": cores,
        "appending_process_cpu_us": main_us,
        "workers_cpu_us": workers_us,
        "cpu_us": cpu_us,
        "measured_ratio": ingest["events_per_s"] / raw_rate,
        "best_rate": best_rate,
        "raw_rate": raw_rate,
        "best_ratio": best_rate / raw_rate,
        "target": target,
        "cpu_us_the_target_allows": cores * 1e6 / (target * raw_rate),
    }


# --- the store's append-only triggers -------------------------------------------------------------


def store_triggers(store: str) -> list[str]:
    """The store's triggers on the tables an append writes, as it made them."""
    with open_reader(store) as source:
        return source.raw_triggers()  # type: ignore[attr-defined]  # a SQLite store's reader


def trigger_cost(store: str, scratch: str, events: int | None = None, rounds: int = TRIGGER_ROUNDS) -> dict[str, Any]:
    """The store's appends copied raw without triggers and with the store's own, ``rounds`` times each, alternately."""
    triggers = store_triggers(store)
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    for _ in range(rounds):
        runs["without"].append(copy_appends(store, scratch, events=events))
        runs["with"].append(copy_appends(store, scratch, triggers=triggers, events=events))
    median = {label: statistics.median(run["cpu_us"] for run in found) for label, found in runs.items()}
    return {
        "triggers": [re.match(r"CREATE TRIGGER (?:IF NOT EXISTS )?(\w+)", sql).group(1) for sql in triggers],  # type: ignore[union-attr]
        "runs": runs,
        "without_cpu_us": median["without"],
        "with_cpu_us": median["with"],
        "triggers_cpu_us": median["with"] - median["without"],
    }


# --- a question through Ledger, by part -------------------------------------------------------------


def question_parts(db: str, count: int = QUESTIONS, seed: int = 20240530) -> dict[str, Any]:
    """p50 / p99 of a question through ``Ledger``, of the read model's lookup alone and of the currency check, on the same questions."""
    import random

    from benchmarks.read import entity_lookup, questions
    from ledger.api import Ledger
    from ledger.readmodel.query import open_view

    rng = random.Random(seed)
    with Ledger(db) as ledger:
        connection = open_view(ledger.view_path)
        try:
            _, asks = questions(connection, rng, count)
            through, lookup = entity_lookup(ledger.replay), entity_lookup(None)
            engines: set[str] = set()
            parts: dict[str, Any] = {
                "through_ledger": lambda ask: through(connection, *ask),
                "lookup": lambda ask: lookup(connection, *ask),
                "currency_check": lambda ask: engines.add(ledger.engine_for()),
            }
            times: dict[str, list[float]] = {label: [] for label in parts}
            for ask in asks:  # every question once first: the pages it reads are in memory, as in a server asked for a while
                for part in parts.values():
                    part(ask)
            for ask in asks:
                for label, part in parts.items():
                    started = time.perf_counter()
                    part(ask)
                    times[label].append(time.perf_counter() - started)
        finally:
            connection.close()
    found: dict[str, Any] = {label: latency_summary(seconds) for label, seconds in times.items()}
    found["questions"] = count
    found["engines"] = sorted(engines)
    found["floor_p50_ms"] = found["lookup"]["p50_ms"] + found["currency_check"]["p50_ms"]
    found["ledger_adds_p50_ms"] = found["through_ledger"]["p50_ms"] - found["lookup"]["p50_ms"]
    return found


# --- the read model's bytes ------------------------------------------------------------------------


def _base_tables(conn: sqlite3.Connection) -> dict[str, str]:
    """Each table and index of the read model → the table it serves (a full-text index's shadow tables → its content table)."""
    owners = {name: table for name, table in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")}
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"):
        content = re.search(r"content\s*=\s*'?\"?(\w+)", sql)
        for shadow in [n for n in owners if n.startswith(f"{name}_")]:
            owners[shadow] = content.group(1) if content else name
        owners[name] = content.group(1) if content else name
    return owners


def _group(table: str) -> str:
    if table.endswith("_states"):
        return "states"
    if table.endswith("_history"):
        return "histories and their indexes"
    if table in ("events", "event_sources", "sources", "actors", "questions", "links"):
        return "events, their sources and full-text search"
    return "the rest (entity links, event lists, bookkeeping)"


def read_model_bytes(view: str, events: int, sample: int = STATE_SAMPLE) -> dict[str, Any]:
    """The read model's bytes per event by what they serve, and what it would weigh with its states compressed."""
    usage = disk_usage(view)
    conn = sqlite3.connect(f"file:{view}?mode=ro", uri=True)
    try:
        owners = _base_tables(conn)
        groups: dict[str, int] = {}
        by_table: dict[str, int] = {}
        for name, size in usage["tables"].items():
            table = owners.get(name, name)
            by_table[table] = by_table.get(table, 0) + size
            groups[_group(table)] = groups.get(_group(table), 0) + size
        states = {}
        for table in sorted(t for t in by_table if t.endswith("_states")):
            (count,) = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            step = max(1, count // sample)
            texts = [row[0].encode() for row in conn.execute(f"SELECT state FROM {table} WHERE id % ? = 0 LIMIT ?", (step, sample))]
            train, test = texts[: len(texts) // 2], texts[len(texts) // 2 :]
            if len(train) < 10 or not test:
                continue
            try:
                dictionary = zstandard.train_dictionary(DICTIONARY_BYTES, train)
            except zstandard.ZstdError:
                continue  # too few samples to train on
            compressor = zstandard.ZstdCompressor(dict_data=dictionary)
            plain = sum(map(len, test))
            packed = sum(len(compressor.compress(text)) for text in test)
            states[table] = {
                "rows": count,
                "bytes": by_table[table],
                "ratio": plain / packed,
                "compressed_bytes": by_table[table] * packed / plain,
            }
    finally:
        conn.close()
    compressed_total = usage["bytes"] - sum(s["bytes"] - s["compressed_bytes"] for s in states.values())
    return {
        "events": events,
        "bytes_per_event": usage["bytes"] / events,
        "groups_per_event": {group: size / events for group, size in sorted(groups.items(), key=lambda item: -item[1])},
        "tables_per_event": {table: size / events for table, size in sorted(by_table.items(), key=lambda item: -item[1])},
        "states": states,
        "states_compressed_bytes_per_event": compressed_total / events if states else None,
        "without_states_bytes_per_event": (usage["bytes"] - groups.get("states", 0)) / events,
    }


# --- the command -------------------------------------------------------------------------------------


def measure_bounds(
    results: dict[str, Any], events: int | None = None, rounds: int = TRIGGER_ROUNDS, questions: int = QUESTIONS
) -> dict[str, Any]:
    """All four bounds for a run's results (its folder must still hold its stores)."""
    folder = Path(results["folder"])
    store, view = folder / "ledger.db", folder / "ledger.view.db"
    for path in (store, view):
        if not path.exists():
            raise click.ClickException(f"{path} is gone: the bounds are measured on the stores the run left in {folder}")
    total = results["phases"]["ingest"]["events"]
    return {
        "results": results.get("date"),
        "folder": str(folder),
        "ingest": ingest_bound(results, results.get("machine", {}).get("cores") or os.cpu_count() or 1),
        "question": question_parts(str(store), questions),  # first: the copies below fill the page cache with other files
        "store_triggers": trigger_cost(str(store), str(folder / "bounds-copy.db"), events, rounds),
        "read_model": read_model_bytes(str(view), total),
    }


def report(bounds: dict[str, Any]) -> str:
    """The bounds as text, a line each."""
    ingest, triggers, model, question = bounds["ingest"], bounds["store_triggers"], bounds["read_model"], bounds["question"]
    lines = [
        f"ingest: {ingest['cpu_us']:.0f} µs of CPU per event ({ingest['appending_process_cpu_us']:.0f} appending + "
        f"{ingest['workers_cpu_us']:.0f} validating); on {ingest['cores']} cores with no wait at all, "
        f"{ingest['best_rate']:,.0f} events/s = {ingest['best_ratio']:.2f}× raw (measured {ingest['measured_ratio']:.2f}×); "
        f"{ingest['target']}× raw allows {ingest['cpu_us_the_target_allows']:.0f} µs of CPU per event",
        f"the store's append-only triggers: the appended rows copied raw, {triggers['without_cpu_us']:.1f} µs of user CPU per event "
        f"without them, {triggers['with_cpu_us']:.1f} with them (+{triggers['triggers_cpu_us']:.1f})",
        f"a question through Ledger, p50 / p99: {question['through_ledger']['p50_ms']:.3f} / {question['through_ledger']['p99_ms']:.3f} ms; "
        f"the read model's lookup alone {question['lookup']['p50_ms']:.3f} / {question['lookup']['p99_ms']:.3f} ms; "
        f"the check that it is current {question['currency_check']['p50_ms']:.3f} / {question['currency_check']['p99_ms']:.3f} ms; "
        f"lookup + check (p50) {question['floor_p50_ms']:.3f} ms",
        f"read model: {model['bytes_per_event']:,.0f} B per event",
    ]
    lines += [f"  {group}: {size:,.0f} B" for group, size in model["groups_per_event"].items()]
    for table, found in model["states"].items():
        lines.append(f"  {table} compressed with a trained dictionary: {found['ratio']:.1f}× smaller")
    if model["states_compressed_bytes_per_event"] is not None:
        lines.append(f"  with every state compressed: about {model['states_compressed_bytes_per_event']:,.0f} B per event")
    lines.append(f"  with no state at all: {model['without_states_bytes_per_event']:,.0f} B per event")
    return "\n".join(lines)


@click.command()
@click.argument("results_json", type=click.Path(exists=True, dir_okay=False))
@click.option("--events", type=click.IntRange(min=1), help="Copy only the first N events' appends for the triggers' cost (default: all).")
@click.option("--rounds", type=click.IntRange(min=1), default=TRIGGER_ROUNDS, show_default=True, help="Copies with and without triggers.")
@click.option(
    "--questions", type=click.IntRange(min=10), default=QUESTIONS, show_default=True, help="Questions asked of each part of a question."
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the bounds here as JSON.")
def bounds(results_json: str, events: int | None, rounds: int, questions: int, json_path: str | None) -> None:
    """Measure how far the targets a run missed can go, on the run's results and the stores it left.

    The run's folder must still hold its stores (``ledger.db``, ``ledger.view.db``):
    the triggers' cost is measured by copying the store's rows again (about three
    minutes at a million events), the read model's bytes by reading it.

    \b
    Examples:
      python -m benchmarks --events 20000 --out /tmp/bench
      python -m benchmarks.bounds /tmp/bench/bench.json --json /tmp/bench/bounds.json
    """
    found = measure_bounds(json.loads(Path(results_json).read_text(encoding="utf-8")), events, rounds, questions)
    click.echo(report(found))
    if json_path:
        Path(json_path).write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    bounds()
