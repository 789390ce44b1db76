"""The read model in Datasette (through its test client): every table explained, canned as-of queries that
answer what ``ledger replay`` answers, the audit trail and the changes between two dates."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date, timedelta

import pytest
from datasette.app import Datasette

from helpers import SMALL, audit, corpus_store, diff, replay, sample_questions, synthetic_store
from ledger.readmodel import migrate, project
from ledger.readmodel.serve import SHIPPED_NAME, build_datasette, metadata_for, quiet_error_pages
from ledger.store import open_store

CANNED = {  # projection: (query prefix, the field compared besides certainty and disputed)
    "restrictions": ("restrictions", "status"),
    "aid_packages": ("aid_packages", "status"),
    "positions": ("positions", "stance"),
    "territory": ("territory", "holder"),
}


def get(ds, path):
    response = asyncio.run(ds.client.get(path))
    return response


def rows(ds, path):
    response = get(ds, path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def canned(ds, database, name, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items() if value is not None)
    return rows(ds, f"/{database}/{name}.json?{query}&_shape=array&_size=max")


def summary(states, field):
    return [(state["id"], state[field], state["certainty"], bool(state["disputed"])) for state in states]


def assert_canned_queries_agree(ds, database, store, as_of, known_at):
    expected = replay(store, as_of, known_at)
    for projection, (prefix, field) in CANNED.items():
        if known_at is None:
            found = canned(ds, database, f"{prefix}_as_of", as_of=as_of.isoformat())
        else:
            found = canned(ds, database, f"{prefix}_as_known", as_of=as_of.isoformat(), known_at=known_at.isoformat())
        assert summary(found, field) == summary(expected[projection], field), (projection, as_of, known_at)
        assert [json.loads(row["state"]) for row in found] == expected[projection]


@pytest.fixture
def corpus_view(db, tmp_path):
    corpus_store(db)
    view = str(tmp_path / "ledger.view.db")
    project(db, view)
    return view


def test_canned_queries_agree_with_replay_on_the_corpus(db, corpus_view):
    ds = build_datasette(corpus_view)
    with open_store(db, create=False) as store:
        for as_of in [date(2024, 4, 1) + timedelta(days=n) for n in range(0, 200, 11)]:
            for known_at in (None, as_of - timedelta(days=10), as_of + timedelta(days=15)):
                assert_canned_queries_agree(ds, "ledger", store, as_of, known_at)


def test_canned_queries_agree_with_replay_on_a_synthetic_ledger(db, tmp_path):
    view = str(tmp_path / "ledger.view.db")
    synthetic_store(db, SMALL, batches=3, after_each=lambda: project(db, view))
    ds = build_datasette(view)
    with open_store(db, create=False) as store:
        for as_of, known_at, _ in sample_questions(store.max_position(), count=10, seed=8):
            assert_canned_queries_agree(ds, "ledger", store, as_of, known_at)


def test_plain_datasette_with_the_shipped_metadata_serves_the_same_queries(db, corpus_view):
    # `datasette ledger.view.db -m metadata.yml`: the database is named after the file, URLs spell the dot ~2E
    ds = Datasette([corpus_view], metadata=metadata_for())
    quiet_error_pages()
    database = "ledger~2Eview"
    page = get(ds, f"/{database}")
    assert page.status_code == 200 and "Restrictions as of a date" in page.text
    with open_store(db, create=False) as store:
        assert_canned_queries_agree(ds, database, store, date(2024, 6, 1), None)
        assert_canned_queries_agree(ds, database, store, date(2024, 6, 1), date(2024, 5, 25))


def test_the_audit_trail_lists_an_entitys_events_with_their_sources(db, corpus_view):
    ds = build_datasette(corpus_view)
    with open_store(db, create=False) as store:
        restriction = replay(store, "2024-12-31")["restrictions"][0]
        expected = audit(store, restriction["id"])
    steps = canned(ds, "ledger", "audit_trail", entity=restriction["id"])
    assert {step["event"] for step in expected["steps"]} <= {row["event_id"] for row in steps}
    assert all(row["sources"] for row in steps)
    assert canned(ds, "ledger", "audit_trail", entity=f"restrictions:{restriction['id']}") == steps
    assert canned(ds, "ledger", "audit_trail", entity="no-such-entity") == []


def test_changes_between_two_dates_match_ledger_diff(db, corpus_view):
    ds = build_datasette(corpus_view)
    with open_store(db, create=False) as store:
        for start, end in (("2024-05-01", "2024-06-15"), ("2024-07-15", "2024-08-31"), ("2024-01-01", "2024-12-31")):
            expected = diff(store, start, end)
            found = canned(ds, "ledger", "changes_between", **{"from": start, "to": end})
            wanted = {
                (projection, change, item["id"])
                for projection in CANNED
                for change, items in expected[projection].items()
                for item in items
            }
            assert {(row["projection"], row["change"], row["entity"]) for row in found} == wanted, (start, end)


def test_every_table_and_column_is_described(tmp_path):
    view = str(tmp_path / "ledger.view.db")
    migrate(view)
    conn = sqlite3.connect(view)
    described = metadata_for()["databases"][SHIPPED_NAME]["tables"]
    shown = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE '%fts%'")
        if not described.get(name, {}).get("hidden")
    ]
    for name in shown:
        assert described.get(name, {}).get("description"), name
        if name.endswith("_current") or name == "all_versions":
            continue
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({name})")]
        missing = [column for column in columns if column not in described[name].get("columns", {})]
        assert not missing, (name, missing)
    assert described["_sqlite_migrations"]["hidden"] is True


def test_datasette_shows_labels_facets_and_search(db, corpus_view):
    ds = build_datasette(corpus_view)
    assert "_sqlite_migrations" not in {table["name"] for table in rows(ds, "/ledger.json")["tables"] if not table["hidden"]}
    cited = rows(ds, "/ledger/event_sources.json?_labels=on&speaker__notblank=1&_shape=objects")
    speaker = cited["rows"][0]["speaker"]
    assert isinstance(speaker, dict) and speaker["label"] != speaker["value"]  # the actor's name, linked
    table = rows(ds, "/ledger/restriction_versions.json?_facet=status&_facet=issuer&_shape=objects")
    assert table["rows"] and table["facet_results"]["status"]["results"] and table["facet_results"]["issuer"]["results"]
    found = rows(ds, "/ledger/events.json?_search=Kursk&_shape=array")
    assert found and all("kursk" in (row["summary"] + (row["quote"] or "")).lower() for row in found)


def test_a_write_through_datasette_is_refused(corpus_view):
    ds = build_datasette(corpus_view)
    assert get(ds, "/ledger.json?sql=delete+from+events").status_code == 400
    assert asyncio.run(ds.client.post("/ledger", data={"sql": "delete from events"})).status_code in (403, 405)
    assert sqlite3.connect(corpus_view).execute("SELECT COUNT(*) FROM events").fetchone()[0] > 0
