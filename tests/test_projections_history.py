"""Bitemporal history: one row per state over valid time and known time, agreeing with entity_state everywhere."""

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import alternative_of, amendment, change, claim, ledgers, query_days, retraction
from ledger.projections import entity_state, entity_units, group_by_entity, history
from ledger.projections.fold import state_of_units
from ledger.projections.state import PROJECTIONS

EVERY_DAY = [date(2024, 4, 26) + timedelta(days=n) for n in range(45)]


def version_at(versions, as_of, known_at):
    holding = [v for v in versions if v.contains(as_of, known_at)]
    assert len(holding) <= 1, f"{len(holding)} versions hold on {as_of} known at {known_at}"
    return holding[0].state if holding else None


def known_dates(events):
    reported = {date.fromisoformat(data["reported"]) for data in events}
    return sorted(reported | {day - timedelta(days=1) for day in reported}) + [None]


@settings(max_examples=80, deadline=None)
@given(ledgers(), st.data())
def test_the_version_holding_any_date_as_known_at_any_date_is_the_entity_state(events, data):
    for entity, entity_events in group_by_entity(events).items():
        versions = history(entity_events, entity)
        projection = PROJECTIONS[entity.projection]
        for known_at in known_dates(events):
            units = entity_units(events, entity, known_at)
            for as_of in EVERY_DAY:
                expected = state_of_units(projection, entity.key, units, as_of)
                assert version_at(versions, as_of, known_at) == expected, (entity, as_of, known_at)
        as_of, known_at = data.draw(query_days()), data.draw(st.one_of(st.none(), query_days()))
        assert version_at(versions, as_of, known_at) == entity_state(events, entity, as_of, known_at)


@settings(max_examples=40, deadline=None)
@given(ledgers())
def test_history_rows_are_coalesced_and_carry_their_state(events):
    for entity, entity_events in group_by_entity(events).items():
        versions = history(entity_events, entity)
        for version in versions:
            assert version.certainty == version.state["certainty"] and version.disputed == version.state["disputed"]
            assert version.event_id in version.state["events"]
            assert version.valid_to is None or version.valid_from is None or version.valid_from < version.valid_to
            assert version.known_to is None or version.known_from < version.known_to
        for a in versions:
            for b in versions:
                same_known = (a.known_from, a.known_to) == (b.known_from, b.known_to)
                if a is not b and same_known and a.valid_to == b.valid_from:
                    assert a.state != b.state, "adjacent identical rows should be one"


def test_a_late_report_opens_new_rows_from_its_report_date():
    events = [
        change("ban", "r1", "prohibited", "2024-05-01", reported="2024-05-01"),
        change("decided", "r1", "conditional", "2024-05-15", reported="2024-05-30"),
    ]
    rows = [(v.valid_from, v.valid_to, v.known_from, v.known_to, v.state["status"]) for v in history(events, ("restrictions", "r1"))]
    assert rows == [
        (date(2024, 5, 1), None, date(2024, 5, 1), date(2024, 5, 30), "prohibited"),
        (date(2024, 5, 1), date(2024, 5, 15), date(2024, 5, 30), None, "prohibited"),
        (date(2024, 5, 15), None, date(2024, 5, 30), None, "conditional"),
    ]


def test_history_needs_the_alternative_accounts_and_corrections_group_by_entity_gives():
    kyiv = claim("kyiv-says", "zone", "ukraine", "2024-08-12", size=1000)
    moscow = alternative_of(claim("moscow-says", "zone", "us", "2024-08-13"), "kyiv-says")
    events = [kyiv, moscow, retraction("moscow-retracted", "moscow-says", "2024-08-20"), change("ban", "r1", "prohibited", "2024-05-01")]
    grouped = group_by_entity(events)
    assert [e["id"] for e in grouped[("territory", "zone")]] == ["kyiv-says", "moscow-retracted", "moscow-says"]
    versions = history(grouped[("territory", "zone")], ("territory", "zone"))
    assert version_at(versions, date(2024, 8, 14), date(2024, 8, 19))["disputed"] is True
    assert version_at(versions, date(2024, 8, 14), date(2024, 8, 20))["disputed"] is False


def test_an_account_an_amendment_linked_earlier_joins_its_group_when_reported():
    events = [
        change("first", "r1", "conditional", "2024-05-10"),
        amendment("now-linked", "first", "2024-05-12", links={"alternative_account_of": ["second"]}),
        change("second", "r1", "prohibited", "2024-05-11", reported="2024-05-15"),
    ]
    versions = history(events, ("restrictions", "r1"))
    for known_at in (date(2024, 5, 12), date(2024, 5, 16), None):
        assert version_at(versions, date(2024, 5, 20), known_at) == entity_state(
            events, ("restrictions", "r1"), date(2024, 5, 20), known_at
        )
    assert version_at(versions, date(2024, 5, 20), None)["disputed"] is True


def test_a_few_hundred_events_of_one_entity_make_a_history_quickly():
    events = [
        change(
            f"c{n:03d}",
            "r1",
            ("prohibited", "conditional")[n % 2],
            (date(2024, 1, 1) + timedelta(days=n)).isoformat(),
            reported=(date(2024, 1, 1) + timedelta(days=n + (40 if n % 10 == 0 else 1))).isoformat(),
        )
        for n in range(300)
    ]
    versions = history(events, ("restrictions", "r1"))
    assert version_at(versions, date(2024, 3, 1), None)["events"][-1] == "c060"
