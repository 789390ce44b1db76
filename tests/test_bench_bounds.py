"""``python -m benchmarks.bounds``: the bounds of a run's missed targets, measured on a small run's results and stores.

Not timed tests: what is asserted holds whatever the machine's speed (a rate no
better than its CPU allows, the same rows copied either way, bytes that add up).
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from benchmarks.__main__ import bench
from benchmarks.bounds import bounds, store_triggers
from benchmarks.write import copy_appends
from click.testing import CliRunner


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bounds")
    json_path = folder / "bench.json"
    args = [
        "--events",
        "1500",
        "--out",
        str(folder / "run"),
        "--json",
        str(json_path),
        "--queries",
        "10",
        "--batch",
        "300",
        "--no-busy-core",
    ]
    result = CliRunner().invoke(bench, args)
    assert result.exit_code == 0, result.output
    return {"json": json_path, "results": json.loads(json_path.read_text())}


def test_bounds_of_a_run_as_text_and_json(small_run, tmp_path) -> None:
    out = tmp_path / "bounds.json"
    result = CliRunner().invoke(bounds, [str(small_run["json"]), "--json", str(out), "--rounds", "1", "--questions", "50"])
    assert result.exit_code == 0, result.output
    assert "ingest:" in result.output and "append-only triggers" in result.output and "read model:" in result.output
    found = json.loads(out.read_text())

    ingest = found["ingest"]
    assert ingest["cores"] == small_run["results"]["machine"]["cores"]
    # no ingest can go faster than its CPU spread over every core: the rate measured is within the bound
    assert ingest["measured_ratio"] <= ingest["best_ratio"]
    assert ingest["cpu_us"] == pytest.approx(ingest["appending_process_cpu_us"] + ingest["workers_cpu_us"])

    triggers = found["store_triggers"]
    assert {"stored_events_append_only", "ledger_chain_append_only", "ledger_log_append_only"} <= set(triggers["triggers"])
    with sqlite3.connect(small_run["results"]["folder"] + "/ledger.db") as store:
        (stored,) = store.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    assert [run["events"] for run in triggers["runs"]["without"] + triggers["runs"]["with"]] == [stored, stored]

    question = found["question"]
    assert question["engines"] == ["view"]  # every check found the read model current: the lookups were the read model's
    for part in ("through_ledger", "lookup", "currency_check"):
        assert question[part]["count"] == question["questions"] == 50
    assert question["floor_p50_ms"] == pytest.approx(question["lookup"]["p50_ms"] + question["currency_check"]["p50_ms"])

    model = found["read_model"]
    assert sum(model["groups_per_event"].values()) == pytest.approx(model["bytes_per_event"], rel=0.01)
    assert set(model["states"]) == {"restriction_states", "aid_package_states", "position_states", "territory_states"}
    assert all(state["ratio"] > 1 for state in model["states"].values())
    assert model["states_compressed_bytes_per_event"] < model["bytes_per_event"]


def test_the_store_s_rows_copied_with_its_triggers_are_the_rows_it_holds(small_run, tmp_path) -> None:
    store = small_run["results"]["folder"] + "/ledger.db"
    kept = tmp_path / "copy.db"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as source:
        starts = [row[0] for row in source.execute("SELECT batch FROM ledger_chain_batches ORDER BY batch")]
    whole = min(start - 1 for start in starts if start - 1 >= 600)  # the appends up to the 600th event, whole
    copied = copy_appends(store, str(kept), triggers=store_triggers(store), events=600)
    assert copied["events"] == whole  # taken in order by the store's own triggers, which refuse any row out of it
    assert not kept.exists()  # the copy is not left behind

    # the triggers copied are the store's: a row out of order is refused in the copy as in the store
    with sqlite3.connect(":memory:") as conn:
        source = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        for (shape,) in source.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_chain_batches'"):
            conn.execute(shape)
        for trigger in store_triggers(store):
            if " ON ledger_chain_batches" in trigger:
                conn.execute(trigger)
        source.close()
        conn.execute("INSERT INTO ledger_chain_batches VALUES (5, 'x')")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("INSERT INTO ledger_chain_batches VALUES (3, 'x')")


def test_bounds_need_the_stores_the_run_left(small_run, tmp_path) -> None:
    results = dict(small_run["results"], folder=str(tmp_path / "gone"))
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(results))
    result = CliRunner().invoke(bounds, [str(moved)])
    assert result.exit_code == 1
    assert "is gone" in result.output and "Traceback" not in result.output
