"""Time travel over a store: replay on three axes, audit, diff and timeline, as the Python API gives them."""

from datetime import date

import pytest
import yaml

from conftest import ACTORS, write_events, write_registry
from helpers import (
    PACKAGE_KEYS,
    POSITION_KEYS,
    REPLAY_KEYS,
    RESTRICTION_KEYS,
    TERRITORY_KEYS,
    amendment,
    audit,
    diff,
    diff_known,
    replay,
    story,
    timeline,
)
from ledger.dates import DateError
from ledger.ingest import ingest_paths
from ledger.projections.selection import UnknownEntity, UnknownProjection
from ledger.store import open_store


@pytest.fixture
def folder(tmp_path):
    folder = write_registry(tmp_path / "events")
    (folder / "actors.yaml").write_text(
        yaml.safe_dump([*ACTORS, {"id": "russia", "name": "Russia", "role": "state", "type": "government"}])
    )
    return folder


@pytest.fixture
def store(folder, db):
    write_events(folder / "story.yaml", story())
    with open_store(db) as opened:
        ingest_paths(opened, [folder])
        yield opened


def test_replay_gives_the_documented_contract(store):
    result = replay(store, "2024-08-20")
    assert set(result) >= REPLAY_KEYS
    assert set(result["restrictions"][0]) >= RESTRICTION_KEYS
    assert set(result["aid_packages"][0]) >= PACKAGE_KEYS and {"amount", "currency", "qualifier"} == set(result["aid_packages"][0]["value"])
    assert set(result["positions"][0]) >= POSITION_KEYS
    assert set(result["territory"][0]) >= TERRITORY_KEYS and {"value", "unit"} <= set(result["territory"][0]["size"])
    assert result["as_of"] == "2024-08-20" and result["known_at"] is None and result["recorded_before"] is None


def test_replay_answers_the_analysts_questions(store):
    assert replay(store, "2024-05-20")["restrictions"][0]["status"] == "prohibited"
    on_june_1 = replay(store, date(2024, 6, 1))["restrictions"][0]
    assert on_june_1["status"] == "conditional" and on_june_1["conditions"] == ["counter-fire near Kharkiv"]
    assert on_june_1["events"] == ["standing-ban", "biden-decides", "in-effect"]
    assert replay(store, "2024-05-31", known_at="2024-05-29")["restrictions"][0]["status"] == "prohibited"
    assert replay(store, "2024-05-28")["restrictions"][0]["certainty"] == "possible"


def test_replay_only_some_projections(store):
    result = replay(store, "2024-08-20", only="restrictions,aid")
    assert "positions" not in result and "territory" not in result
    assert result["aid_packages"][0]["value"]["amount"] == 125000000
    with pytest.raises(UnknownProjection, match="'weather'"):
        replay(store, "2024-08-20", only="weather")


@pytest.mark.parametrize("bad", ["2024-02-30", "yesterday-ish"])
def test_impossible_dates_raise_date_errors(store, bad):
    with pytest.raises(DateError):
        replay(store, bad)
    with pytest.raises(DateError):
        replay(store, "2024-06-01", known_at=bad)


def test_recorded_before_reproduces_what_the_ledger_said_before_an_append(store, folder):
    earlier = replay(store, "2024-05-31")
    first_new = store.max_position() + 1
    write_events(folder / "late.yaml", [amendment("date-corrected", "biden-decides", "2024-06-05", occurred="2024-06-03")])
    ingest_paths(store, [folder])
    assert replay(store, "2024-05-31")["restrictions"][0]["status"] == "prohibited"
    again = replay(store, "2024-05-31", recorded_before=first_new)
    assert again["restrictions"] == earlier["restrictions"] and again["recorded_before"] == first_new
    assert replay(store, "2024-05-31", recorded_before=str(first_new))["restrictions"] == earlier["restrictions"]
    assert replay(store, "2024-05-31", recorded_before="2000-01-01T00:00:00")["restrictions"] == []
    with pytest.raises(DateError, match="neither a store position nor an ISO timestamp"):
        replay(store, "2024-05-31", recorded_before="last tuesday")


def test_recorded_before_a_position_inside_a_batch_means_before_that_whole_batch(store):
    assert replay(store, "2024-08-20", recorded_before=3)["restrictions"] == []


def test_audit_shows_each_step_with_sources_state_and_the_chain_of_links(store):
    trail = audit(store, "us-strikes", as_of="2024-06-10")
    assert trail["entity"] == "us-strikes" and trail["kind"] == "restrictions"
    assert [step["event"] for step in trail["steps"]] == ["standing-ban", "biden-decides", "in-effect"]
    decision = trail["steps"][1]
    assert decision["occurred"] == "2024-05-30~" and decision["precision"] == "day" and decision["kind"] == "policy_change"
    assert decision["state_after"]["status"] == "conditional"
    assert decision["sources"][0] == {
        **decision["sources"][0],
        "outlet": "The Example Post",
        "attribution": "on_record_official",
        "speaker": "kirby",
    }
    assert [link["event"] for link in decision["links"]] == ["kyiv-asks", "advisers-recommend"]
    assert [link["event"] for link in trail["steps"][2]["links"]] == ["kyiv-asks", "advisers-recommend", "biden-decides"]


def test_audit_as_known_earlier_has_fewer_steps(store):
    trail = audit(store, "us-strikes", known_at="2024-05-29")
    assert [step["event"] for step in trail["steps"]] == ["standing-ban"]


def test_audit_of_an_unknown_entity_suggests_close_ids(store):
    with pytest.raises(UnknownEntity) as caught:
        audit(store, "us-strike")
    assert "did you mean us-strikes" in str(caught.value)


def test_audit_finds_positions_by_actor_and_question(store):
    assert audit(store, "kirby:strikes-inside-russia")["kind"] == "positions"
    assert audit(store, "territory:kursk-zone")["steps"][0]["state_after"]["holder"] == "ukraine"


def test_diff_between_two_dates(store):
    changes = diff(store, "2024-05-20", "2024-08-20")
    assert changes["from"] == "2024-05-20" and changes["to"] == "2024-08-20"
    changed = changes["restrictions"]["changed"][0]
    assert changed["id"] == "us-strikes" and changed["before"]["status"] == "prohibited" and changed["after"]["status"] == "conditional"
    assert changed["new_events"] == ["biden-decides", "in-effect"]
    assert [state["id"] for state in changes["territory"]["added"]] == ["kursk-zone"]
    assert changes["aid_packages"]["removed"] == []


def test_diff_between_two_states_of_knowledge(store):
    changes = diff_known(store, "2024-05-31", "2024-05-29", "2024-05-30")
    assert (changes["as_of"], changes["known_at"], changes["vs_known_at"]) == ("2024-05-31", "2024-05-29", "2024-05-30")
    assert changes["restrictions"]["changed"][0]["after"]["status"] == "conditional"
    assert changes["positions"]["changed"] == [] and changes["positions"]["added"] == []


def test_timeline_lists_dated_events_and_an_entitys_story(store):
    everything = timeline(store)
    assert [row["id"] for row in everything][:2] == ["standing-ban", "kyiv-asks"]
    assert {"occurred", "reported", "kind", "id", "summary"} <= set(everything[0])
    story_rows = {row["id"]: row["relation"] for row in timeline(store, "us-strikes")}
    assert story_rows == {
        "standing-ban": "state",
        "kyiv-asks": "request",
        "advisers-recommend": "linked",
        "biden-decides": "state",
        "in-effect": "state",
    }
    with pytest.raises(UnknownEntity):
        timeline(store, "nothing-like-it")
