"""Validation in worker processes: the same store, the same problems, the same all-or-nothing append as in-process."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
from benchmarks.generate import LedgerSpec, generate_events, generate_registry, write_jsonl

from ledger import ingest
from ledger.ingest import POOL_THRESHOLD, IngestError, ingest_dicts, ingest_paths, ingest_stream
from ledger.store import open_store

SPEC = LedgerSpec(events=3_000, seed=5)
EVENTS = list(generate_events(SPEC))


def fresh_store(path: Path):
    store = open_store(str(path))
    store.put_registry(generate_registry(SPEC))
    return store


def others(count: int, prefix: str) -> list[dict]:
    """Events not in EVENTS: copies under new ids, without links (so they name nothing outside themselves)."""
    copies = [data for data in EVENTS if data["kind"] != "correction"][:count]
    return [{**data, "id": f"{prefix}-{n}", "links": {}} for n, data in enumerate(copies)]


def spoiled(events: list[dict], *where: int) -> list[dict]:
    """The events with problems planted at these indexes: a bad date, an unknown field, an unknown actor, a reused id."""
    events = [dict(data) for data in events]
    changes = [
        lambda d: d.update(occurred="2024-02-30"),
        lambda d: d.update(unexpected=1),
        lambda d: d.update(actors=["nobody-at-all"]),
        lambda d: d.update(id=events[0]["id"]),
    ]
    for index, change in zip(where, changes):
        change(events[index])
    return events


def test_workers_give_the_same_store_as_validating_here(tmp_path):
    assert len(EVENTS) > POOL_THRESHOLD
    reports, heads = [], []
    for workers in (0, 1, 2):
        with fresh_store(tmp_path / f"w{workers}.db") as store:
            reports.append(ingest_dicts(store, EVENTS, workers=workers))
            heads.append(store.head())
            assert store.verify().ok
    assert heads[0] is not None and heads[0] == heads[1] == heads[2]
    assert reports[0].appended == reports[1].appended == reports[2].appended == [d["id"] for d in EVENTS]
    assert reports[0].positions == reports[1].positions


def test_problems_found_in_a_worker_are_reported_the_same(tmp_path):
    events = spoiled(EVENTS, 10, 1_700, 2_600, 2_900)
    found = {}
    for workers in (0, 1):
        with fresh_store(tmp_path / f"w{workers}.db") as store, pytest.raises(IngestError) as caught:
            ingest_dicts(store, events, workers=workers, name="batch")
        found[workers] = caught.value.problems
    assert found[0] == found[1]
    where = {(p.file, p.field) for p in found[1]}
    assert {("batch[10]", "occurred"), ("batch[1700]", "unexpected"), ("batch[2600]", "actors.0"), ("batch[2900]", "id")} <= where
    assert str(found[1][0]).startswith(f"batch[10]: {events[10]['id']}: occurred: ")


def test_a_bad_event_in_a_later_chunk_leaves_the_store_unchanged(tmp_path):
    folder = tmp_path / "corpus"
    write_jsonl(SPEC, folder, per_file=2_000)
    second = folder / "events-0001.jsonl"
    lines = second.read_text().splitlines()
    bad = json.loads(lines[700])
    bad["occurred"] = "2024-13-01"
    lines[700] = json.dumps(bad)
    second.write_text("\n".join(lines) + "\n")
    with fresh_store(tmp_path / "ledger.db") as store:
        ingest_dicts(store, EVENTS[:5])
        head = store.head()
        with pytest.raises(IngestError) as caught:
            ingest_paths(store, [folder], workers=1)
        assert store.count() == 5 and store.head() == head
    (problem,) = caught.value.problems
    assert problem.file == f"{second}[700]" and problem.event_id == bad["id"] and problem.field == "occurred"


def test_files_read_in_workers_ingest_like_files_read_here(tmp_path):
    folder = tmp_path / "corpus"
    write_jsonl(SPEC, folder, per_file=1_000)
    yaml_folder = tmp_path / "single"
    yaml_folder.mkdir()
    for data in others(60, "single"):  # one event per file, as analysts write them
        (yaml_folder / f"{data['id']}.json").write_text(json.dumps(data))
    heads, seen = [], []
    for workers in (0, 1):
        progress: list[tuple[int, int]] = []
        with open_store(str(tmp_path / f"w{workers}.db")) as store:
            report = ingest_paths(store, [folder, yaml_folder], progress=lambda *p: progress.append(p), workers=workers)
            heads.append(store.head())
        assert report.files == 3 + 3 + 60 and len(report.appended) == SPEC.events + 60 and not report.skipped
        seen.append(progress)
    assert heads[0] == heads[1]
    assert seen[0][-1] == seen[1][-1] == (SPEC.events + 60, SPEC.events + 60)
    assert all(done <= total for done, total in seen[1])


def test_a_broken_json_lines_file_is_one_problem_with_workers_too(tmp_path):
    folder = tmp_path / "corpus"
    write_jsonl(SPEC, folder, per_file=3_000)
    path = folder / "events-0000.jsonl"
    lines = path.read_text().splitlines()
    lines[2_500] = "{not json"
    path.write_text("\n".join(lines))
    with open_store(str(tmp_path / "ledger.db")) as store, pytest.raises(IngestError) as caught:
        ingest_paths(store, [folder], workers=1)
    (problem,) = caught.value.problems
    assert problem.file == str(path) and problem.reason.startswith("cannot read the file")


def test_a_rerun_with_workers_skips_everything(tmp_path):
    with fresh_store(tmp_path / "ledger.db") as store:
        ingest_dicts(store, EVENTS, workers=1)
        head = store.head()
        again = ingest_dicts(store, EVENTS, workers=1)
        assert again.appended == [] and len(again.skipped) == len(EVENTS) and store.head() == head
        changed = [dict(data) for data in EVENTS]
        changed[2_222]["summary"] = "Something else entirely."
        with pytest.raises(IngestError) as caught:
            ingest_dicts(store, changed, workers=1)
    (problem,) = caught.value.problems
    assert problem.event_id == EVENTS[2_222]["id"] and "correction" in problem.reason


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LEDGER_WORKERS", "0")
    assert ingest.worker_count() == 0
    monkeypatch.setenv("LEDGER_WORKERS", "3")
    assert ingest.worker_count() == 3
    monkeypatch.delenv("LEDGER_WORKERS")
    assert ingest.worker_count() >= 1
    monkeypatch.setenv("LEDGER_WORKERS", "many")
    with pytest.raises(ValueError, match="LEDGER_WORKERS"):
        ingest.worker_count()


def test_workers_collect_young_garbage_less_often_than_this_process():
    ingest.start_workers(1)
    try:
        worker = ingest._executor(1).submit(gc.get_threshold).result()
    finally:
        ingest.stop_workers()
    assert worker[0] == ingest.WORKER_GC_YOUNG > gc.get_threshold()[0]


def test_zero_workers_validates_here_and_small_batches_start_no_process(tmp_path, monkeypatch):
    ingest.stop_workers()
    monkeypatch.setenv("LEDGER_WORKERS", "0")
    with fresh_store(tmp_path / "ledger.db") as store:
        assert len(ingest_dicts(store, EVENTS).appended) == len(EVENTS)
        assert ingest._pool is None
        monkeypatch.setenv("LEDGER_WORKERS", "1")
        assert len(ingest_dicts(store, others(5, "late")).appended) == 5
        assert ingest._pool is None


def test_a_stream_appends_batch_by_batch_and_stops_at_the_first_bad_one(tmp_path):
    lines = [json.dumps(data) for data in EVENTS]
    lines[2_345] = json.dumps({**EVENTS[2_345], "occurred": "someday"})
    seen = []
    with fresh_store(tmp_path / "ledger.db") as store:
        with pytest.raises(IngestError) as caught:
            ingest_stream(store, lines, batch=1_000, name="feed", workers=1, on_batch=lambda r: seen.append(len(r.appended)))
        assert store.count() == 2_000 and seen == [1_000, 2_000]
        assert store.batch_start(1_500) == 1_001
    (problem,) = caught.value.problems
    assert problem.file == "feed[2345]" and problem.field == "occurred"
    assert len(caught.value.report.appended) == 2_000


def test_a_batch_may_repeat_and_link_to_the_events_of_the_batch_appended_just_before_it(tmp_path):
    events = others(2_500, "piped")
    events[1_200] = dict(events[10])  # the same event again, one batch later: skipped
    events[1_300] = {**events[1_300], "links": {"in_response_to": [events[999]["id"]]}}  # the last event of the batch before
    with fresh_store(tmp_path / "ledger.db") as store:
        report = ingest_stream(store, iter(events), batch=1_000, workers=1)
        assert report.skipped == [events[10]["id"]] and len(report.appended) == 2_499
        assert store.count() == 2_499 and store.verify().ok


def test_a_batch_that_changes_an_event_of_the_batch_before_it_is_refused_and_appends_nothing(tmp_path):
    events = others(2_500, "piped")
    events[1_200] = {**events[10], "summary": "Told otherwise."}
    seen = []
    with fresh_store(tmp_path / "ledger.db") as store:
        with pytest.raises(IngestError) as caught:
            ingest_stream(store, iter(events), batch=1_000, name="feed", workers=1, on_batch=lambda r: seen.append(len(r.appended)))
        assert store.count() == 1_000 and seen == [1_000]
    (problem,) = caught.value.problems
    assert (problem.file, problem.event_id, problem.field) == ("feed[1200]", events[10]["id"], "id")
    assert problem.reason.startswith("already recorded with different content; the ledger is never edited")


def test_an_ingest_collects_garbage_less_often_while_it_runs_and_as_before_after_it_even_when_refused(tmp_path):
    before, during = gc.get_threshold(), []
    lines = [json.dumps(data) for data in EVENTS]
    lines[-1] = "{broken"
    with fresh_store(tmp_path / "ledger.db") as store, pytest.raises(IngestError):
        ingest_stream(store, lines, batch=1_000, workers=0, on_batch=lambda _: during.append((gc.get_threshold(), gc.get_freeze_count())))
    assert len(during) == 2 and all(threshold[0] == ingest.INGEST_GC_YOUNG and frozen > 0 for threshold, frozen in during)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_a_stream_gives_the_same_chain_as_one_ingest(tmp_path):
    with fresh_store(tmp_path / "one.db") as store:
        ingest_dicts(store, EVENTS, workers=0)
        head = store.head()
    with fresh_store(tmp_path / "stream.db") as store:
        report = ingest_stream(store, iter(EVENTS), batch=700, workers=1)
        assert len(report.appended) == len(EVENTS) and store.head() == head


def test_validation_also_gives_the_entry_ids_and_state_bodies_the_store_would_compute(tmp_path):
    from ledger.ingest import ChunkTask, check_chunk
    from ledger.store import STATE_HEADER, entry_hex

    with fresh_store(tmp_path / "ledger.db") as store:
        store.append(EVENTS[:1_000])  # the store trains its dictionary
        dictionary = store.compression_dictionary()
        assert dictionary is not None
        (chunk,) = check_chunk(ChunkTask("items", "feed", EVENTS[1_000:1_100], dictionary=dictionary))
        codec = store.backend.codec  # type: ignore[attr-defined]
        assert chunk.dictionary == dictionary[0] and len(chunk.bodies) == 100
        for k, canonical in enumerate(chunk.canonical):
            assert chunk.entries[k] == entry_hex(chunk.ids[k])
            assert chunk.bodies[k] == codec.encode(canonical, 0, dictionary[0])[STATE_HEADER.size :]


def test_a_stream_whose_workers_compress_stores_the_bytes_the_store_compresses_itself(tmp_path, monkeypatch):
    import sqlite3

    import orjson

    from ledger.ingest import ChunkTask, check_chunk
    from ledger.store import STATE_HEADER, StateCodec

    given_bodies = []
    states = StateCodec.states

    def spy(codec, prepared, dictionary_id, recorded_us):
        if prepared:
            given_bodies.append(sum(1 for event in prepared if event.body and event.dictionary == dictionary_id))
        return states(codec, prepared, dictionary_id, recorded_us)

    monkeypatch.setattr(StateCodec, "states", spy)
    for workers in (1, 0):
        with fresh_store(tmp_path / f"stream-{workers}.db") as store:
            ingest_stream(store, iter(EVENTS[:1_000]), workers=workers)  # the store trains its dictionary
            ingest_stream(store, iter(EVENTS[1_000:]), batch=1_000, workers=workers)  # ... which the workers are given
            head = store.head()
            assert store.verify().ok
    assert given_bodies == [0, 1_000, 1_000] * 2
    (checked,) = check_chunk(ChunkTask("items", "feed", EVENTS))
    valid = [orjson.loads(canonical) for canonical in checked.canonical]  # as validation leaves them, without bodies
    with fresh_store(tmp_path / "here.db") as store:
        for start in range(0, len(valid), 1_000):
            store.append(valid[start : start + 1_000])
        assert store.head() == head
    bodies = []
    for name in ("stream-1.db", "stream-0.db", "here.db"):
        with sqlite3.connect(tmp_path / name) as conn:
            rows = conn.execute("SELECT originator_id, state FROM stored_events ORDER BY rowid")
            bodies.append([(entry, state[1:3], state[STATE_HEADER.size :]) for entry, state in rows])
    assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]) == len(EVENTS)
    with open_store(str(tmp_path / "stream-1.db")) as store:
        assert [recorded.data for recorded in store.events(1)] == valid
