"""The issue's targets, how a benchmark result is judged against them, and the results table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table


@dataclass(frozen=True)
class Target:
    """One number of the results, the bound it should meet, and how to print it."""

    key: str
    label: str
    bound: float | None  # None: shown for context, no target
    at_least: bool = True
    unit: str = ""
    digits: int = 0

    def met(self, value: float | None) -> bool | None:
        if self.bound is None or value is None:
            return None
        return value >= self.bound if self.at_least else value <= self.bound

    def show(self, value: float | None) -> str:
        if value is None:
            return "not available"
        return f"{value:,.{self.digits}f}{self.unit}"

    def show_bound(self) -> str:
        if self.bound is None:
            return ""
        return ("≥ " if self.at_least else "≤ ") + f"{self.bound:,.{self.digits}f}{self.unit}"


def targets(small: int, large: int) -> list[Target]:
    """Every row of the results table, in order; ``small`` and ``large`` are the two ledger sizes queried.

    The bounds are issue 15's, as ratios measured in the same run wherever the
    machine's speed would otherwise decide (absolute rates are shown for scale).
    """
    s, n = _count(small), _count(large)
    return [
        Target("ingest_events_per_s", "ingest, validation + hash chain", None, unit=" ev/s"),
        Target("raw_executemany_events_per_s", "raw sqlite3 executemany, same rows", None, unit=" ev/s"),
        Target("ingest_vs_raw", "ingest ÷ raw executemany, machine idle", 0.5, unit="×", digits=2),
        Target("ingest_vs_raw_busy", "ingest ÷ raw executemany, one core busy", 0.3, unit="×", digits=2),
        Target("chain_bytes_per_event", "hash chain on disk per event", 80, at_least=False, unit=" B"),
        Target("rebuild_events_per_s", f"read-model rebuild at {n}", None, unit=" ev/s"),
        Target("rebuild_raw_events_per_s", f"its rows written raw at {n}", None, unit=" ev/s"),
        Target("rebuild_vs_raw", f"rebuild ÷ raw rows at {n}", 0.5, unit="×", digits=2),
        Target("rebuild_events_per_s_small", f"read-model rebuild at {s}", None, unit=" ev/s"),
        Target("rebuild_linearity", f"rebuild rate at {n} ÷ at {s} (linear: ≥ 0.8)", 0.8, unit="×", digits=2),
        Target("query_p50_ms_small", f"as-of query p50 at {s}", None, unit=" ms", digits=3),
        Target("query_p99_ms_small", f"as-of query p99 at {s}", None, unit=" ms", digits=3),
        Target("query_p50_ms", f"as-of query p50 at {n}, through Ledger", 0.022, at_least=False, unit=" ms", digits=3),
        Target("query_p99_ms", f"as-of query p99 at {n}, through Ledger", 0.040, at_least=False, unit=" ms", digits=3),
        Target("query_sql_p50_ms", f"the read model's lookup alone, p50 at {n}", 0.022, at_least=False, unit=" ms", digits=3),
        Target("query_sql_p99_ms", f"the read model's lookup alone, p99 at {n}", 0.040, at_least=False, unit=" ms", digits=3),
        Target("query_growth", f"p50 at {n} ÷ p50 at {s}", None, unit="×", digits=2),
        Target("replay_p50_ms", f"whole-state replay() p50 at {n}", None, unit=" ms", digits=1),
        Target("late_event_ms", "late event: append → visible", 20, at_least=False, unit=" ms", digits=1),
        Target("cli_replay_s", "ledger replay --as-of D, whole process", 0.5, at_least=False, unit=" s", digits=2),
        Target("python_startup_s", "python -c pass, for scale", None, unit=" s", digits=2),
        Target("peak_rss_mb", "peak RSS, largest phase (workers included)", 500, at_least=False, unit=" MB"),
        Target("disk_bytes_per_event", "store on disk per event", 1024, at_least=False, unit=" B"),
        Target("view_bytes_per_event", "read model on disk per event", 1500, at_least=False, unit=" B"),
        Target("by_the_book_events_per_s", "by the book: Application.save", None, unit=" ev/s"),
        Target("ingest_vs_by_the_book", "ingest ÷ by the book", None, unit="×", digits=1),
        Target("by_the_book_query_p50_ms", "by the book: repository.get as-of p50", None, unit=" ms", digits=2),
        Target("query_vs_by_the_book", "as-of query speed-up over by the book", None, unit="×", digits=1),
    ]


def _count(events: int) -> str:
    if events >= 1_000_000 and events % 1_000_000 == 0:
        return f"{events // 1_000_000}M"
    if events >= 1_000 and events % 1_000 == 0:
        return f"{events // 1_000}k"
    return f"{events:,}"


def judge(headline: dict[str, float | None], small: int, large: int) -> list[dict[str, Any]]:
    """Each table row as data: key, label, value, target, met (None when there is no target or no value)."""
    rows = []
    for target in targets(small, large):
        value = headline.get(target.key)
        rows.append(
            {
                "key": target.key,
                "label": target.label,
                "value": value,
                "target": target.show_bound() or None,
                "met": target.met(value),
            }
        )
    return rows


def results_table(result: dict[str, Any]) -> Table:
    """The results as a rich table: each number beside its target, met or missed."""
    small, large = result["sizes"]["small"], result["sizes"]["large"]
    found = {t.key: t for t in targets(small, large)}
    table = Table(title=f"benchmark: {result['sizes']['large']:,} events, {result['machine']['summary']}", title_justify="left")
    for column in ("measure", "value", "target", ""):
        table.add_column(column, justify="right" if column in ("value", "target") else "left")
    mark: dict[bool | None, Callable[[], str]] = {True: lambda: "[green]met[/]", False: lambda: "[red]missed[/]", None: lambda: ""}
    for row in result["targets"]:
        target = found[row["key"]]
        table.add_row(row["label"], target.show(row["value"]), row["target"] or "", mark[row["met"]]())
    return table


def results_markdown(result: dict[str, Any]) -> str:
    """The results table as Markdown, for docs/benchmarks.md."""
    small, large = result["sizes"]["small"], result["sizes"]["large"]
    found = {t.key: t for t in targets(small, large)}
    lines = ["| measure | value | target | |", "|---|---:|---:|---|"]
    for row in result["targets"]:
        met = {True: "met", False: "**missed**", None: ""}[row["met"]]
        lines.append(f"| {row['label']} | {found[row['key']].show(row['value'])} | {row['target'] or ''} | {met} |")
    return "\n".join(lines)
