"""Builders the tests share: small synthetic events, a hypothesis strategy for random ledgers,
generated and corpus stores, and the read model's tables as comparable rows.

Every event builder returns a validated event dict, as the store holds it. This
module holds no tests; test modules import it and never each other.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from benchmarks.generate import LedgerSpec, generate_events, generate_registry
from hypothesis import strategies as st

from conftest import REPO, make_event
from ledger.api import Ledger
from ledger.events import parse_event
from ledger.ingest import ingest_dicts, ingest_paths
from ledger.projections.selection import optional_day, projection_names, required_day
from ledger.readmodel import query
from ledger.readmodel.versions import HISTORY_TABLES
from ledger.store import open_store

QUESTION = "strikes-inside-russia"
START = date(2024, 5, 1)


def day(offset: int) -> str:
    """The ISO day ``offset`` days after 2024-05-01."""
    return (START + timedelta(days=offset)).isoformat()


def event(event_id: str, kind: str, occurred: str, reported: str | None = None, **fields: Any) -> dict[str, Any]:
    """A validated event of ``kind``; reported defaults to the last day ``occurred`` allows, else occurred."""
    data = make_event(event_id, kind, occurred=occurred, reported=reported or default_reported(occurred), **fields)
    return parse_event(data).to_dict()


def default_reported(occurred: str) -> str:
    from ledger.dates import OPEN_END, parse_edtf

    span = parse_edtf(occurred)
    return (span.latest if span.latest != OPEN_END else span.earliest).isoformat()


def change(event_id: str, restriction: str, status: str, occurred: str, reported: str | None = None, **fields: Any) -> dict[str, Any]:
    """A policy change setting ``restriction`` to ``status``; extra fields go into the restriction."""
    stage = fields.pop("stage", None)
    links = fields.pop("links", None)
    extra = {"stage": stage} if stage else {}
    if links:
        extra["links"] = links
    payload = {"id": restriction, "status": status, "issuer": "us", "restricted": "ukraine", **fields}
    return event(event_id, "policy_change", occurred, reported, restriction=payload, **extra)


def stance(event_id: str, speaker: str, position: str, occurred: str, reported: str | None = None, **fields: Any) -> dict[str, Any]:
    """A statement by ``speaker`` taking ``position`` on the strikes question."""
    return event(
        event_id,
        "statement",
        occurred,
        reported,
        speaker=speaker,
        actors=[speaker],
        position={"question": QUESTION, "stance": position},
        **fields,
    )


def claim(
    event_id: str, area: str, holder: str, occurred: str, reported: str | None = None, size: int | None = None, **fields: Any
) -> dict[str, Any]:
    """A battlefield event claiming ``holder`` holds ``area`` (of ``size`` sq km)."""
    territory = {"area": area, "holder": holder, **({"size": {"value": str(size), "unit": "sq_km"}} if size else {})}
    return event(event_id, "battlefield", occurred, reported, territory=territory, **fields)


def package(event_id: str, package_id: str, occurred: str, reported: str | None = None, **fields: Any) -> dict[str, Any]:
    """An aid package event."""
    return event(event_id, "aid_package", occurred, reported, package=package_id, **fields)


def retraction(event_id: str, target: str, reported: str) -> dict[str, Any]:
    """A correction retracting ``target``, made public on ``reported``."""
    return event(event_id, "correction", reported, reported, corrects=target, action="retract", reason="misreported")


def amendment(event_id: str, target: str, reported: str, **amended: Any) -> dict[str, Any]:
    """A correction amending ``target``'s fields, made public on ``reported``."""
    return event(event_id, "correction", reported, reported, corrects=target, action="amend", amended=amended, reason="better sources")


def alternative_of(data: dict[str, Any], *others: str) -> dict[str, Any]:
    """The event, marked as an alternative account of ``others``."""
    return parse_event({**data, "links": {**data.get("links", {}), "alternative_account_of": list(others)}}).to_dict()


# --- random ledgers -------------------------------------------------------------------------

STATUSES = ("prohibited", "permitted", "conditional", "under_review")
STANCES = ("supports", "opposes", "mixed", "undecided")


@st.composite
def occurred_texts(draw: st.DrawFn) -> str:
    """An EDTF date in May 2024: a day, approximate, a month, an interval, one of two days or an open start."""
    first = draw(st.integers(0, 20))
    second = first + draw(st.integers(1, 6))
    form = draw(st.sampled_from(["day", "day", "day", "approximate", "uncertain", "month", "interval", "one_of", "open_start"]))
    return {
        "day": day(first),
        "approximate": day(first) + "~",
        "uncertain": day(first) + "?",
        "month": "2024-05",
        "interval": f"{day(first)}/{day(second)}",
        "one_of": f"[{day(first)},{day(second)}]",
        "open_start": f"../{day(first)}",
    }[form]


@st.composite
def fact(draw: st.DrawFn, event_id: str) -> dict[str, Any]:
    """A random restriction change, stance, territory claim or aid package event."""
    occurred = draw(occurred_texts())
    reported = day(draw(st.integers(0, 26)))
    what = draw(st.sampled_from(["change", "stance", "claim", "package"]))
    if what == "change":
        fields = {"effective": day(draw(st.integers(0, 24)))} if draw(st.booleans()) and draw(st.booleans()) else {}
        if draw(st.booleans()):
            fields["conditions"] = [draw(st.sampled_from(["near Kharkiv", "counter-fire only"]))]
        return change(event_id, draw(st.sampled_from(["r1", "r2"])), draw(st.sampled_from(STATUSES)), occurred, reported, **fields)
    if what == "stance":
        return stance(event_id, draw(st.sampled_from(["kirby", "biden"])), draw(st.sampled_from(STANCES)), occurred, reported)
    if what == "claim":
        size = draw(st.sampled_from([None, 100, 350, 1000]))
        return claim(
            event_id, draw(st.sampled_from(["zone-a", "zone-b"])), draw(st.sampled_from(["ukraine", "us"])), occurred, reported, size
        )
    status = draw(st.sampled_from(["proposed", "approved", "announced", "delivered"]))
    return package(event_id, draw(st.sampled_from(["p1", "p2"])), occurred, reported, status=status)


def amended_fields(draw: st.DrawFn, target: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Fields an amendment of ``target`` might change: its date, what it says, or which account it is an alternative to."""
    others = [e["id"] for e in events if e["kind"] != "correction" and e["id"] != target["id"]]
    if others and draw(st.integers(0, 5)) == 0:
        return {"links": {"alternative_account_of": [draw(st.sampled_from(others))]}}
    if draw(st.integers(0, 5)) == 0:
        return {"reported": day(draw(st.integers(0, 26)))}  # when it was public, as the record now says
    if draw(st.booleans()):
        return {"occurred": draw(occurred_texts())}
    kind = target["kind"]
    if kind == "policy_change":
        return {"restriction": {"status": draw(st.sampled_from(STATUSES))}}
    if kind == "statement":
        return {"position": {"stance": draw(st.sampled_from(STANCES))}}
    if kind == "battlefield":
        return {"territory": {"holder": draw(st.sampled_from(["ukraine", "us"]))}}
    return {"status": draw(st.sampled_from(["approved", "delivered"]))}


@st.composite
def ledgers(draw: st.DrawFn, max_events: int = 14, corrections: bool = True, alternatives: bool = True) -> list[dict[str, Any]]:
    """A random set of events: facts, and (optionally) corrections and alternative accounts of earlier ones."""
    events: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, max_events))):
        event_id = f"e{index:02d}"
        roll = draw(st.integers(0, 9))
        if corrections and events and roll < 2:
            target = draw(st.sampled_from(events))
            reported = day(draw(st.integers(0, 26)))
            if target["kind"] == "correction" or draw(st.booleans()):
                events.append(retraction(event_id, target["id"], reported))
            else:
                fields = amended_fields(draw, target, events)
                events.append(
                    event(
                        event_id,
                        "correction",
                        reported,
                        reported,
                        corrects=target["id"],
                        action="amend",
                        amended=fields,
                        reason="better sources",
                    )
                )
            continue
        data = draw(fact(event_id))
        facts = [e["id"] for e in events if e["kind"] != "correction"]
        if alternatives and facts and roll == 9:
            data = alternative_of(data, draw(st.sampled_from(facts)))
        events.append(data)
    return events


def query_days() -> st.SearchStrategy[date]:
    """As-of and known-at dates around May 2024."""
    return st.integers(-2, 40).map(lambda offset: START + timedelta(days=offset))


# --- ledgers the read-model, Datasette and time-travel tests share --------------------------------------

VIEW_TABLES = [
    "events", "event_sources", "links", "entity_events", "actors", "sources", "questions",
    "restriction_versions", "aid_package_versions", "position_versions", "territory_versions",
]  # fmt: skip
PROJECTIONS = ("restrictions", "aid_packages", "positions", "territory")
MIGRATION_NAMES = sorted(path.stem for path in (REPO / "migrations").glob("m[0-9][0-9][0-9][0-9]_*.py"))
HISTORY_TABLE_NAMES = {table.table: table.columns for table in HISTORY_TABLES.values()}
SMALL = LedgerSpec(events=600, seed=11, actors=30, questions=8, restrictions=20, packages=25, areas=20, documents=40)


def registry_of(spec: LedgerSpec) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for kind, _, data in generate_registry(spec):
        found.setdefault(kind, []).append(data)
    return found


def synthetic_store(db: str, spec: LedgerSpec = SMALL, batches: int = 5, after_each=None) -> list[dict]:
    """Append the generated ledger in ``batches`` ingests; call ``after_each()`` after each one."""
    events = list(generate_events(spec))
    size = -(-len(events) // batches)
    with open_store(db) as store:
        for start in range(0, len(events), size):
            ingest_dicts(store, events[start : start + size], registry_of(spec) if start == 0 else None)
            if after_each:
                after_each()
    return events


def corpus_store(db: str) -> None:
    with open_store(db) as store:
        ingest_paths(store, [REPO / "events"])


def table_contents(view: str) -> dict[str, list[tuple]]:
    """Every row of every table the projector fills, in rowid order, plus the tracking position.

    The history tables are the exception: their ``id`` is only a row number, and
    a rebuild (entity by entity) numbers the rows in another order than catching
    up (batch by batch); so they are compared without it, ordered by content.
    """
    conn = sqlite3.connect(view)
    try:
        found = {}
        for table in VIEW_TABLES:
            if table in HISTORY_TABLE_NAMES:
                columns = ", ".join(HISTORY_TABLE_NAMES[table])
                found[table] = conn.execute(f"SELECT {columns} FROM {table} ORDER BY {columns}").fetchall()
            else:
                order = "projection, entity, position" if table == "entity_events" else "rowid"
                found[table] = conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        found["projector_state"] = conn.execute("SELECT name, position, batch, chain_hash, registry_mark FROM projector_state").fetchall()
        return found
    finally:
        conn.close()


def sample_questions(max_position: int, count: int = 12, seed: int = 3, start: date = date(2015, 1, 1), days: int = 3700):
    """(as_of, known_at, recorded_before) triples: latest knowledge, earlier and later knowledge, old recordings."""
    rng = random.Random(seed)
    for i in range(count):
        as_of = start + timedelta(days=rng.randrange(days))
        known_at = None if i % 3 == 0 else as_of + timedelta(days=rng.randrange(-300, 300))
        recorded_before = rng.randrange(1, max_position + 2) if i % 4 == 3 else None
        yield as_of, known_at, recorded_before


REPLAY_KEYS = {"as_of", "known_at", "recorded_before", "restrictions", "aid_packages", "positions", "territory"}
RESTRICTION_KEYS = {
    "id",
    "issuer",
    "subject",
    "weapons",
    "area",
    "targets",
    "purpose",
    "status",
    "conditions",
    "certainty",
    "disputed",
    "since",
    "events",
}
PACKAGE_KEYS = {"id", "donor", "authority", "tranche", "announced", "value", "items", "measure", "status", "certainty", "events"}
POSITION_KEYS = {"actor", "question", "stance", "since", "quote", "certainty", "events"}
TERRITORY_KEYS = {"id", "area", "holder", "size", "since", "certainty", "events"}


def story() -> list[dict]:
    """Kyiv asks, advisers recommend, the President decides, the change takes effect; a zone; a package."""
    ask = event(
        "kyiv-asks",
        "request",
        "2024-05-10",
        "2024-05-12",
        actors=["ukraine"],
        requester="ukraine",
        addressee="us",
        asks="allow strikes on Belgorod",
        restriction="us-strikes",
        channel="private",
    )
    advice = stance("advisers-recommend", "kirby", "supports", "2024-05-20", "2024-05-24", links={"in_response_to": ["kyiv-asks"]})
    return [
        change("standing-ban", "us-strikes", "prohibited", "../2024-05-01", "2024-05-01", weapons=["HIMARS", "ATACMS"], area="Russia"),
        ask,
        advice,
        change(
            "biden-decides",
            "us-strikes",
            "conditional",
            "2024-05-30~",
            "2024-05-30",
            stage="approved",
            conditions=["counter-fire near Kharkiv"],
            links={"in_response_to": ["advisers-recommend"]},
        ),
        change(
            "in-effect", "us-strikes", "conditional", "2024-06-01", "2024-06-02", stage="in_effect", links={"part_of": ["biden-decides"]}
        ),
        claim("incursion", "kursk-zone", "ukraine", "2024-08-06", "2024-08-07", size=350),
        package("pda-aug", "pda-125m", "2024-08-09", "2024-08-09", value={"amount": "125000000", "qualifier": "up_to"}),
    ]


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(db: str, view: str, seconds: float = 60) -> Iterator[tuple[str, subprocess.Popen]]:
    """``ledger serve`` on ``db`` (read model ``view``) on a free loopback port: (base URL, process).
    Waits until it answers; stops it by its PID on the way out."""
    import urllib.error
    import urllib.request

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ledger", "serve", "--db", db, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LEDGER_VIEW_DB": view},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + seconds
        while True:
            assert process.poll() is None, f"ledger serve exited: {process.stdout.read() if process.stdout else ''}"
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, f"ledger serve did not answer at {base} within {seconds}s"
                time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
        if process.stdout:
            process.stdout.close()


# --- hostile input: event files and dates at and past every bound (fuzz, property and stress tests) ------

CORPUS_ACTORS = ("us", "ukraine", "russia", "biden", "kirby", "austin", "zelenskyy", "nato")
CORPUS_QUESTION = "us-weapons-military-targets-inside-russia"
CORPUS_EVENTS = ("counter-fire-guidance-takes-effect", "kirby-no-change-to-guidance", "us-rules-out-intel-sharing-for-kursk")
"""Ids the bundled corpus registers, so generated events name nothing unknown."""

EDGE_DATE_TEXTS = (
    "9999~", "0001-01-01~", "9999-12~", "0001~", "[..]", "[2024-05-01..2024-04-01]", "2024-05-01/2024-04-01", "../..", "/",
    "2024-05-01/..", "../2024-05-01", "[2024-05-01..]", "[..2024-05-01]", "0000", "0000-05", "2024-00", "2024-13", "2024-02-30",
    "2024-13-45", "1000-01-01~", "1000-01-04~", "9998-12-31", "9998-12-28~", "9998~", "1000~", "2024-05-30%", "{2024-05-01,2024-05-02}",
    "[2024-05-01,]", "[,]", "[]", "2024-05-30~/2024-06-01?", "  2024-05-30 ", "2024-05-30T10:00", "99999", "2024--05",
)  # fmt: skip
DATE_ALPHABET = "0123456789-~?%/.[],{} T"


@st.composite
def edtf_texts(draw: st.DrawFn) -> str:
    """A single EDTF date at any precision with any qualifier, over the whole calendar."""
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
    text = draw(st.sampled_from([day.isoformat(), day.isoformat()[:7], day.isoformat()[:4]]))
    return text + draw(st.sampled_from(["", "", "~", "?", "%"]))


def date_texts() -> st.SearchStrategy[str]:
    """Dates an analyst might write, and many no one should: edge forms, intervals, lists and noise."""
    single = edtf_texts()
    return st.one_of(
        single,
        st.tuples(single | st.just(".."), single | st.just("..")).map("/".join),
        st.lists(single | st.tuples(single | st.just(""), single | st.just("")).map("..".join), max_size=4).map(
            lambda items: "[" + ",".join(items) + "]"
        ),
        st.sampled_from(EDGE_DATE_TEXTS),
        st.text(DATE_ALPHABET, max_size=30),
    )


def day_values() -> st.SearchStrategy[Any]:
    """Values for a calendar-day field: ISO days across the calendar, and numbers, timestamps and noise."""
    return st.one_of(
        st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
        st.dates(min_value=date(2020, 1, 1), max_value=date(2025, 12, 31)).map(date.isoformat),
        st.sampled_from(
            ["0", "1", "-1", "20240530", "2024-5-30", "2024-02-30", "0000-01-01", "9999-12-31", "1000-01-01", "2024-05-30T00:00"]
        ),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=True),
        st.text(DATE_ALPHABET, max_size=20),
    )


def amounts() -> st.SearchStrategy[Any]:
    """Money and sizes: ordinary, huge, tiny, negative, not finite, as numbers and as text."""
    return st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=0, max_value=10**12).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.sampled_from(["1e999999999", "1E-999999999", "-1", "0", "1e15", "1000000000000001", "0.0000001", "1e9", "NaN", "-Infinity"]),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def hostile_texts() -> st.SearchStrategy[str]:
    """Ids and free text with terminal controls, bidirectional overrides, and long runs."""
    return st.one_of(
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8"), max_size=10).map(lambda text: "\x1b]0;" + text + "\x07\x1b[2J"),
        st.integers(0, 300).map(lambda n: "a" * n),
        st.from_regex(r"\A[a-z0-9]{2,12}(-[a-z0-9]{1,8}){0,3}\Z"),
    )


def _source(reported: Any) -> dict[str, Any]:
    return {"url": "https://example.org/report", "outlet": "Example", "published": reported, "attribution": "journalist"}


@st.composite
def hostile_events(draw: st.DrawFn, number: int = 0) -> dict[str, Any]:
    """An event of any kind naming only corpus actors and events, with any of its fields pushed to or past a bound."""
    kind = draw(st.sampled_from(["policy_change", "request", "statement", "battlefield", "aid_package", "correction"]))
    reported = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31)).map(date.isoformat))
    event: dict[str, Any] = {
        "id": f"gen-{number}-{draw(st.integers(0, 10**6))}",
        "kind": kind,
        "occurred": draw(edtf_texts().filter(lambda text: "1000" <= text[:4] <= "9998") | st.just(reported)),
        "reported": reported,
        "actors": [draw(st.sampled_from(CORPUS_ACTORS))],
        "summary": "generated",
        "sources": [_source(reported)],
    }
    event.update(
        {
            "policy_change": lambda: {"restriction": {"id": draw(st.sampled_from(["us-weapons-strikes-inside-russia", "gen-restriction"])), "status": draw(st.sampled_from(["prohibited", "permitted", "conditional", "under_review"])), "issuer": "us", "restricted": "ukraine"}},
            "request": lambda: {"requester": "ukraine", "addressee": "us", "asks": "more", "channel": "public", "restriction": "us-weapons-strikes-inside-russia"},
            "statement": lambda: {"speaker": "kirby", "position": {"question": CORPUS_QUESTION, "stance": draw(st.sampled_from(["supports", "opposes", "mixed", "undecided"]))}},
            "battlefield": lambda: {"place": "Kursk", "what": "incursion", "territory": {"area": "kursk-incursion-zone", "holder": "ukraine", "size": {"value": "100", "unit": "sq_km"}}},
            "aid_package": lambda: {"package": draw(st.sampled_from(["us-supplemental-2024-04", "gen-package"])), "donor": "us", "recipient": "ukraine", "authority": "PDA", "measure": "commitment", "value": {"amount": "125000000"}},
            "correction": lambda: {"corrects": draw(st.sampled_from(CORPUS_EVENTS)), "action": "amend", "reason": "generated", "amended": {"summary": "amended"}},
        }[kind]()
    )  # fmt: skip
    pushed = draw(
        st.dictionaries(
            st.sampled_from(
                ["occurred", "reported", "published", "amount", "size", "effective", "id", "amended", "action", "count", "extra"]
            ),
            st.none(),
            max_size=3,
        )
    )
    for field in pushed:
        _push(draw, event, field)
    return event


def _push(draw: st.DrawFn, event: dict[str, Any], field: str) -> None:
    if field == "occurred":
        event["occurred"] = draw(date_texts())
    elif field == "reported":
        event["reported"] = draw(day_values())
    elif field == "published":
        event["sources"][0]["published"] = draw(day_values())
    elif field == "amount" and event["kind"] == "aid_package":
        event["value"]["amount"] = draw(amounts())
    elif field == "size" and event["kind"] == "battlefield":
        event["territory"]["size"]["value"] = draw(amounts())
    elif field == "effective" and event["kind"] == "policy_change":
        event["restriction"]["effective"] = draw(day_values())
    elif field == "id":
        event["id"] = draw(hostile_texts())
    elif field == "amended" and event["kind"] == "correction":
        event["amended"] = draw(
            st.dictionaries(
                st.sampled_from(["occurred", "reported", "value", "territory", "restriction", "summary", "status", "unknown"]),
                st.one_of(date_texts(), day_values(), amounts(), st.fixed_dictionaries({"amount": amounts()}), st.fixed_dictionaries({"size": st.fixed_dictionaries({"value": amounts(), "unit": st.just("sq_km")})})),
                min_size=1,
                max_size=3,
            )
        )  # fmt: skip
    elif field == "action" and event["kind"] == "correction":
        event.update(action="retract", amended=None)
        del event["amended"]
    elif field == "count":
        event["sources"][0].update(attribution="anonymous_official", count=draw(st.integers(-5, 2**63)))
    elif field == "extra":
        event[draw(st.sampled_from(["extra", "kind", "schema_version", "links"]))] = draw(
            st.one_of(st.none(), st.integers(), st.text(max_size=5))
        )


# --- asking a store through the Ledger API, engine by engine -----------------------------------------


def ledger_of(store: Any) -> Ledger:
    """The :class:`Ledger` of an open store (or a store path)."""
    return Ledger(getattr(store, "path", store))


def replay(store: Any, as_of: Any, known_at: Any = None, recorded_before: Any = None, only: Any = None, *, engine: str = "fold") -> dict:
    """``Ledger.replay`` as JSON, from the fold engine unless ``engine`` says otherwise."""
    with ledger_of(store) as ledger:
        return ledger.replay(as_of, known_at, recorded_before, only, engine=engine).model_dump(mode="json")  # type: ignore[arg-type]  # engine: a str naming an Engine literal


def audit(store: Any, entity: str, as_of: Any = None, known_at: Any = None) -> dict:
    with ledger_of(store) as ledger:
        return ledger.audit(entity, as_of, known_at).model_dump(mode="json")


def diff(store: Any, start: Any, end: Any, known_at: Any = None, *, engine: str = "fold") -> dict:
    with ledger_of(store) as ledger:
        return ledger.diff(start, end, known_at, engine=engine).model_dump(mode="json")  # type: ignore[arg-type]  # engine: a str naming an Engine literal


def diff_known(store: Any, as_of: Any, known_at: Any, vs_known_at: Any, *, engine: str = "fold") -> dict:
    with ledger_of(store) as ledger:
        return ledger.diff_known(as_of, known_at, vs_known_at, engine=engine).model_dump(mode="json")  # type: ignore[arg-type]  # engine: a str naming an Engine literal


def timeline(store: Any, entity: str | None = None) -> list[dict]:
    with ledger_of(store) as ledger:
        return ledger.timeline(entity).model_dump(mode="json")["events"]


def view_replay(
    view: str, as_of: Any, known_at: Any = None, recorded_through: int | None = None, only: Any = None, *, entity: str | None = None
) -> dict[str, list[dict]]:
    """The read model's answer alone (no store): the lists of the projections asked for."""
    conn = query.open_view(view)
    try:
        return query.replay(conn, required_day(as_of), optional_day(known_at), projection_names(only), recorded_through, entity)
    finally:
        conn.close()
