"""The analyst's view in Datasette: a dashboard linked from the home page that answers "the status of every
restriction on a date" in one step, and canned queries that ask for a date instead of guessing one."""

from __future__ import annotations

import asyncio
import re
import urllib.parse

import pytest
from datasette_dashboards import replace_opts_in_query

from helpers import corpus_store, replay
from ledger.readmodel import project
from ledger.readmodel.serve import SERVED_NAME, build_datasette, metadata_for
from ledger.store import open_store

DASHBOARD = metadata_for(SERVED_NAME)["plugins"]["datasette-dashboards"]["policy"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus ingested and projected once for the module: (store path, read model path)."""
    folder = tmp_path_factory.mktemp("corpus")
    db, view = str(folder / "ledger.db"), str(folder / "ledger.view.db")
    corpus_store(db)
    project(db, view)
    return db, view


@pytest.fixture(scope="module")
def ds(corpus):
    return build_datasette(corpus[1])


def get(ds, path):
    return asyncio.run(ds.client.get(path))


def chart_rows(ds, chart: str, **filters: str) -> list[dict]:
    """A dashboard chart's rows, fetched as the dashboard's script fetches them (optional clauses resolved)."""
    sql = replace_opts_in_query(DASHBOARD["charts"][chart]["query"], filters)
    query = urllib.parse.urlencode({"sql": sql, **filters, "_shape": "array"})
    response = get(ds, f"/{SERVED_NAME}.json?{query}")
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_the_home_page_links_to_the_dashboard(ds):
    home = get(ds, "/")
    assert 'href="/-/dashboards/policy"' in home.text


def test_the_dashboard_opens_on_a_default_date(ds):
    first = get(ds, "/-/dashboards/policy")
    assert first.status_code == 302
    assert "as_of=" in first.headers["location"]
    page = get(ds, first.headers["location"])
    assert page.status_code == 200
    assert all(f'id="card-{chart}"' in page.text for chart in DASHBOARD["charts"])


@pytest.mark.parametrize("as_of, known_at", [("2024-06-01", ""), ("2024-05-20", ""), ("2024-06-01", "2024-05-29"), ("2024-08-25", "")])
def test_the_status_on_the_chosen_date_is_what_replay_says(corpus, ds, as_of, known_at):
    with open_store(corpus[0], create=False) as store:
        expected = replay(store, as_of, known_at or None)["restrictions"]
    found = chart_rows(ds, "status-on-date", as_of=as_of, known_at=known_at)
    assert [(r["restriction"], r["status"], r["since"]) for r in found] == [(s["id"], s["status"], s["since_text"]) for s in expected]


@pytest.mark.parametrize("known_at", ["", "2024-05-29"])
def test_every_chart_answers_on_the_default_date(ds, known_at):
    as_of = DASHBOARD["filters"]["as_of"]["default"]
    for chart in DASHBOARD["charts"]:
        assert chart_rows(ds, chart, as_of=as_of, known_at=known_at), chart


def test_the_status_timeline_draws_each_restrictions_history_without_gaps(corpus, ds):
    rows = chart_rows(ds, "status-timeline", as_of="2024-06-01", known_at="")
    with open_store(corpus[0], create=False) as store:
        restrictions = {state["id"] for state in replay(store, "2024-12-31")["restrictions"]}
    assert {row["restriction"] for row in rows} == restrictions
    for restriction in restrictions:
        bands = sorted((row["start"], row["end"]) for row in rows if row["restriction"] == restriction)
        assert all(end == next_start for (_, end), (next_start, _) in zip(bands, bands[1:])), (restriction, bands)


@pytest.mark.parametrize("query, params", [("restrictions_as_of", "as_of="), ("restrictions_as_known", "as_of=2024-06-01&known_at=")])
def test_a_canned_query_with_an_empty_date_asks_for_one(ds, query, params):
    page = get(ds, f"/{SERVED_NAME}/{query}?{params}")
    assert page.status_code == 400
    assert "enter a date as YYYY-MM-DD" in page.text
    assert "<table" not in page.text
    answer = get(ds, f"/{SERVED_NAME}/{query}.json?{params}&_shape=array")
    assert answer.status_code == 400


def test_canned_queries_show_since_as_written_lists_as_text_and_hide_their_sql(ds):
    rows = get(ds, f"/{SERVED_NAME}/restrictions_as_of.json?as_of=2024-06-01&_shape=array").json()
    assert "../2024-04-30" in {row["since"] for row in rows}
    assert all(not (row["weapons"] or "").startswith("[") for row in rows)
    page = get(ds, f"/{SERVED_NAME}/restrictions_as_of?as_of=2024-06-01")
    assert 'id="sql-query"' not in page.text and "show" in page.text


def test_event_links_are_labelled_with_the_short_id_not_the_summary(corpus, ds):
    page = get(ds, f"/{SERVED_NAME}/event_sources?_size=5")
    cells = re.findall(r'<td class="col-event_id[^"]*"[^>]*>(.*?)</td>', page.text, re.S)
    assert cells and all(len(re.sub(r"<[^>]+>", "", cell)) < 120 for cell in cells)


def test_internal_tables_are_hidden(ds):
    tables = get(ds, f"/{SERVED_NAME}.json").json()["tables"]
    hidden = {table["name"] for table in tables if table["hidden"]}
    assert {"projector_state", "_sqlite_migrations"} <= hidden
