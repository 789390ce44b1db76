"""Certainty from the readings of uncertain dates: a state is possible only when the readings disagree.

The rule is checked against a brute force that tries every reading of every
event's dates (and every order the days allow) on small random ledgers, then
by the properties an analyst relies on, then on the corpus examples.
"""

from datetime import date, timedelta
from itertools import permutations, product

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conftest import REPO
from helpers import START, STATUSES, change, corpus_store, day, occurred_texts
from ledger.dates import OPEN_END, OPEN_START, parse_edtf
from ledger.projections import entity_state, entity_units
from ledger.projections.base import EntityKey
from ledger.projections.readings import last_setters, varies, varying_setters

R1 = EntityKey("restrictions", "r1")
DECIDED = ("status", "conditions")
FEW = settings(max_examples=60, deadline=None)


# --- a brute force over every reading -------------------------------------------------------


def candidate_days(units, as_of):
    """Days enough to realise every order the dates allow: each bound, its neighbours, and as-of's."""
    days = {as_of, as_of + timedelta(days=1), START - timedelta(days=30)}
    for unit in units:
        for member in unit.members:
            days.update((member.span.earliest, member.span.latest, *member.span.choices))
    days -= {OPEN_START, OPEN_END}
    return days | {d + timedelta(days=step) for d in days for step in (-1, 1)}


def readings(units, as_of):
    """Every (day of each unit) a reading may give, within the candidate days."""
    days = sorted(candidate_days(units, as_of))
    options = [unit.choices or [d for d in days if unit.start <= d <= unit.latest] for unit in units]
    return product(*options)


def orders(placed):
    """Every fold order of (day, unit) pairs: by day; on one day any order, but two one-day units by fold order."""
    groups = {}
    for placed_day, unit in sorted(placed, key=lambda item: item[0]):
        groups.setdefault(placed_day, []).append(unit)
    choices = []
    for group in groups.values():
        allowed = [
            order
            for order in permutations(group)
            if all(not (a.point and b.point and a.sort_key > b.sort_key) for i, a in enumerate(order) for b in order[i + 1 :])
        ]
        choices.append(allowed)
    for combination in product(*choices):
        yield [unit for group in combination for unit in group]


def decided(units_in_order):
    fields = {}
    for unit in units_in_order:
        fields.update(unit.lead.effect)
    return tuple((name, hashable(fields.get(name))) for name in DECIDED)


def hashable(value):
    return tuple(value) if isinstance(value, list) else value


def every_state(units, as_of):
    """The decided state under every reading (None: nothing had happened yet)."""
    found = set()
    for days in readings(units, as_of):
        placed = [(d, unit) for d, unit in zip(days, units, strict=True) if d <= as_of]
        if not placed:
            found.add(None)
            continue
        for order in orders(placed):
            found.add(decided(order))
    return found


# --- ledgers of one restriction -------------------------------------------------------------


@st.composite
def restriction_ledgers(draw, max_events=4):
    events = []
    for index in range(draw(st.integers(1, max_events))):
        fields = {}
        if draw(st.booleans()):
            fields["conditions"] = [draw(st.sampled_from(["near Kharkiv", "counter-fire only"]))]
        status = draw(st.sampled_from(STATUSES[:3]))
        events.append(change(f"e{index:02d}", "r1", status, draw(occurred_texts()), day(27), **fields))
    return events


def query_day():
    return st.integers(-2, 30).map(lambda offset: START + timedelta(days=offset))


def state_fields(state):
    return tuple((name, hashable(state.get(name) or None)) for name in DECIDED)


@FEW
@given(restriction_ledgers(), query_day())
def test_a_state_is_certain_exactly_when_every_reading_of_its_dates_gives_the_same_state(events, as_of):
    units = entity_units(events, R1)
    every = every_state(units, as_of)
    state = entity_state(events, R1, as_of)
    if state is None:
        assert every == {None}
        return
    assert state["certainty"] == ("certain" if len(every) == 1 else "possible"), every
    assert (state["alternatives"] == []) == (state["certainty"] == "certain")


def reading_state(units, as_of, pick):
    """The decided state when every unit falls on ``pick(unit)`` (None: nothing by then)."""
    placed = sorted((pick(unit), unit.sort_key, unit) for unit in units if pick(unit) <= as_of)
    return decided([unit for _, _, unit in placed]) if placed else None


def alternative_fields(alternative, shown):
    if alternative["state"] is None:
        return None
    merged = {**{name: shown.get(name) for name in DECIDED}, **alternative["state"]}
    return state_fields(merged)


@FEW
@given(restriction_ledgers(), query_day())
def test_the_alternatives_are_real_readings_and_include_the_earliest_and_the_latest(events, as_of):
    units = entity_units(events, R1)
    state = entity_state(events, R1, as_of)
    assume(state is not None and state["certainty"] == "possible")
    every = every_state(units, as_of)
    given_states = [alternative_fields(alternative, state) for alternative in state["alternatives"]]
    assert all(found in every for found in given_states)
    assert len(set(given_states)) == len(given_states) >= 2
    earliest = reading_state(units, as_of, lambda unit: unit.start)
    latest = reading_state(units, as_of, lambda unit: max(unit.choices) if unit.choices else unit.latest)
    assert earliest in given_states and latest in given_states
    assert state_fields(state) == given_states[0] and "as_shown" in state["alternatives"][0]["readings"]


def constant_status(units, first, last):
    """The status every reading gives on every day from ``first`` to ``last``, or None if they differ."""
    found = set()
    for offset in range((last - first).days + 1):
        for state in every_state(units, first + timedelta(days=offset)):
            found.add(None if state is None else state[0][1])
    return found.pop() if len(found) == 1 else None


@settings(max_examples=40, deadline=None)
@given(restriction_ledgers(max_events=3), st.integers(0, 20), st.integers(0, 6), st.data())
def test_an_event_that_restates_the_current_state_never_changes_certainty(events, first, width, data):
    units = entity_units(events, R1)
    start = START + timedelta(days=first)
    status = constant_status(units, start - timedelta(days=1), start + timedelta(days=width))
    assume(status is not None)
    occurred = f"{day(first)}/{day(first + width)}" if width else day(first)
    restated = [*events, change("restates", "r1", status, occurred, day(27))]
    for offset in range(-2, 31):
        as_of = START + timedelta(days=offset)
        before, after = entity_state(events, R1, as_of), entity_state(restated, R1, as_of)
        if before is not None:
            assert after["certainty"] == before["certainty"], as_of


def narrower(text, rng):
    """A date inside ``text``'s bounds: one of its days (or one of its choices)."""
    span = parse_edtf(text)
    if span.choices and ".." not in text:
        return rng.choice(span.choices).isoformat()
    first = span.earliest if span.earliest != OPEN_START else span.latest - timedelta(days=10)
    last = span.latest if span.latest != OPEN_END else first + timedelta(days=10)
    return (first + timedelta(days=rng.randint(0, (last - first).days))).isoformat()


@FEW
@given(restriction_ledgers(), query_day(), st.randoms(use_true_random=False), st.data())
def test_shifting_an_event_within_its_own_bounds_never_changes_a_certain_answer(events, as_of, rng, data):
    state = entity_state(events, R1, as_of)
    assume(state is not None and state["certainty"] == "certain")
    index = data.draw(st.integers(0, len(events) - 1))
    shifted = [*events]
    shifted[index] = change(
        events[index]["id"],
        "r1",
        events[index]["restriction"]["status"],
        narrower(events[index]["occurred"], rng),
        day(27),
        **({"conditions": events[index]["restriction"]["conditions"]} if events[index]["restriction"].get("conditions") else {}),
    )
    after = entity_state(shifted, R1, as_of)
    assert after is not None and after["certainty"] == "certain"
    assert state_fields(after) == state_fields(state)


@FEW
@given(restriction_ledgers(), st.sampled_from(STATUSES), st.integers(0, 10))
def test_a_later_open_start_decision_is_never_silently_overridden(events, status, after):
    last = max(parse_edtf(data["occurred"]).latest for data in events)
    last = START + timedelta(days=40) if last == OPEN_END else last
    by = last + timedelta(days=1 + after)
    decided_by = [*events, change("later-decision", "r1", status, f"../{by.isoformat()}", by.isoformat())]
    state = entity_state(decided_by, R1, by + timedelta(days=3))
    shown_or_possible = [state["status"], *[(a["state"] or {}).get("status") for a in state["alternatives"]]]
    assert status in shown_or_possible
    assert state["status"] == status or state["certainty"] == "possible"


@FEW
@given(restriction_ledgers(max_events=6), query_day(), st.data())
def test_the_varying_fields_found_together_are_those_whose_own_last_setters_vary(events, as_of, data):
    units = [unit for unit in entity_units(events, R1) if unit.start <= as_of]
    assume(units)
    wanted = {"status", "conditions", "issuer", "purpose"}
    starts = sorted({unit.start for unit in units})
    settled = {name: data.draw(st.sampled_from(starts)) for name in sorted(wanted) if data.draw(st.booleans())}
    each = {name: last_setters(units, name, settled.get(name), as_of) for name in wanted}
    expected = {name: setters for name, setters in each.items() if varies(setters, name, name not in settled)}
    assert varying_setters(units, wanted, settled, as_of) == expected


@FEW
@given(restriction_ledgers(max_events=6), st.booleans())
def test_a_field_varies_exactly_when_its_setters_dump_to_more_than_one_value(events, may_be_unset):
    units = entity_units(events, R1)
    for name in ("status", "conditions", "issuer"):
        setters = [unit for unit in units if name in unit.lead.effect]
        dumped = {orjson.dumps(unit.lead.effect[name], option=orjson.OPT_SORT_KEYS) for unit in setters}
        assert varies(setters, name, may_be_unset) == (len(dumped) + (may_be_unset and bool(dumped)) > 1), name


# --- the corpus -----------------------------------------------------------------------------

EVENTS = REPO / "events"
corpus = pytest.mark.skipif(not (EVENTS / "2024").is_dir(), reason="the corpus is not in events/")


@pytest.fixture(scope="module")
def corpus_events(tmp_path_factory):
    from ledger.store import open_store

    db = str(tmp_path_factory.mktemp("readings") / "ledger.db")
    corpus_store(db)
    with open_store(db, create=False) as store:
        return [recorded.data for recorded in store.iter_events()]


@corpus
def test_kirbys_friday_of_uncertain_date_leaves_the_kharkiv_permission_certain(corpus_events):
    state = entity_state(corpus_events, ("restrictions", "us-weapons-strikes-inside-russia"), date(2024, 8, 20))
    assert state["status"] == "conditional" and state["certainty"] == "certain" and state["alternatives"] == []


@corpus
def test_a_second_statement_straddling_the_day_leaves_stoltenbergs_support_certain(corpus_events):
    key = ("positions", "stoltenberg:western-weapons-military-targets-inside-russia")
    state = entity_state(corpus_events, key, date(2024, 5, 29))
    assert state["stance"] == "supports" and state["certainty"] == "certain"


@corpus
def test_a_november_decision_written_with_an_open_start_is_not_overridden_by_the_may_reaffirmation(corpus_events):
    decision = change("atacms-ban-lifted", "atacms-long-range-strikes-inside-russia", "permitted", "../2024-11-17", "2024-11-18")
    events = [*corpus_events, decision]
    key = ("restrictions", "atacms-long-range-strikes-inside-russia")
    november = entity_state(events, key, date(2024, 11, 20))
    assert november["status"] == "permitted" and november["certainty"] == "possible"
    other = [a for a in november["alternatives"] if "as_shown" not in a["readings"]]
    assert [a["state"]["status"] for a in other] == ["prohibited"]
    lifted = next(condition for condition in other[0]["if"] if condition["event"] == "atacms-ban-lifted")
    assert "atacms-ban-unchanged-by-kharkiv-guidance" in lifted["before"]
    june = entity_state(events, key, date(2024, 6, 1))
    assert june["status"] == "prohibited" and june["certainty"] == "possible"


# --- the ingest warning ---------------------------------------------------------------------


def test_a_new_event_whose_order_against_another_is_undetermined_and_matters_is_named():
    from ledger.projections.ordering import order_warnings

    old = [change("may-ban", "r1", "prohibited", "2024-05-30", day(40)), change("april-ban", "r1", "prohibited", "2024-04-02", day(40))]
    later = change("ban-lifted", "r1", "permitted", "../2024-11-17", "2024-11-18")
    warnings = order_warnings([later], old)
    assert len(warnings) == 2 and all(w.startswith("ban-lifted: order against ") for w in warnings)
    assert any("may-ban" in w and "status" in w for w in warnings)
    restating = change("may-restated", "r1", "prohibited", "[2024-05-24,2024-05-31]", day(40))
    assert order_warnings([restating], old) == []  # same state either way
    exact = change("june-lift", "r1", "permitted", "2024-06-02", day(40))
    assert order_warnings([exact], old) == []  # dates order it


def test_ledger_ingest_warns_on_stderr_and_in_json_and_appends_all_the_same(tmp_path, ledger_dir, db):
    from click.testing import CliRunner

    from conftest import write_events
    from ledger.cli import main

    write_events(ledger_dir / "may.yaml", [change("may-ban", "r1", "prohibited", "2024-05-30", day(40))])
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(ledger_dir), "--db", db, "--no-project"]).exit_code == 0
    write_events(ledger_dir / "later.yaml", [change("ban-lifted", "r1", "permitted", "../2024-11-17", "2024-11-18")])
    result = runner.invoke(main, ["ingest", str(ledger_dir), "--db", db, "--no-project", "--format", "json"])
    assert result.exit_code == 0
    assert "warning: ban-lifted: order against may-ban (restrictions:r1)" in result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["appended"] == 1 and len(report["warnings"]) == 1 and "may-ban" in report["warnings"][0]


def test_a_read_model_rendered_before_the_readings_is_rebuilt_before_it_answers(tmp_path):
    import sqlite3

    from helpers import view_replay
    from ledger.readmodel.projector import project
    from ledger.readmodel.query import caught_up_view

    db, view = str(tmp_path / "ledger.db"), str(tmp_path / "ledger.view.db")
    corpus_store(db)
    project(db, view)
    with sqlite3.connect(view) as conn:  # as a read model of the previous release: no m0004, states without alternatives
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm0004_states_with_readings'")
        conn.execute("UPDATE restriction_states SET state = json_remove(state, '$.alternatives')")
    assert caught_up_view(db, view) == view
    states = view_replay(view, "2024-08-20", only="restrictions")["restrictions"]
    assert states and all("alternatives" in state for state in states)
