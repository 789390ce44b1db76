"""The corpus's specification: what every file under ``events/`` must satisfy.

The corpus is curated from five news articles (the seeds). These tests say, in order:
every file is a valid event or registry; ids, file names and folders agree; everything an
event names exists; every event is sourced and every seed is cited; every quote is really
in the article it cites; and the corpus ingests cleanly with the ledger's own ingest.
The last group pins the facts other parts of the ledger rely on (entity ids and chains).

The seed articles are not part of the project. The quote test reads them from
``$LEDGER_SEEDS`` or ``<repo>/../shared/seeds/`` and is skipped, saying where it looked,
when they are absent.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from ledger.dates import parse_edtf
from ledger.events import Correction, PolicyChange, Statement, apply_amendment, parse_event
from ledger.registry import REGISTRY_FILES, registry_adapter

REPO = Path(__file__).resolve().parents[1]
EVENTS_DIR = REPO / "events"
FILE_NAME = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})-(?P<slug>[a-z0-9][a-z0-9._-]*)\.yaml$")

EVENT_FILES = sorted(p for p in EVENTS_DIR.rglob("*.yaml") if p.parent != EVENTS_DIR)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _registry(kind_file: str) -> list:
    kind = REGISTRY_FILES[kind_file]
    return registry_adapter(kind).validate_python(_load(EVENTS_DIR / kind_file))


EVENTS = {_rel(p): parse_event(_load(p)) for p in EVENT_FILES}
BY_ID = {event.id: event for event in EVENTS.values()}
ACTORS = {actor.id for actor in _registry("actors.yaml")}
QUESTIONS = {question.id for question in _registry("questions.yaml")}
DOCUMENTS = {document.id: document for document in _registry("documents.yaml")}


def _seed_dir() -> Path:
    return Path(os.environ["LEDGER_SEEDS"]) if os.environ.get("LEDGER_SEEDS") else REPO.parent / "shared" / "seeds"


# --- every file is valid ------------------------------------------------------------------


def test_the_corpus_has_events_of_every_kind():
    kinds = Counter(event.kind for event in EVENTS.values())
    assert 60 <= len(EVENTS) <= 120
    assert set(kinds) == {"policy_change", "request", "statement", "battlefield", "aid_package", "correction"}


@pytest.mark.parametrize("path", EVENT_FILES, ids=_rel)
def test_each_event_file_holds_one_valid_event(path):
    data = _load(path)
    assert isinstance(data, dict), "an event file holds one mapping, not a list"
    parse_event(data)


@pytest.mark.parametrize("name", sorted(REGISTRY_FILES))
def test_each_registry_validates_and_has_unique_ids(name):
    entries = _registry(name)
    assert entries, f"{name} is empty"
    ids = [entry.id for entry in entries]
    assert len(ids) == len(set(ids)), f"duplicate ids in {name}"


def test_only_registries_sit_at_the_top_of_events():
    top = sorted(p.name for p in EVENTS_DIR.iterdir() if p.is_file())
    assert top == sorted(REGISTRY_FILES)


# --- ids, names and folders -----------------------------------------------------------------


def test_event_ids_are_unique():
    ids = Counter(event.id for event in EVENTS.values())
    assert [i for i, n in ids.items() if n > 1] == []


def test_file_names_are_date_and_id():
    for path, event in EVENTS.items():
        match = FILE_NAME.match(Path(path).name)
        assert match, f"{path}: expected YYYY-MM-DD-<id>.yaml"
        assert match["slug"] == event.id, f"{path}: id {event.id!r} differs from the file name"


def test_files_are_foldered_by_the_year_and_month_of_their_date():
    for path in EVENTS:
        parts = Path(path).parts  # events/YYYY/MM/YYYY-MM-DD-id.yaml
        day = FILE_NAME.match(parts[-1])["day"]
        assert (parts[1], parts[2]) == (day[:4], day[5:7]), path


def test_the_file_date_is_the_earliest_day_the_event_can_have_occurred():
    """An open-start date (``../2024-04-30``) is named by its end."""
    for path, event in EVENTS.items():
        span = parse_edtf(event.occurred)
        expected = span.latest if span.open_start else span.earliest
        assert FILE_NAME.match(Path(path).name)["day"] == expected.isoformat(), path


# --- everything a file names exists ---------------------------------------------------------


def _actor_references(event) -> list[tuple[str, str | None]]:
    refs = [(f"actors[{i}]", actor) for i, actor in enumerate(event.actors)]
    if event.kind == "policy_change":
        refs += [("restriction.issuer", event.restriction.issuer), ("restriction.restricted", event.restriction.restricted)]
    elif event.kind == "request":
        refs += [("requester", event.requester), ("addressee", event.addressee)]
    elif event.kind == "statement":
        refs += [("speaker", event.speaker)]
    elif event.kind == "battlefield" and event.territory:
        refs += [("territory.holder", event.territory.holder), ("territory.claimed_by", event.territory.claimed_by)]
    elif event.kind == "aid_package":
        refs += [("donor", event.donor), ("recipient", event.recipient)]
    refs += [(f"sources[{i}].speaker", source.speaker) for i, source in enumerate(event.sources)]
    return [(where, actor) for where, actor in refs if actor is not None]


def test_every_actor_an_event_names_is_in_the_actor_registry():
    missing = [
        f"{path}: {where} = {actor}" for path, event in EVENTS.items() for where, actor in _actor_references(event) if actor not in ACTORS
    ]
    assert missing == []


def test_every_question_a_position_names_is_in_the_question_registry():
    missing = [
        f"{path}: {event.position.question}"
        for path, event in EVENTS.items()
        if isinstance(event, Statement) and event.position and event.position.question not in QUESTIONS
    ]
    assert missing == []


def test_every_source_cites_a_registered_document_with_its_outlet_and_date():
    problems = []
    for path, event in EVENTS.items():
        for i, source in enumerate(event.sources):
            document = DOCUMENTS.get(source.document)
            if document is None:
                problems.append(f"{path}: sources[{i}] cites unknown document {source.document!r}")
            elif (source.outlet, source.published) != (document.outlet, document.published):
                problems.append(f"{path}: sources[{i}] outlet/published differ from documents.yaml")
    assert problems == []


def test_every_link_and_correction_target_is_an_event():
    missing = [
        f"{path}: {relation} -> {target}"
        for path, event in EVENTS.items()
        for relation, target in event.links.all() + ([("corrects", event.corrects)] if isinstance(event, Correction) else [])
        if target not in BY_ID or target == event.id
    ]
    assert missing == []


def test_every_question_and_actor_in_the_registries_is_used():
    used_actors = {actor for event in EVENTS.values() for _, actor in _actor_references(event)}
    used_questions = {e.position.question for e in EVENTS.values() if isinstance(e, Statement) and e.position}
    assert ACTORS - used_actors == set()
    assert QUESTIONS - used_questions == set()


# --- sources and dates ----------------------------------------------------------------------


def test_no_event_lacks_a_source():
    assert [path for path, event in EVENTS.items() if not event.sources] == []


def test_each_seed_document_is_cited():
    cited = {source.document for event in EVENTS.values() for source in event.sources}
    assert set(DOCUMENTS) - cited == set()


def test_the_document_registry_lists_exactly_the_seed_files_when_they_are_present():
    seeds = _seed_dir()
    if not seeds.is_dir():
        pytest.skip(f"seed articles not found in {seeds} (set LEDGER_SEEDS to their folder)")
    assert set(DOCUMENTS) == {p.name for p in seeds.glob("*.txt")}


def test_an_event_is_reported_no_later_than_its_earliest_source_and_not_before_it_can_have_happened():
    problems = []
    for path, event in EVENTS.items():
        span = parse_edtf(event.occurred)
        first_published = min(source.published for source in event.sources)
        if event.reported > first_published:
            problems.append(f"{path}: reported {event.reported} after its first source ({first_published})")
        if not span.open_start and event.reported < span.earliest:
            problems.append(f"{path}: reported {event.reported} before it can have occurred ({span.earliest})")
    assert problems == []


# --- quotes ---------------------------------------------------------------------------------

_QUOTE_MARKS = str.maketrans({c: "'" for c in "\u2018\u2019\u201a\u201b\u2032`"} | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033"})


def normalise(text: str) -> str:
    """Compare texts regardless of whitespace and quotation-mark style (straight or curly)."""
    return re.sub(r"\s+", " ", text.translate(_QUOTE_MARKS)).strip()


def test_normalise_ignores_whitespace_and_quote_style():
    assert normalise("There\u2019s  been\nno \u201cchange\u201d") == normalise('There\'s been no "change"')


@pytest.fixture(scope="module")
def seed_texts() -> dict[str, str]:
    seeds = _seed_dir()
    texts = {name: seeds / name for name in DOCUMENTS}
    absent = [name for name, path in texts.items() if not path.is_file()]
    if absent:
        pytest.skip(
            f"seed articles not found in {seeds} ({', '.join(absent)}); the quote check needs them: set LEDGER_SEEDS to their folder"
        )
    return {name: normalise(path.read_text(encoding="utf-8")) for name, path in texts.items()}


def test_every_source_quote_appears_in_the_document_it_cites(seed_texts):
    missing = [
        f"{path}: sources[{i}] quote not in {source.document}: {source.quote!r}"
        for path, event in EVENTS.items()
        for i, source in enumerate(event.sources)
        if source.quote and normalise(source.quote) not in seed_texts[source.document]
    ]
    assert missing == []


def test_every_statement_quote_appears_in_a_document_the_event_cites(seed_texts):
    missing = []
    for path, event in EVENTS.items():
        if isinstance(event, Statement) and event.quote:
            cited = {source.document for source in event.sources}
            if not any(normalise(event.quote) in seed_texts[doc] for doc in cited):
                missing.append(f"{path}: {event.quote!r}")
    assert missing == []


def _amended_events() -> dict[str, object]:
    """Each amended event as its amendment makes it read, by the amendment's path."""
    return {
        path: apply_amendment(BY_ID[event.corrects], event.amended)
        for path, event in EVENTS.items()
        if isinstance(event, Correction) and event.action == "amend" and event.corrects in BY_ID
    }


def test_every_amendment_reads_as_a_valid_event_whose_names_documents_and_quotes_check_out(seed_texts):
    problems = []
    for path, amended in _amended_events().items():
        problems += [f"{path}: {where} = {actor}" for where, actor in _actor_references(amended) if actor not in ACTORS]
        for i, source in enumerate(amended.sources):
            if source.document not in DOCUMENTS:
                problems.append(f"{path}: amended sources[{i}] cites unknown document {source.document!r}")
            elif source.quote and normalise(source.quote) not in seed_texts[source.document]:
                problems.append(f"{path}: amended sources[{i}] quote not in {source.document}: {source.quote!r}")
    assert problems == []


def test_quotes_are_short_and_attributed():
    problems = []
    for path, event in EVENTS.items():
        for i, source in enumerate(event.sources):
            if source.quote:
                if len(source.quote) > 200:
                    problems.append(f"{path}: sources[{i}] quote is longer than 200 characters")
                if source.attribution not in ("on_record_official", "on_record_expert", "anonymous_official", "adversary_official"):
                    problems.append(f"{path}: sources[{i}] quotes someone without saying who")
                if source.attribution != "anonymous_official" and not source.speaker:
                    problems.append(f"{path}: sources[{i}] quote has no speaker")
    assert problems == []


# --- the corpus ingests ---------------------------------------------------------------------


def test_the_corpus_ingests_cleanly_and_a_rerun_appends_nothing(tmp_path):
    ingest = pytest.importorskip("ledger.ingest")
    store_module = pytest.importorskip("ledger.store")
    with store_module.open_store(str(tmp_path / "corpus.db")) as store:
        report = ingest.ingest_paths(store, [EVENTS_DIR])
        assert sorted(report.appended) == sorted(BY_ID)
        again = ingest.ingest_paths(store, [EVENTS_DIR])
        assert again.appended == [] and sorted(again.skipped) == sorted(BY_ID)


# --- the facts other parts of the ledger rely on ----------------------------------------------


def _changes(restriction_id: str) -> list[PolicyChange]:
    return [e for e in EVENTS.values() if isinstance(e, PolicyChange) and e.restriction.id == restriction_id]


def test_the_restriction_ids_are_the_agreed_ones():
    restrictions = {e.restriction.id for e in EVENTS.values() if isinstance(e, PolicyChange)}
    assert restrictions == {
        "us-weapons-strikes-inside-russia",
        "atacms-long-range-strikes-inside-russia",
        "us-weapons-civilian-infrastructure-russia",
        "us-weapons-aircraft-russian-airspace",
    }


def test_the_general_ban_was_prohibited_before_may_and_conditional_from_thursday_2024_05_30():
    changes = _changes("us-weapons-strikes-inside-russia")
    standing = [c for c in changes if c.stage == "standing"]
    assert [c.restriction.status for c in standing] == ["prohibited"]
    assert parse_edtf(standing[0].occurred).latest < date(2024, 5, 1)
    later = [c for c in changes if c.stage != "standing"]
    assert {c.restriction.status for c in later} == {"conditional"}
    for change in later:  # no step of the chain takes effect before the policy did
        effective = change.restriction.effective or parse_edtf(change.occurred).earliest
        assert effective >= date(2024, 5, 30), change.id
    in_effect = BY_ID["counter-fire-guidance-takes-effect"]
    assert (in_effect.stage, in_effect.occurred) == ("in_effect", "2024-05-30")


def test_atacms_and_civilian_infrastructure_stay_prohibited_and_aircraft_are_permitted():
    assert {c.restriction.status for c in _changes("atacms-long-range-strikes-inside-russia")} == {"prohibited"}
    assert {c.restriction.status for c in _changes("us-weapons-civilian-infrastructure-russia")} == {"prohibited"}
    aircraft = _changes("us-weapons-aircraft-russian-airspace")
    assert [c.restriction.status for c in aircraft] == ["permitted"]
    assert "Russian airspace" in aircraft[0].restriction.area


def test_the_decision_chain_is_linked_from_request_to_effect():
    chain = [
        "ukraine-requests-cross-border-use",
        "sullivan-austin-brown-recommend-shift",
        "biden-agrees-counter-fire-shift",
        "biden-asks-officials-to-work-through-details-and-risks",
        "biden-signs-off-counter-fire-guidance",
        "counter-fire-guidance-takes-effect",
    ]
    for earlier, later in zip(chain, chain[1:]):
        assert earlier in BY_ID[later].links.in_response_to, f"{later} should respond to {earlier}"
    assert BY_ID["ukraine-requests-cross-border-use"].occurred == "2024-05-13"


def test_the_two_accounts_of_bidens_agreement_are_kept_and_linked():
    post, scripps = BY_ID["biden-agrees-counter-fire-shift"], BY_ID["biden-agrees-counter-fire-shift-scripps-account"]
    assert post.occurred == "2024-05-15"
    assert parse_edtf(scripps.occurred).precision == "interval"
    assert post.id in scripps.links.alternative_account_of
    assert {s.document for s in post.sources} == {"004_4d1439e98dd566dc.txt"}
    assert {s.document for s in scripps.sources} == {"001_3c4198e31e96ca69.txt"}


def test_the_french_trainers_announcement_is_corrected_by_its_walk_back():
    walk_back = BY_ID["syrsky-walks-back-french-trainer-announcement"]
    assert isinstance(walk_back, Correction)
    assert walk_back.corrects == "syrsky-announces-french-trainer-agreement"
    assert walk_back.reported >= BY_ID[walk_back.corrects].reported


def test_the_aid_package_ids_and_the_125m_fridays():
    packages = {e.package for e in EVENTS.values() if e.kind == "aid_package"}
    assert {"us-supplemental-2024-04", "us-pda-2024-08-125m"} <= packages
    (announcement,) = [e for e in EVENTS.values() if e.kind == "aid_package" and e.package == "us-pda-2024-08-125m"]
    span = parse_edtf(announcement.occurred)
    assert span.precision == "one_of" and len(span.choices) > 1
    assert all(day.weekday() == 4 and day.month == 8 for day in span.choices), "each reading is a Friday in August"
    assert announcement.value.amount == 125_000_000


def test_kyiv_claims_the_kursk_incursion_zone():
    claims = [e for e in EVENTS.values() if e.kind == "battlefield" and e.territory and e.territory.area == "kursk-incursion-zone"]
    sized = [c for c in claims if c.territory.size]
    assert {c.territory.holder for c in claims} == {"ukraine"}
    assert [(c.territory.size.value, c.territory.size.unit, c.territory.claimed_by) for c in sized] == [(500, "sq_mi", "ukraine")]
