"""Compare as-of lookup forms on a read model: as the read model asks now, and as a range the index can use.

Usage (read-only; see docs/benchmarks.md, "As-of queries")::

    python -m benchmarks.query_forms /tmp/bench/ledger.view.db
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from datetime import date, timedelta

TABLES = ("restriction_versions", "aid_package_versions", "position_versions", "territory_versions")
CURRENT = "entity = :e AND recorded_to IS NULL AND known_to IS NULL"
FORMS = {
    "as the read model asks now (NULL-able bounds)":
        f"SELECT state FROM {{t}} WHERE {CURRENT} AND (valid_from IS NULL OR valid_from <= :d) AND (valid_to IS NULL OR valid_to > :d)",
    "valid_from <= :as_of as a range (open starts apart)":
        f"SELECT state FROM {{t}} WHERE {CURRENT} AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d) "
        f"UNION ALL SELECT state FROM {{t}} WHERE {CURRENT} AND valid_from IS NULL AND (valid_to IS NULL OR valid_to > :d)",
    "descending range on valid_from, first 4 rows, then valid_to > :as_of":
        f"SELECT state FROM (SELECT state, valid_to FROM {{t}} WHERE {CURRENT} AND valid_from <= :d "
        "ORDER BY valid_from DESC LIMIT 4) WHERE valid_to IS NULL OR valid_to > :d",
}  # fmt: skip


def main(view: str, lookups: int = 2_000) -> None:
    conn = sqlite3.connect(f"file:{view}?mode=ro", uri=True)
    entities = {t: [row[0] for row in conn.execute(f"SELECT DISTINCT entity FROM {t}")] for t in TABLES}
    for t in TABLES:
        per = conn.execute(f"SELECT COUNT(*) * 1.0 / COUNT(DISTINCT entity) FROM {t} WHERE recorded_to IS NULL AND known_to IS NULL")
        print(f"{t}: {per.fetchone()[0]:.1f} current rows per entity")
    low, high = (date.fromisoformat(d) for d in conn.execute("SELECT MIN(occurred_earliest), MAX(reported) FROM events").fetchone())
    rng = random.Random(1)
    asks = [
        (t, rng.choice(entities[t]), (low + timedelta(days=rng.randint(0, (high - low).days))).isoformat())
        for t in rng.choices([t for t in TABLES if entities[t]], k=lookups)
    ]
    for name, sql in FORMS.items():
        for t, entity, day in asks[: lookups // 10]:  # warm the connection
            conn.execute(sql.format(t=t), {"e": entity, "d": day}).fetchall()
        times = []
        for t, entity, day in asks:
            started = time.perf_counter()
            conn.execute(sql.format(t=t), {"e": entity, "d": day}).fetchall()
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"{name}: p50 {times[len(times) // 2] * 1000:.3f} ms, p99 {times[int(len(times) * 0.99)] * 1000:.3f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
