"""``python -m benchmarks``: the whole benchmark (ingest, rebuild, as-of queries, late events, replay) against its targets."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ledger.cli.output import console, error_console


@click.command()
@click.option("--events", "-n", type=click.IntRange(min=100), default=1_000_000, show_default=True, help="Events in the generated ledger.")
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the databases (default: a new temporary folder).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the results here as JSON (default: OUT/bench.json).")
@click.option("--seed", type=int, default=20240530, show_default=True, help="Seed of the generated ledger.")
@click.option("--batch", type=click.IntRange(min=1), default=10_000, show_default=True, help="Events per ingest transaction.")
@click.option("--queries", type=click.IntRange(min=10), default=1_000, show_default=True, help="As-of queries per ledger size.")
@click.option("--by-the-book-events", type=click.IntRange(min=1), help="Events for the by-the-book baseline (default: all).")
@click.option(
    "--rebuild-budget",
    type=click.FloatRange(min=1),
    default=1800,
    show_default=True,
    help="Seconds a read-model rebuild may run before it is stopped (its rate is then over the events done).",
)
@click.option(
    "--busy-core/--no-busy-core",
    default=True,
    show_default=True,
    help="Also run ingest and raw executemany beside a busy loop on one core, and report that ratio too.",
)
@click.option(
    "--rerun-read-side",
    "rerun",
    type=click.Path(exists=True, dir_okay=False),
    help="Results JSON of an earlier run whose folder still holds its stores: run only the read side again "
    "(rebuild, queries, late events, replay), keep the rest, and write the results back.",
)
def bench(
    events: int,
    out: str | None,
    json_path: str | None,
    seed: int,
    batch: int,
    queries: int,
    by_the_book_events: int | None,
    rebuild_budget: float,
    busy_core: bool,
    rerun: str | None,
) -> None:
    """Benchmark the ledger on a generated ledger of N events, against its targets.

    Measures ingest (validation + hash chain) beside raw sqlite3 executemany of
    the same rows, with the machine idle and with one core busy; read-model
    rebuild beside its own rows written raw; as-of query latency at 100k and N
    events; a late event until visible; `ledger replay` as a process; peak
    memory (worker processes included) and bytes on disk; and the same workload
    done by the book with eventsourcing. Prints a table with each target met or
    missed, writes JSON.

    \b
    Examples:
      python -m benchmarks --events 20000 --out /tmp/bench
      python -m benchmarks --events 1000000 --json benchmarks/results/2026-11-21-1m.json
    """
    from benchmarks.run import rerun_read_side, run_benchmark
    from benchmarks.targets import results_table

    err = error_console()

    def report(message: str) -> None:
        err.print(f"[dim]… {message}[/]")

    if rerun:
        result = rerun_read_side(json.loads(Path(rerun).read_text(encoding="utf-8")), report=report)
        json_path = json_path or rerun
    else:
        result = run_benchmark(
            events=events,
            out=out,
            seed=seed,
            batch=batch,
            queries=queries,
            by_the_book_events=by_the_book_events,
            rebuild_budget_s=rebuild_budget,
            busy_core=busy_core,
            report=report,
        )
    path = Path(json_path) if json_path else Path(result["folder"]) / "bench.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    console().print(results_table(result))
    click.echo(f"results: {path}")


if __name__ == "__main__":
    bench(prog_name="python -m benchmarks")
