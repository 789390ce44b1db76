"""Corrections seen everywhere: what corrected an event, and the amended dates in the timeline and audit alike."""

from datetime import date

from conftest import write_events, write_registry
from helpers import amendment, audit, change, day, retraction, timeline
from ledger.ingest import ingest_paths
from ledger.projections.visibility import corrections_of
from ledger.store import open_store

EVENTS = [
    change("ban", "r1", "prohibited", day(1), day(2)),
    change("easing", "r1", "conditional", day(10), day(11)),
    amendment("fix-easing-date", "easing", day(20), occurred=day(14)),
    change("rumour", "r1", "permitted", day(12), day(13)),
    retraction("drop-rumour", "rumour", day(15)),
    retraction("undo-drop", "drop-rumour", day(25)),
    change("leak", "r1", "permitted", day(16), day(17)),
    retraction("drop-leak", "leak", day(18)),
]


def test_an_amended_event_names_its_amendment():
    found = corrections_of("easing", EVENTS)
    assert found["status"] == "amended" and found["amended_by"] == ["fix-easing-date"] and found["retracted_by"] == []
    assert found["corrections"][0]["amended"] == {"occurred": day(14)} and found["corrections"][0]["in_effect"]


def test_a_retracted_event_names_its_retraction_and_a_retracted_retraction_does_not_count():
    assert corrections_of("leak", EVENTS)["status"] == "retracted"
    assert corrections_of("leak", EVENTS)["retracted_by"] == ["drop-leak"]
    rumour = corrections_of("rumour", EVENTS)
    assert rumour["status"] == "as_recorded" and rumour["corrections"][0]["in_effect"] is False
    assert corrections_of("rumour", EVENTS, known_at=date(2024, 5, 20))["status"] == "retracted"


def test_an_event_nobody_corrected_is_as_recorded():
    assert corrections_of("ban", EVENTS) == {
        "event": "ban",
        "status": "as_recorded",
        "retracted_by": [],
        "amended_by": [],
        "corrections": [],
    }


def test_timeline_and_audit_place_an_amended_event_at_its_amended_date(tmp_path):
    folder = write_registry(tmp_path / "events")
    write_events(folder / "story.yaml", EVENTS)
    with open_store(str(tmp_path / "ledger.db")) as store:
        ingest_paths(store, [folder])
        row = next(row for row in timeline(store) if row["id"] == "easing")
        step = next(step for step in audit(store, "r1")["steps"] if step["event"] == "easing")
    assert row["occurred"] == step["occurred"] == day(14) and row["earliest"] == step["earliest"] == day(14)


def test_the_datasette_audit_trail_shows_the_amended_date_too(tmp_path):
    import asyncio

    from ledger.readmodel.projector import project
    from ledger.readmodel.serve import SERVED_NAME, build_datasette

    folder = write_registry(tmp_path / "events")
    write_events(folder / "story.yaml", EVENTS)
    db, view = str(tmp_path / "ledger.db"), str(tmp_path / "ledger.view.db")
    with open_store(db) as store:
        ingest_paths(store, [folder])
    project(db, view)
    ds = build_datasette(view)

    async def fetch():
        response = await ds.client.get(f"/{SERVED_NAME}/audit_trail.json?entity=r1&_shape=array")
        return response.json()

    rows = asyncio.run(fetch())
    ids = [row["event_id"] for row in rows]
    easing = rows[ids.index("easing")]
    assert easing["occurred"] == day(14) and easing["date_amended_by"] == "fix-easing-date"
    assert ids.index("easing") > ids.index("rumour")  # placed at 2024-05-15, after the rumour of the 13th
