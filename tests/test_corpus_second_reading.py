"""The corpus's second reading: what the fact-check fixed, and how, without editing what was recorded.

The first reading of ``events/`` (80 events) was checked again, event by event, against the five
articles (docs/corpus.md, "Second reading"). Its findings are new files only: ``correction`` events
that amend or retract a recorded event, with a reason and a source, and new events for what the first
reading left out. These tests say, in order: no recorded file was touched; re-ingesting the corpus
into a store that holds the first reading appends exactly the corrections and the new events; every
correction is well formed and takes effect; recorded time still gives the first reading's answers;
and the corrected corpus gives the articles' answers to the questions the fact-check asked.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from helpers import audit, diff, replay
from ledger.events import apply_amendment, parse_event
from ledger.ingest import ingest_paths
from ledger.projections.visibility import resolve
from ledger.registry import REGISTRY_FILES
from ledger.store import open_store

EVENTS = REPO / "events"
MANIFEST = REPO / "tests" / "fixtures" / "corpus-first-reading.sha256"
SUPPLEMENTAL = "us-supplemental-2024-04"
ATACMS = "atacms-long-range-strikes-inside-russia"
KURSK = "kursk-incursion-zone"


def first_reading() -> dict[str, str]:
    """The first reading's event files (path relative to the repository) and the SHA-256 of their bytes."""
    lines = [line.split() for line in MANIFEST.read_text().splitlines() if line and not line.startswith("#")]
    return {path: digest for digest, path in lines}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


ALL = {event["id"]: event for event in (load(p) for p in sorted(EVENTS.rglob("*.yaml")) if p.parent != EVENTS)}
FIRST_IDS = {load(REPO / path)["id"] for path in first_reading()}
SECOND_IDS = set(ALL) - FIRST_IDS
CORRECTIONS = {i: ALL[i] for i in SECOND_IDS if ALL[i]["kind"] == "correction"}


def entity(result: dict, projection: str, key: str) -> dict | None:
    return next((state for state in result[projection] if state["id"] == key), None)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    """A store that held the first reading, then took the whole corpus: (store, first cutoff, both reports)."""
    folder = tmp_path_factory.mktemp("first-reading") / "events"
    for name in REGISTRY_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EVENTS / name, folder / name)
    for path in first_reading():
        target = folder / Path(path).relative_to("events")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / path, target)
    with open_store(str(tmp_path_factory.mktemp("second-reading") / "ledger.db")) as store:
        first = ingest_paths(store, [folder])
        cutoff = store.max_position() + 1
        second = ingest_paths(store, [EVENTS])
        yield store, cutoff, first, second


# --- what was recorded stays recorded ------------------------------------------------------------


def test_no_file_of_the_first_reading_was_edited_moved_or_removed():
    changed = [path for path, digest in first_reading().items() if hashlib.sha256((REPO / path).read_bytes()).hexdigest() != digest]
    assert len(first_reading()) == 80 and changed == []


def test_reingesting_the_corpus_appends_only_the_corrections_and_the_new_events(ledger):
    _, _, first, second = ledger
    assert sorted(first.appended) == sorted(FIRST_IDS)
    assert sorted(second.appended) == sorted(SECOND_IDS) and sorted(second.skipped) == sorted(FIRST_IDS)
    assert all("second-reading" in ALL[i]["tags"] for i in SECOND_IDS)


def test_every_fix_corrects_a_recorded_event_with_a_reason_a_source_and_a_valid_result():
    assert len(CORRECTIONS) >= 20
    for correction in CORRECTIONS.values():
        assert correction["corrects"] in FIRST_IDS and correction["reason"] and correction["sources"], correction["id"]
        if correction["action"] == "amend":
            apply_amendment(parse_event(ALL[correction["corrects"]]), correction["amended"])  # raises if the result is invalid


def test_every_fix_applies_wherever_its_event_is_known():
    """A fix of the record holds on every world and public date its event does: only recorded time shows the old reading."""
    for correction in CORRECTIONS.values():
        target = apply_amendment(parse_event(ALL[correction["corrects"]]), correction.get("amended") or {})
        assert str(correction["reported"]) <= target.reported.isoformat(), correction["id"]


def read_late(state):
    """The state as every event read on its last possible day gives it (the state itself when certain).

    The prepositioning is dated only "by 30 April", so the order of the supplemental's events is open
    until a date settles it; read late, the approval then the deliveries come last.
    """
    late = next((a["state"] for a in state.get("alternatives", []) if "latest" in a["readings"]), None) or {}
    return {**state, **late}


def test_recorded_time_still_gives_the_first_readings_answers(ledger):
    store, cutoff, _, _ = ledger
    then = read_late(entity(replay(store, "2024-05-20", recorded_before=cutoff), "aid_packages", SUPPLEMENTAL))
    now = read_late(entity(replay(store, "2024-05-20"), "aid_packages", SUPPLEMENTAL))
    assert (then["status"], then["value"]["qualifier"]) == ("delivered", "about")
    assert (now["status"], now["value"]["qualifier"]) == ("in_delivery", "exact")


def test_the_audit_names_the_fixes(ledger):
    store = ledger[0]
    steps = {step["event"]: step for step in audit(store, SUPPLEMENTAL, as_of="2024-05-20")["steps"]}
    assert [fix["event"] for fix in steps["us-rushes-arms-after-aid-approval"]["amended_by"]] == ["fix-supplemental-deliveries-under-way"]
    assert [fix["event"] for fix in steps["congress-approves-60-billion-for-ukraine"]["amended_by"]] == ["fix-60-billion-is-exact"]
    atacms = {step["event"]: step for step in audit(store, ATACMS, as_of="2024-06-01")["steps"]}
    assert atacms["atacms-ban-unchanged-by-kharkiv-guidance"]["amended_by"][0]["event"] == "fix-atacms-reaffirmation-restates-no-scope"


# --- the articles' answers -----------------------------------------------------------------------


def test_the_supplemental_was_being_delivered_not_delivered_on_may_20(ledger):
    """CSM, 2024-05-20: officials 'are rushing U.S. arms into the country'; the shells 'will be a welcome arrival'."""
    supplemental = read_late(entity(replay(ledger[0], "2024-05-20"), "aid_packages", SUPPLEMENTAL))
    assert supplemental["status"] == "in_delivery" and supplemental["measure"] == "delivery"
    assert supplemental["value"] == {"amount": 60000000000, "currency": "USD", "qualifier": "exact"}


def test_the_may_diff_shows_no_change_of_the_atacms_bans_scope(ledger):
    """The articles: the policy on long-range strikes inside Russia 'has not changed' (Post), is 'unchanged' (Scripps)."""
    changed = {change["id"]: change for change in diff(ledger[0], "2024-05-20", "2024-06-01")["restrictions"]["changed"]}
    assert changed[ATACMS]["fields"] == ["stage"] and changed[ATACMS]["after"] == {"stage": "reaffirmed"}
    ban = entity(replay(ledger[0], "2024-06-01"), "restrictions", ATACMS)
    assert (ban["status"], ban["area"], ban["targets"]) == ("prohibited", "Russian territory", ["any target inside Russia"])


@pytest.mark.parametrize(
    ("event_id", "reported"),
    [
        ("singh-unsure-how-kursk-fits-strategy", "2024-08-22"),  # 'Asked Thursday ... told reporters': the latest Thursday
        ("oleschuk-claims-gbu-39-strike-in-kursk", "2024-08-22"),  # public with the post, 'Late Thursday'
        ("oleschuk-posts-gbu-39-strike-video", "2024-08-22"),
        ("ukraine-launches-kursk-incursion", "2024-08-10"),  # public as it began: the last day of 'early this month'
        ("russia-launches-kharkiv-cross-border-offensive", "2024-05-10"),  # likewise, 'early May'
        ("blinken-visits-kyiv", "2024-05-15"),  # an official visit, public by its last day
        ("congress-approves-60-billion-for-ukraine", "2024-04-30"),  # a vote, public on the last day of 'late last month'
        ("kirby-no-change-to-guidance", "2024-08-23"),  # 'said Friday': the latest Friday is the reprint's own day
        ("atacms-promise-no-strikes-inside-russia", "2024-05-20"),  # nothing earlier shown: the first article's date
    ],
)
def test_reported_is_the_earliest_day_the_articles_show_the_fact_public(ledger, event_id, reported):
    events = [recorded.data for recorded in ledger[0].iter_events()]
    assert resolve(events)[event_id].data["reported"] == reported


def test_the_gbu_39_strike_is_dated_before_its_post_not_on_it(ledger):
    events = [recorded.data for recorded in ledger[0].iter_events()]
    assert resolve(events)["oleschuk-claims-gbu-39-strike-in-kursk"].data["occurred"] == "../2024-08-22"


def test_the_republicans_opposition_came_before_the_aid_dried_up(ledger):
    events = [recorded.data for recorded in ledger[0].iter_events()]
    assert resolve(events)["congressional-republicans-oppose-further-aid"].data["occurred"] == "../2023-12-21"


def test_sources_are_attributed_as_printed(ledger):
    events = {key: item.data for key, item in resolve([recorded.data for recorded in ledger[0].iter_events()]).items()}

    def attributions(event_id: str, document: str) -> set[str]:
        return {source["attribution"] for source in events[event_id]["sources"] if source["document"] == document}

    scripps, post_aug = "001_3c4198e31e96ca69.txt", "000_b99bbd839c406e83.txt"
    for event_id in (
        "sullivan-austin-brown-recommend-shift",
        "ukraine-requests-cross-border-use",
        "biden-agrees-counter-fire-shift-scripps-account",
    ):
        assert attributions(event_id, scripps) == {"unnamed_source"}, event_id  # 'a source familiar with the decision'
    assert events["us-announces-125m-package"]["sources"] == [
        {
            "document": post_aug,
            "outlet": "The Washington Post (reprinted by Stars and Stripes)",
            "published": "2024-08-23",
            "attribution": "journalist",
        }
    ]
    assert "European" not in events["canada-echoes-stoltenberg"]["summary"]


def test_an_amended_reported_day_makes_the_fact_public_from_that_day(ledger):
    kursk = entity(replay(ledger[0], "2024-08-20", known_at="2024-08-15"), "territory", KURSK)
    assert kursk is not None and kursk["holder"] == "ukraine" and kursk["size"]["value"] is None
