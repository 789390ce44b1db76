"""One question, one answer: the read model and the fold over stored events agree, field by field.

On random ledgers (every projection, uncertain and open-ended dates, one-of sets,
corrections, backdated appends, alternative accounts), appended in random
batches with the read model caught up after each one, and asked at random dates
on all three time axes. ``LEDGER_DIFFERENTIAL_EXAMPLES`` sets how many ledgers
(1,000 by default; a stress run may ask for more), ``LEDGER_DIFFERENTIAL_RANDOM=1`` draws new ones.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import ledgers, query_days, table_contents
from ledger.api import Ledger
from ledger.readmodel import project
from ledger.store import open_store

EXAMPLES = int(os.environ.get("LEDGER_DIFFERENTIAL_EXAMPLES", "1000"))
# The same ledgers every run, so a red run is reproducible; LEDGER_DIFFERENTIAL_RANDOM=1 explores new ones.
DERANDOMIZE = not os.environ.get("LEDGER_DIFFERENTIAL_RANDOM")
MANY = settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])


def append_and_project(db: str, view: str, events: list[dict], cuts: list[int]) -> list[int]:
    """Append ``events`` in batches split at ``cuts``, catching the read model up after each; each batch's first position."""
    firsts = []
    for start, end in zip([0, *cuts], [*cuts, len(events)]):
        if end > start:
            with open_store(db) as store:
                firsts.append(store.append(events[start:end])[0])
            project(db, view)
    return firsts


@st.composite
def questions(draw: st.DrawFn, count: int) -> tuple[list[int], list[date], date | None, date]:
    """Batch cuts, three as-of dates, a known-at date (or None) and a second date for diffs."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(count - 1, 1)), max_size=3))))
    as_of = draw(st.lists(query_days(), min_size=3, max_size=3))
    return cuts, as_of, draw(st.one_of(st.none(), query_days())), draw(query_days())


def assert_same(ledger: Ledger, what: str, *args: object, **kwargs: object) -> dict:
    """Ask ``what`` of both engines; the two answers must be identical, and are returned as JSON."""
    method = getattr(ledger, what)
    view = method(*args, engine="view", **kwargs).model_dump(mode="json")
    fold = method(*args, engine="fold", **kwargs).model_dump(mode="json")
    assert view == fold, (what, args, kwargs)
    return fold


@MANY
@given(st.data())
def test_the_read_model_answers_what_the_fold_answers(data):
    events = data.draw(ledgers(max_events=12))
    cuts, days, known_at, other = data.draw(questions(len(events)))
    with tempfile.TemporaryDirectory() as folder:
        db, view = str(Path(folder) / "ledger.db"), str(Path(folder) / "ledger.view.db")
        firsts = append_and_project(db, view, events, cuts)
        with Ledger(db, view=view) as ledger:
            assert ledger.engine_for() == "view"
            for as_of in days:
                state = assert_same(ledger, "replay", as_of, known_at)
                assert_same(ledger, "replay", as_of, known_at, firsts[-1])  # system time: before the last append
                assert_same(ledger, "diff", as_of, other, known_at)
                for name, states in state.items():
                    if name in ("restrictions", "aid_packages", "positions", "territory"):
                        for entity in states:
                            steps = ledger.audit(f"{name}:{entity['id']}", as_of, known_at).model_dump(mode="json")["steps"]
                            assert {k: v for k, v in entity.items() if k != "events"} == steps[-1]["state_after"]
            assert_same(ledger, "diff_known", days[0], days[1], days[2])
            timeline_ids = {row["id"] for row in ledger.timeline().model_dump(mode="json")["events"]}
        with sqlite3.connect(view) as conn:
            assert timeline_ids == {event_id for (event_id,) in conn.execute("SELECT id FROM events")}


@settings(max_examples=max(EXAMPLES // 10, 20), deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_catching_up_after_every_append_gives_the_tables_of_one_rebuild(data):
    events = data.draw(ledgers(max_events=12))
    cuts, *_ = data.draw(questions(len(events)))
    with tempfile.TemporaryDirectory() as folder:
        db, view, rebuilt = (str(Path(folder) / name) for name in ("ledger.db", "ledger.view.db", "rebuilt.view.db"))
        append_and_project(db, view, events, cuts)
        project(db, rebuilt, rebuild=True)
        caught_up, whole = table_contents(view), table_contents(rebuilt)
        assert caught_up == whole
