"""Rebuilding the read model entity by entity gives the tables of applying every append batch one by one,
is done again when it stopped halfway, and never holds the ledger's events in memory together."""

from __future__ import annotations

import copy
import random
import sqlite3
import tracemalloc
from datetime import date, timedelta

import pytest
from benchmarks.generate import LedgerSpec, generate_events

from helpers import SMALL, registry_of, table_contents
from ledger.ingest import ingest_dicts
from ledger.projections.history import group_by_entity
from ledger.projections.state import entity_of
from ledger.readmodel import Projector, project
from ledger.readmodel import projector as projector_module
from ledger.readmodel import rebuild as rebuild_module
from ledger.readmodel.histories import EntityHistory
from ledger.readmodel.rebuild import REBUILDING
from ledger.readmodel.versions import HISTORY_TABLES, StateTexts, book_rows
from ledger.store import open_store

SPECS = [
    SMALL,
    LedgerSpec(events=500, seed=7, actors=10, questions=2, restrictions=4, packages=5, areas=3, documents=15),
    LedgerSpec(events=900, seed=23, actors=40, questions=6, restrictions=12, packages=10, areas=6, documents=30),
]


def late_reports(events: list[dict], rng: random.Random, count: int, tag: str = "a") -> list[dict]:
    """Events that arrive out of order: backdated reports, corrections that move an event to another
    entity or join it to another account, and accounts of old battles reported late."""
    policies = [data for data in events if data["kind"] == "policy_change"]
    battles = [data for data in events if data["kind"] == "battlefield"]
    restrictions = sorted({data["restriction"]["id"] for data in policies})
    found = []
    for n in range(count):
        template = rng.choice(policies)
        reported = date.fromisoformat(template["reported"]) + timedelta(days=rng.randint(1, 90))
        kind = n % 4
        if kind == 0:  # a decision reported late, dated before much of what is known about it
            late = copy.deepcopy(template)
            late.update(id=f"late-decision-{tag}-{n}", occurred=(reported - timedelta(days=rng.randint(30, 900))).isoformat())
            late["restriction"]["status"] = rng.choice(["prohibited", "permitted"])
        elif kind == 1:  # it was another restriction all along
            late = correction(template, f"late-move-{tag}-{n}", reported, {"restriction": {"id": rng.choice(restrictions)}})
        elif kind == 2:  # two battles were one
            one, other = rng.sample(battles, 2)
            late = correction(one, f"late-join-{tag}-{n}", reported, {"links": {"alternative_account_of": [other["id"]]}})
        else:  # another account of an old battle, in another area
            one = rng.choice(battles)
            late = copy.deepcopy(rng.choice(battles))
            late.update(id=f"late-account-{tag}-{n}", links={"alternative_account_of": [one["id"]]})
        late["reported"] = reported.isoformat()
        for source in late["sources"]:
            source["published"] = reported.isoformat()
        found.append(late)
    return found


def correction(target: dict, event_id: str, reported: date, amended: dict) -> dict:
    return {
        "id": event_id,
        "kind": "correction",
        "occurred": target["reported"],
        "reported": reported.isoformat(),
        "actors": target["actors"][:1],
        "summary": f"correction of {target['id']}",
        "sources": [{"url": "https://example.org/c", "outlet": "Reuters", "published": reported.isoformat(), "attribution": "journalist"}],
        "corrects": target["id"],
        "action": "amend",
        "reason": "misreported",
        "amended": amended,
    }


def out_of_order_store(db: str, spec: LedgerSpec, batches: int = 6, late_per_batch: int = 6, seed: int = 1) -> list[dict]:
    """The generated ledger in ``batches`` ingests, each followed by late reports about what came before."""
    events = list(generate_events(spec))
    rng = random.Random(seed)
    size = -(-len(events) // batches)
    appended: list[dict] = []
    with open_store(db) as store:
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            ingest_dicts(store, chunk, registry_of(spec) if start == 0 else None)
            appended += chunk
            if start:
                late = late_reports(appended, rng, late_per_batch, tag=str(start))
                ingest_dicts(store, late)
                appended += late
    return appended


# --- the same tables --------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_a_rebuild_gives_the_tables_of_applying_each_batch_in_turn(db, tmp_path, spec):
    caught_up, rebuilt = str(tmp_path / "caught-up.view.db"), str(tmp_path / "rebuilt.view.db")
    out_of_order_store(db, spec)
    with Projector(db, caught_up) as projector:
        report = projector.catch_up()
    assert report.batches > 6
    rebuild_report = project(db, rebuilt, rebuild=True)
    assert table_contents(rebuilt) == table_contents(caught_up)
    assert (rebuild_report.batches, rebuild_report.events) == (report.batches, report.events)
    assert (rebuild_report.opened, rebuild_report.closed) == (report.opened, report.closed)


@pytest.mark.parametrize("spec", SPECS[1:])
def test_rows_made_from_the_sweep_are_the_rows_of_the_historys_versions(db, spec):
    """A rebuild makes its rows from the sweep's rows straight: the same rows the versions give, ended ones included."""
    events = out_of_order_store(db, spec)
    rng = random.Random(5)
    compared = ended = 0
    for entity, members in group_by_entity(events).items():
        table, texts, history = HISTORY_TABLES[entity.projection], StateTexts(), None
        ordered = sorted(members, key=lambda data: (data["reported"], data["id"]))
        days = sorted({data["reported"] for data in ordered})
        cuts = sorted(rng.sample(days, k=min(3, len(days))))
        for start, end in zip(["", *cuts], [*cuts, "9999"], strict=True):
            part = [data for data in ordered if start <= data["reported"] < end]
            if history is None or not history.accepts(part):
                history, texts, part = EntityHistory(entity), StateTexts(), [data for data in ordered if data["reported"] < end]
            delta = history.add(part)
            made = book_rows(entity.key, delta.rows, len(part), texts)
            assert made == [table.row(version, len(part)) for version in delta.added], entity
            compared += len(made)
            ended += sum(row[4] is not None for row in made)
    assert compared > 500 and ended > 50


def test_the_late_reports_really_move_and_join_events_across_entities(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    events = out_of_order_store(db, SMALL)
    project(db, view, rebuild=True)
    conn = sqlite3.connect(view)
    # an event in the history of an entity that is not its own, because a later correction or account put it there
    related = conn.execute("SELECT COUNT(*) FROM entity_events WHERE role = 'related'").fetchone()[0]
    assert related > 0
    moved = {data["corrects"] for data in events if data["id"].startswith("late-move-")}
    own = {data["id"]: entity_of(data) for data in events}
    found = conn.execute(
        f"SELECT event_id, projection, entity FROM entity_events WHERE event_id IN ({', '.join('?' * len(moved))})", sorted(moved)
    ).fetchall()
    assert any((projection, entity) != tuple(own[event_id]) for event_id, projection, entity in found)
    # and backdated reports rewrote rows on the recorded axis
    assert conn.execute("SELECT COUNT(*) FROM restriction_versions WHERE recorded_to IS NOT NULL").fetchone()[0] > 0


def test_a_rebuild_equals_catching_up_with_a_new_projector_for_every_batch(db, tmp_path):
    """No history kept between batches: every touched entity is recomputed and diffed, and the tables still agree."""
    caught_up, rebuilt = str(tmp_path / "caught-up.view.db"), str(tmp_path / "rebuilt.view.db")
    out_of_order_store(db, SPECS[1], batches=4)
    with Projector(db, caught_up) as projector:
        pending = projector.pending_batches(0)
        projector.copy_registry(projector.tracking())
    for batch in pending:
        with Projector(db, caught_up) as projector:
            projector.apply_batch(batch)
    project(db, rebuilt, rebuild=True)
    assert table_contents(rebuilt) == table_contents(caught_up)


def test_catching_up_after_a_rebuild_gives_the_tables_of_a_rebuild(db, tmp_path):
    view, rebuilt = str(tmp_path / "ledger.view.db"), str(tmp_path / "rebuilt.view.db")
    events = list(generate_events(SMALL))
    rng = random.Random(9)
    with open_store(db) as store:
        ingest_dicts(store, events[:400], registry_of(SMALL))
        project(db, view)  # a new read model: rebuilt
        ingest_dicts(store, events[400:])
        ingest_dicts(store, late_reports(events, rng, 8))
    report = project(db, view)  # caught up
    assert not report.rebuilt and report.batches == 2
    project(db, rebuilt, rebuild=True)
    assert table_contents(view) == table_contents(rebuilt)


# --- stopped halfway ---------------------------------------------------------------------------------


class Stop(Exception):
    pass


def test_a_rebuild_stopped_halfway_is_done_again_by_the_next_run(db, tmp_path, monkeypatch):
    view, reference = str(tmp_path / "ledger.view.db"), str(tmp_path / "reference.view.db")
    out_of_order_store(db, SMALL)
    project(db, reference, rebuild=True)
    monkeypatch.setattr(projector_module, "BULK_EVENTS", 1)  # drop the indexes while loading, as a large rebuild does
    monkeypatch.setattr(rebuild_module, "ENTITY_EVENTS", 50)

    def stop_halfway(done: int, total: int) -> None:
        if done > total // 2:
            raise Stop

    with pytest.raises(Stop):
        project(db, view, rebuild=True, progress=stop_halfway)
    conn = sqlite3.connect(view)
    assert conn.execute("SELECT position FROM projector_state WHERE name = 'ledger-view'").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM projector_state WHERE name = ?", (REBUILDING,)).fetchone()[0] == 1
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'restriction_history_entity'").fetchone()[0] == 0
    conn.close()

    report = project(db, view)  # a plain run sees position 0 and starts over
    assert report.events == len(table_contents(reference)["events"])
    assert table_contents(view) == table_contents(reference)
    assert schema(view) == schema(reference)


def test_a_rebuild_that_fails_leaves_the_projector_usable(db, tmp_path, monkeypatch):
    view, reference = str(tmp_path / "ledger.view.db"), str(tmp_path / "reference.view.db")
    out_of_order_store(db, SPECS[1], batches=3)
    project(db, reference, rebuild=True)

    def stop(done: int, total: int) -> None:
        raise Stop

    with Projector(db, view) as projector:
        with pytest.raises(Stop):
            projector.rebuild(progress=stop)
        projector.run()
    assert table_contents(view) == table_contents(reference)
    assert schema(view) == schema(reference)


def schema(view: str) -> set[tuple]:
    conn = sqlite3.connect(view)
    try:
        return set(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    finally:
        conn.close()


# --- memory -------------------------------------------------------------------------------------------


def test_a_rebuild_holds_a_few_entities_events_at_a_time_not_the_ledgers(db, tmp_path, monkeypatch):
    spec = LedgerSpec(events=3000, seed=31, actors=60, questions=10, restrictions=30, packages=30, areas=30, documents=60)
    view = str(tmp_path / "ledger.view.db")
    out_of_order_store(db, spec, batches=3, late_per_batch=4)
    with open_store(db, create=False) as store:
        tracemalloc.start()
        everything = [recorded.data for recorded in store.iter_events()]
        all_events = tracemalloc.get_traced_memory()[0]
        del everything
        tracemalloc.stop()
    monkeypatch.setattr(rebuild_module, "ENTITY_EVENTS", 50)
    monkeypatch.setattr(rebuild_module, "READ_PAGE", 200)
    monkeypatch.setattr(rebuild_module, "FLUSH_ROWS", 100)
    project(db, view, rebuild=True)  # once before measuring, so what it imports is not counted
    tracemalloc.start()
    project(db, view, rebuild=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < all_events / 3, (peak, all_events)


# --- worker processes ---------------------------------------------------------------------------


def test_a_rebuild_with_a_worker_process_gives_the_tables_of_a_rebuild_in_one_process(db, tmp_path, monkeypatch):
    from ledger.readmodel import workers as workers_module

    one, two = str(tmp_path / "one.view.db"), str(tmp_path / "two.view.db")
    out_of_order_store(db, SPECS[2], batches=5, late_per_batch=8, seed=5)
    monkeypatch.setattr(rebuild_module, "ENTITY_EVENTS", 40)
    monkeypatch.setenv("LEDGER_WORKERS", "0")
    alone = project(db, one, rebuild=True)
    monkeypatch.setenv("LEDGER_WORKERS", "1")
    monkeypatch.setattr(rebuild_module, "PARALLEL_EVENTS", 10)
    monkeypatch.setattr(rebuild_module, "READ_PAGE", 60)  # the first pass in pages too
    written, computed_here = {"page": [], "group": []}, {"page": [], "group": []}
    replay = workers_module.ReplayPool.replay

    def counting(self, items, compute, write, kind="group"):
        return replay(
            self,
            items,
            lambda item: computed_here[kind].append(item) or compute(item),
            lambda *found: written[kind].append(found) or write(*found),
            kind,
        )

    monkeypatch.setattr(workers_module.ReplayPool, "replay", counting)
    shared = project(db, two, rebuild=True)
    for kind in ("page", "group"):  # the worker computed some of the pages and groups, this process the rest
        assert len(written[kind]) > len(computed_here[kind]) > 0, kind
    assert table_contents(two) == table_contents(one)
    assert (shared.batches, shared.events, shared.entities, shared.opened, shared.closed) == (
        alone.batches, alone.events, alone.entities, alone.opened, alone.closed
    )  # fmt: skip


def test_a_worker_that_fails_leaves_its_groups_to_the_rebuilding_process(db, tmp_path, monkeypatch):
    from ledger.readmodel import workers as workers_module

    one, two = str(tmp_path / "one.view.db"), str(tmp_path / "two.view.db")
    out_of_order_store(db, SPECS[1], batches=3, late_per_batch=4, seed=9)
    monkeypatch.setattr(rebuild_module, "ENTITY_EVENTS", 40)
    monkeypatch.setenv("LEDGER_WORKERS", "0")
    project(db, one, rebuild=True)
    monkeypatch.setenv("LEDGER_WORKERS", "1")
    monkeypatch.setattr(rebuild_module, "PARALLEL_EVENTS", 10)
    monkeypatch.setattr(
        workers_module.ReplayPool, "prepare", lambda self, batches: self.tasks[0].put(("batches", 0, None))
    )  # the worker's first group fails
    project(db, two, rebuild=True)
    assert table_contents(two) == table_contents(one)


def test_a_worker_that_cannot_read_the_store_leaves_the_first_pass_to_the_rebuilding_process(db, tmp_path, monkeypatch):
    from ledger.readmodel import workers as workers_module

    one, two = str(tmp_path / "one.view.db"), str(tmp_path / "two.view.db")
    out_of_order_store(db, SPECS[1], batches=3, late_per_batch=4, seed=9)
    monkeypatch.setenv("LEDGER_WORKERS", "0")
    project(db, one, rebuild=True)
    monkeypatch.setenv("LEDGER_WORKERS", "1")
    monkeypatch.setattr(rebuild_module, "PARALLEL_EVENTS", 10)
    monkeypatch.setattr(rebuild_module, "READ_PAGE", 60)
    start = workers_module.ReplayPool.__init__
    monkeypatch.setattr(workers_module.ReplayPool, "__init__", lambda self, path, count: start(self, str(tmp_path / "missing"), count))
    project(db, two, rebuild=True)
    assert table_contents(two) == table_contents(one)


KILLED_REBUILD = """
import sys, time
from ledger.readmodel import rebuild

run = rebuild.Rebuild.run

def run_then_stall(self):
    if sys.argv[3] == "after":
        run(self)
    print("rebuilding", flush=True)
    time.sleep(120)

rebuild.Rebuild.run = run_then_stall
from ledger.readmodel import project
project(sys.argv[1], sys.argv[2], rebuild=True)
"""


@pytest.mark.parametrize("moment", ["before", "after"], ids=["killed-as-it-starts", "killed-with-its-rows-written"])
def test_a_killed_rebuild_leaves_the_previous_read_model_answering(tmp_path, moment):
    import signal
    import subprocess
    import sys

    from ledger.readmodel.query import current_view

    db, view = str(tmp_path / "ledger.db"), str(tmp_path / "ledger.view.db")
    events = list(generate_events(SMALL))
    with open_store(db) as store:
        ingest_dicts(store, events, registry_of(SMALL))
    project(db, view)
    before = table_contents(view)
    rebuilding = subprocess.Popen([sys.executable, "-c", KILLED_REBUILD, db, view, moment], stdout=subprocess.PIPE, text=True)
    try:
        assert rebuilding.stdout.readline().strip() == "rebuilding"
    finally:
        rebuilding.send_signal(signal.SIGKILL)
        rebuilding.wait()
    assert current_view(db, view) == view  # still caught up, still the one that answers
    assert table_contents(view) == before
    assert project(db, view, rebuild=True).rebuilt and table_contents(view) == before
    assert [path.name for path in tmp_path.iterdir() if ".rebuild-" in path.name] == []
