"""The same workload done by the book with eventsourcing, as the baseline the ledger must beat.

By the book, each thing the ledger tracks is an aggregate: a restriction, an
aid package, an actor's position on a question, a territory area (events that
touch none of these go to their first actor's aggregate, and a correction to
the aggregate of the event it corrects). Ingest validates each event exactly as
the ledger does, gets the aggregate from the repository (with the library's
aggregate cache, fast-forward off: the kindest setting for a single writer),
triggers an event on it, and saves all aggregates touched by a batch with one
``Application.save`` call (one transaction, as the library allows).

An as-of query is ``repository.get(id, projector_func=...)`` with a projector
that keeps the events that had occurred by the date, puts them in world-date
order (the library replays in recording order, which a late report would make
wrong), drops retracted events and folds the rest: every query reads and
decodes the whole history of its aggregate.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from benchmarks.generate import LedgerSpec, generate_events
from benchmarks.measure import Stopwatch, latency_summary, rate
from benchmarks.write import validate
from ledger.dates import parse_edtf

NAMESPACE = uuid.UUID("1b2d3f4a-5c6e-4f80-9a1b-2c3d4e5f6a7b")


def subject_key(data: dict[str, Any], owners: dict[str, str]) -> str:
    """The aggregate an event belongs to, by the book."""
    kind = data["kind"]
    if kind == "policy_change":
        return f"restriction:{data['restriction']['id']}"
    if kind == "request" and data.get("restriction"):
        return f"restriction:{data['restriction']}"
    if kind == "aid_package":
        return f"package:{data['package']}"
    if kind == "statement" and data.get("position"):
        return f"position:{data['speaker']}:{data['position']['question']}"
    if kind == "battlefield" and data.get("territory"):
        return f"territory:{data['territory']['area']}"
    if kind == "correction" and data["corrects"] in owners:
        return owners[data["corrects"]]
    return f"actor:{data['actors'][0]}"


def subject_id(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, key)


class Subject(Aggregate):
    """One tracked thing and the ledger events about it."""

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return subject_id(key)

    def __init__(self, key: str) -> None:
        self.key = key
        self.state: dict[str, Any] = {}
        self.retracted: set[str] = set()

    @event("Recorded")
    def record(self, data: dict[str, Any], earliest: str, latest: str) -> None:
        if data["kind"] == "correction":
            if data["action"] == "retract":
                self.retracted.add(data["corrects"])
            else:
                self.state.update(data.get("amended") or {})
            return
        if data["id"] in self.retracted:
            return
        for field in ("restriction", "package", "value", "status", "position", "territory", "measure"):
            if field in data:
                self.state[field] = data[field]
        self.state["since"] = earliest


def as_of_projector(as_of: str):
    """A projector function for ``repository.get``: the aggregate as of a world date."""

    def project(initial: Subject | None, domain_events: Iterable[Any]) -> Subject | None:
        aggregate = initial
        recorded = []
        for domain_event in domain_events:
            if aggregate is None:
                aggregate = domain_event.mutate(None)  # the Created event
            elif domain_event.earliest <= as_of:
                recorded.append(domain_event)
        if aggregate is None:
            return None
        recorded.sort(key=lambda e: (e.data["kind"] == "correction", e.earliest))  # world order, corrections last
        retracted = {e.data["corrects"] for e in recorded if e.data["kind"] == "correction" and e.data["action"] == "retract"}
        for domain_event in recorded:
            if domain_event.data["id"] not in retracted:
                domain_event.apply(aggregate)
        return aggregate

    return project


def _application(db: str, cache: bool) -> Application:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db, "IS_SNAPSHOTTING_ENABLED": "n"}
    if cache:
        env |= {"AGGREGATE_CACHE_MAXSIZE": "1000000", "AGGREGATE_CACHE_FASTFORWARD": "n", "DEEPCOPY_FROM_AGGREGATE_CACHE": "n"}
    return Application(env=env)


def ingest_by_the_book(db: str, spec: LedgerSpec, count: int, batch: int) -> tuple[dict[str, Any], list[str]]:
    """Validate and save ``count`` events the by-the-book way; return the figures and the aggregate keys."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    app = _application(db, cache=True)
    owners: dict[str, str] = {}
    watch = Stopwatch()
    done = 0
    events = generate_events(spec, stop=count)
    while chunk := list(islice(events, batch)):
        with watch:
            touched: dict[uuid.UUID, Subject] = {}
            for data in validate(chunk):
                key = owners[data["id"]] = subject_key(data, owners)
                ident = subject_id(key)
                aggregate = touched.get(ident)
                if aggregate is None:
                    try:
                        aggregate = app.repository.get(ident)
                    except AggregateNotFoundError:
                        aggregate = Subject(key)
                    touched[ident] = aggregate
                span = parse_edtf(data["occurred"])
                aggregate.record(data, span.earliest.isoformat(), span.latest.isoformat())
            app.save(*touched.values())
        done += len(chunk)
    app.close()
    disk = sum(p.stat().st_size for p in (Path(db), Path(f"{db}-wal")) if p.exists())
    keys = sorted(set(owners.values()))
    figures = {
        "events": done,
        "batch": batch,
        "seconds": watch.seconds,
        "events_per_s": rate(done, watch.seconds),
        "aggregates": len(keys),
        "disk_bytes_per_event": disk / done if done else 0.0,
    }
    return figures, keys


def subject_keys(db: str) -> list[str]:
    """Every aggregate's key, read back from its creation event."""
    app = _application(db, cache=False)
    keys: list[str] = []
    start = 1
    while page := app.recorder.select_notifications(start, 10_000):
        keys.extend(orjson.loads(notification.state)["key"] for notification in page if notification.originator_version == 1)
        start = page[-1].id + 1
    app.close()
    return sorted(keys)


def query_by_the_book(db: str, spec: LedgerSpec, queries: int, seed: int, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Latency of ``repository.get`` with the as-of projector, for random entities and dates.

    Entities are drawn as the read-model queries draw them: each kind
    (restriction, package, position, territory) equally often, then an entity
    of that kind, so the many one-event positions do not flatter the baseline.
    """
    by_kind: dict[str, list[str]] = {}
    for key in keys if keys is not None else subject_keys(db):
        by_kind.setdefault(key.split(":", 1)[0], []).append(key)
    by_kind.pop("actor", None)
    app = _application(db, cache=False)
    rng = random.Random(seed)
    kinds = sorted(by_kind)
    latencies: list[float] = []
    per_kind: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(queries):
        kind = rng.choice(kinds)
        key = rng.choice(by_kind[kind])
        as_of = (spec.start + timedelta(days=rng.randrange(spec.days))).isoformat()
        watch = Stopwatch()
        with watch:
            app.repository.get(subject_id(key), projector_func=as_of_projector(as_of))
        latencies.append(watch.seconds)
        per_kind[kind].append(watch.seconds)
    app.close()
    return {
        **latency_summary(latencies),
        "aggregates": {kind: len(found) for kind, found in by_kind.items()},
        "by_kind": {kind: latency_summary(found) for kind, found in per_kind.items()},
    }


def query_phase(db: str, spec: LedgerSpec, queries: int, seed: int) -> dict[str, Any]:
    """Only the queries, on a store an earlier ``by_the_book_phase`` left (to measure them again)."""
    return {"query": query_by_the_book(db, spec, queries, seed)}


def by_the_book_phase(db: str, spec: LedgerSpec, count: int, batch: int, queries: int, seed: int) -> dict[str, Any]:
    """Ingest ``count`` events and run ``queries`` as-of queries, by the book."""
    figures, keys = ingest_by_the_book(db, spec, count, batch)
    figures["query"] = query_by_the_book(db, spec, queries, seed, keys)
    return figures
