"""Properties of the folds over random ledgers: order never matters, dates and reports bound what counts."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import amendment, ledgers, query_days, retraction
from ledger.dates import parse_edtf
from ledger.events import apply_amendment, parse_event
from ledger.projections import PROJECTIONS, state_at

FEW = settings(max_examples=60, deadline=None)


def ids_in(state: dict) -> set[str]:
    return {event_id for states in state.values() for entity in states for event_id in entity["events"]}


@FEW
@given(ledgers(), query_days(), st.one_of(st.none(), query_days()), st.randoms(use_true_random=False))
def test_the_order_events_come_in_never_changes_an_answer(events, as_of, known_at, rng):
    shuffled = events[:]
    rng.shuffle(shuffled)
    assert state_at(shuffled, as_of, known_at) == state_at(events, as_of, known_at)


def reference_fold(events: list[dict], as_of: date) -> dict:
    """What the spec says, written out plainly: per entity, merge the effects of events begun by as_of, in date order.

    An event has begun when its earliest day is on or before as_of, an open
    start when its one day is; when none has, the open starts that may have.
    (Certainty is checked against every reading in test_projections_readings.)
    """
    found: dict[tuple[str, str], list] = {}
    for data in events:
        for name, projection in PROJECTIONS.items():
            if (key := projection.key(data)) is not None and projection.span(data).earliest <= as_of:
                found.setdefault((name, key), []).append(projection.account(data))
    result: dict = {name: {} for name in PROJECTIONS}
    for (name, key), accounts in found.items():
        occurred = {a.id: parse_edtf(a.data["occurred"]) for a in accounts}
        anchor = {a.id: a.span.latest if a.span.open_start else a.span.earliest for a in accounts}
        accounts.sort(key=lambda a: (anchor[a.id], a.span.latest, occurred[a.id].earliest, occurred[a.id].latest, a.id))
        begun = [a for a in accounts if anchor[a.id] <= as_of] or accounts
        fields: dict = {}
        for account in begun:
            fields.update(account.effect)
        result[name][key] = {"tracked": fields.get(PROJECTIONS[name].tracked), "events": [a.id for a in begun]}
    return result


@FEW
@given(ledgers(corrections=False, alternatives=False), query_days())
def test_a_replay_at_a_date_is_the_fold_of_exactly_the_events_up_to_that_date(events, as_of):
    expected = reference_fold(events, as_of)
    for name, states in state_at(events, as_of).items():
        tracked = PROJECTIONS[name].tracked
        got = {s["id"]: {"tracked": s[tracked], "events": s["events"]} for s in states}
        assert got == expected[name]
        assert not any(s["disputed"] for s in states)


@FEW
@given(ledgers(corrections=False, alternatives=False), query_days())
def test_events_that_begin_after_the_date_change_nothing(events, as_of):
    begun = [data for data in events if any(p.key(data) and p.span(data).earliest <= as_of for p in PROJECTIONS.values())]
    assert state_at(begun, as_of) == state_at(events, as_of)


@FEW
@given(ledgers(), query_days(), query_days())
def test_known_at_never_reveals_an_event_reported_later(events, as_of, known_at):
    """Nothing shows before it was public: its ``reported`` day, or an earlier one a known correction gives it."""
    known = known_at.isoformat()
    state = state_at(events, as_of, known_at)
    reported = {data["id"]: data["reported"] for data in events}
    for data in events:  # a correction known by then may say the fact was public earlier
        amended = data.get("amended") or {}
        if data["kind"] == "correction" and data["reported"] <= known and "reported" in amended and data["corrects"] in reported:
            reported[data["corrects"]] = min(reported[data["corrects"]], amended["reported"])
    assert all(reported[event_id] <= known for event_id in ids_in(state))
    if all("reported" not in (data.get("amended") or {}) for data in events):
        assert state == state_at([data for data in events if data["reported"] <= known], as_of)


@FEW
@given(ledgers(corrections=False, alternatives=False), query_days(), query_days(), st.data())
def test_a_retraction_removes_the_event_once_reported_and_not_before(events, as_of, known_at, data):
    target = data.draw(st.sampled_from(events))
    reported = data.draw(query_days()).isoformat()
    corrected = [*events, retraction("zz-retraction", target["id"], reported)]
    without = [e for e in events if e["id"] != target["id"]]
    if known_at.isoformat() >= reported:
        assert state_at(corrected, as_of, known_at) == state_at(without, as_of, known_at)
    else:
        assert state_at(corrected, as_of, known_at) == state_at(events, as_of, known_at)


@FEW
@given(ledgers(corrections=False, alternatives=False), query_days(), st.sampled_from(["2024-05-03", "2024-05-18~", "2024-05"]), st.data())
def test_an_amendment_replaces_the_event_once_reported(events, as_of, occurred, data):
    target = data.draw(st.sampled_from(events))
    fix = amendment("zz-amendment", target["id"], "2024-05-15", occurred=occurred)
    amended = apply_amendment(parse_event(target), {"occurred": occurred}).to_dict()
    replaced = [amended if e["id"] == target["id"] else e for e in events]
    assert state_at([*events, fix], as_of) == state_at(replaced, as_of)
    assert state_at([*events, fix], as_of, date(2024, 5, 14)) == state_at(events, as_of, date(2024, 5, 14))


@FEW
@given(ledgers(corrections=False), query_days())
def test_alternative_accounts_are_listed_together_and_disputed_when_they_differ(events, as_of):
    by_id = {data["id"]: data for data in events}
    for name, states in state_at(events, as_of).items():
        projection = PROJECTIONS[name]
        for state in states:
            for event_id in state["events"]:
                for other in by_id[event_id].get("links", {}).get("alternative_account_of", []):
                    if projection.key(by_id[other]) == state["id"]:
                        assert other in state["events"]
                        alone = set(state["events"]) == {event_id, other}
                        if alone and projection.effect(by_id[other]) != projection.effect(by_id[event_id]):
                            assert state["disputed"]
