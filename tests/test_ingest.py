"""Ingest validates everything first, then appends all of it in one transaction, or nothing."""

import json

import pytest

from conftest import make_event, write_events
from ledger.ingest import IngestError, ingest_paths
from ledger.store import open_store


@pytest.fixture
def store(db):
    with open_store(db) as opened:
        yield opened


def test_ingest_a_folder_of_yaml_and_json(store, ledger_dir):
    write_events(ledger_dir / "2024" / "05" / "a.yaml", make_event("kirby-a"))
    write_events(ledger_dir / "2024" / "05" / "b.yaml", [make_event("kirby-b"), make_event("decision-c", "policy_change")])
    (ledger_dir / "c.json").write_text(json.dumps(make_event("kirby-d", "request")))
    report = ingest_paths(store, [ledger_dir])
    assert sorted(report.appended) == ["decision-c", "kirby-a", "kirby-b", "kirby-d"]
    assert report.registry_entries == 6
    assert store.count() == 4
    assert set(store.registry()["actor"]) == {"us", "ukraine", "biden", "kirby"}


def test_a_rerun_appends_nothing(store, ledger_dir):
    write_events(ledger_dir / "a.yaml", [make_event("kirby-a"), make_event("kirby-b")])
    ingest_paths(store, [ledger_dir])
    head = store.head()
    report = ingest_paths(store, [ledger_dir])
    assert report.appended == [] and sorted(report.skipped) == ["kirby-a", "kirby-b"]
    assert store.count() == 2 and store.head() == head


def test_a_batch_with_one_bad_event_leaves_the_store_unchanged(store, ledger_dir):
    write_events(ledger_dir / "a.yaml", make_event("kirby-a"))
    ingest_paths(store, [ledger_dir])
    write_events(ledger_dir / "b.yaml", make_event("kirby-b"))
    bad = write_events(ledger_dir / "c.yaml", make_event("kirby-c", occurred="2024-02-30"))
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir])
    assert store.count() == 1 and store.get("kirby-b") is None
    (problem,) = caught.value.problems
    assert problem.file == str(bad) and problem.event_id == "kirby-c" and problem.field == "occurred"
    assert "2024-02-30" in problem.reason
    assert str(problem).startswith(f"{bad}: kirby-c: occurred: ")


def test_every_problem_is_reported_not_just_the_first(store, ledger_dir):
    write_events(
        ledger_dir / "a.yaml",
        [make_event("one", sources=[]), make_event("two", kind="rumour"), make_event("three", unexpected=1)],
    )
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir])
    found = {(p.event_id, p.field) for p in caught.value.problems}
    assert found == {("one", "sources"), ("two", "kind"), ("three", "unexpected")}
    assert all(p.file.endswith("a.yaml[0]") or p.file.endswith("]") for p in caught.value.problems)


def test_unknown_actors_documents_questions_and_links_are_refused(store, ledger_dir):
    write_events(
        ledger_dir / "a.yaml",
        [
            make_event("one", actors=["nobody"]),
            make_event("two", speaker="ghost"),
            make_event("three", position={"question": "unasked", "stance": "supports"}),
            make_event("four", links={"in_response_to": ["never-happened"]}),
            make_event("five", kind="correction", corrects="not-recorded"),
        ],
    )
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir])
    found = {(p.event_id, p.field) for p in caught.value.problems}
    assert ("one", "actors.0") in found
    assert ("two", "speaker") in found
    assert ("three", "position.question") in found
    assert ("four", "links.in_response_to") in found
    assert ("five", "corrects") in found


def test_links_may_point_into_the_store_or_the_same_batch(store, ledger_dir):
    write_events(ledger_dir / "a.yaml", make_event("request-a", "request"))
    ingest_paths(store, [ledger_dir])
    write_events(
        ledger_dir / "b.yaml",
        [
            make_event("decision-b", "policy_change", links={"in_response_to": ["request-a"]}),
            make_event("reaction-c", links={"in_response_to": ["decision-b"]}),
        ],
    )
    assert len(ingest_paths(store, [ledger_dir]).appended) == 2


def test_the_same_id_with_different_content_points_to_corrections(store, ledger_dir):
    path = write_events(ledger_dir / "a.yaml", make_event("kirby-a"))
    ingest_paths(store, [ledger_dir])
    write_events(path, make_event("kirby-a", summary="A different summary."))
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir])
    (problem,) = caught.value.problems
    assert problem.event_id == "kirby-a" and "correction" in problem.reason
    assert store.get("kirby-a").data["summary"] != "A different summary."


def test_duplicate_ids_within_a_batch_are_refused(store, ledger_dir):
    write_events(ledger_dir / "a.yaml", make_event("kirby-a"))
    write_events(ledger_dir / "b.yaml", make_event("kirby-a", summary="Another."))
    with pytest.raises(IngestError, match="problem"):
        ingest_paths(store, [ledger_dir])
    assert store.count() == 0


def test_unreadable_files_and_missing_paths_are_problems_not_crashes(store, ledger_dir, tmp_path):
    (ledger_dir / "broken.yaml").write_text("id: [unclosed\n")
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir, tmp_path / "absent"])
    reasons = " ".join(p.reason for p in caught.value.problems)
    assert "cannot read the file" in reasons and "no such file" in reasons


def test_json_lines_files_hold_many_events(store, ledger_dir):
    lines = "\n".join(json.dumps(make_event(f"kirby-{n}")) for n in range(20))
    (ledger_dir / "many.jsonl").write_text(lines)
    assert len(ingest_paths(store, [ledger_dir]).appended) == 20


def test_in_memory_events_take_the_same_checks(store):
    from conftest import ACTORS, DOCUMENTS, QUESTIONS
    from ledger.ingest import ingest_dicts

    registry = {"actor": ACTORS, "document": DOCUMENTS, "question": QUESTIONS}
    report = ingest_dicts(store, [make_event("kirby-a"), make_event("kirby-b")], registry)
    assert report.appended == ["kirby-a", "kirby-b"]
    with pytest.raises(IngestError) as caught:
        ingest_dicts(store, [make_event("kirby-c", occurred="soon")], registry, name="batch-7")
    assert caught.value.problems[0].file == "batch-7" and caught.value.problems[0].field == "occurred"
    assert store.count() == 2


def test_progress_is_reported_over_events_and_problems_name_their_index(store, ledger_dir):
    lines = [json.dumps(make_event(f"kirby-{n}")) for n in range(1200)]
    lines[1100] = json.dumps(make_event("kirby-1100", occurred="2024-13-01"))
    (ledger_dir / "many.jsonl").write_text("\n".join(lines))
    seen = []
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir], progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (1200, 1200) and len(seen) >= 3
    (problem,) = caught.value.problems
    assert problem.file.endswith("many.jsonl[1100]") and problem.field == "occurred"


def test_an_event_cannot_link_to_itself(store, ledger_dir):
    write_events(ledger_dir / "a.yaml", make_event("loop", links={"part_of": ["loop"]}))
    with pytest.raises(IngestError) as caught:
        ingest_paths(store, [ledger_dir])
    assert [(p.event_id, p.field, p.reason) for p in caught.value.problems] == [("loop", "links.part_of", "an event cannot link to itself")]


def test_order_warnings_read_only_the_new_events_entities_and_say_what_the_whole_ledger_check_says(tmp_path, ledger_dir):
    from helpers import change, day
    from ledger import Ledger
    from ledger.projections.ordering import order_warnings

    old = [
        change("may-ban", "r1", "prohibited", "2024-05-30", day(40)),
        change("april-ban", "r1", "prohibited", "2024-04-02", day(40)),
        change("other-ban", "r2", "prohibited", "2024-05-30", day(40)),
        change("ban-retracted", "r1", "prohibited", "2024-05-30", day(41)),
    ]
    old.append(make_event("retraction", "correction", corrects="ban-retracted", action="retract", reason="misreported"))
    later = [
        change("ban-lifted", "r1", "permitted", "../2024-11-17", "2024-11-18"),
        change("r2-lifted", "r2", "permitted", "2024-05", day(50)),
    ]
    write_events(ledger_dir / "old.yaml", old)
    expected = order_warnings(later, old)
    assert any("may-ban" in w for w in expected) and any("other-ban" in w for w in expected)
    assert not any("ban-retracted" in w for w in expected)  # retracted: no longer in the entity's history
    for project in (True, False):  # with the read model's entity index, and by reading every stored event
        folder = tmp_path / f"project-{project}"
        folder.mkdir()
        with Ledger(str(folder / "ledger.db"), create=True) as ledger:
            assert ledger.ingest([ledger_dir], project=project).warnings == []
            write_events(ledger_dir / "later.yaml", later)
            assert sorted(ledger.ingest([ledger_dir], project=project).warnings) == sorted(expected)
            (ledger_dir / "later.yaml").unlink()


def test_events_another_writer_recorded_after_they_were_checked_are_skipped_at_the_append(db, ledger_dir):
    from ledger.ingest import ChunkTask, IngestReport, _Append, check_chunk

    with open_store(db) as store, open_store(db) as other:
        write_events(ledger_dir / "a.yaml", make_event("kirby-a"))
        ingest_paths(store, [ledger_dir])  # the registry
        events = [make_event("kirby-b"), make_event("kirby-c"), make_event("kirby-d")]
        checked = _Append(store, store.registry_ids())
        for chunk in check_chunk(ChunkTask("items", "feed", events)):
            checked.add(chunk)  # none of them recorded yet
        assert not checked.problems()
        ingest_paths(other, [write_events(ledger_dir / "b.yaml", [events[0], events[2]])])  # meanwhile
        report = IngestReport()
        checked.commit(report)
        assert report.appended == ["kirby-c"] and sorted(report.skipped) == ["kirby-b", "kirby-d"]
        assert store.count() == 4 and store.verify().ok
