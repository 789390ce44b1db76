"""Synthetic but realistic ledgers for benchmarks: seeded, reproducible, streamed.

A :class:`LedgerSpec` describes the ledger (how many events, over which ten
years, how many restrictions, packages, actors, questions and territory areas);
:func:`generate_registry` gives the actors, documents and questions the events
name, and :func:`generate_events` yields the events one at a time, in the order
a newsroom-fed ledger would append them (by reported date), so a million events
never sit in memory together.

The mix follows the issue: every kind; about 5% backdated (reported months or
years after they occurred); about 1% corrections (retractions and amendments of
earlier events); about 10% uncertain or interval dates (``~``, ``?``, month
precision, intervals, open starts, one-of sets); one to four sources per event;
links between events (a decision in response to a request, strikes part of an
offensive, rival accounts of one fact). Every event passes the vocabulary's
validation and the ingest's reference checks.

The same seed gives the same ledger, byte for byte::

    spec = LedgerSpec(events=100_000, seed=7)
    registry = generate_registry(spec)
    for event in generate_events(spec):
        ...
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

KIND_WEIGHTS = {
    "battlefield": 0.33,
    "statement": 0.27,
    "aid_package": 0.16,
    "policy_change": 0.13,
    "request": 0.10,
    "correction": 0.01,
}
BACKDATED_SHARE = 0.05
UNCERTAIN_SHARE = 0.10

WEAPONS = [
    "atacms",
    "himars",
    "gmlrs",
    "storm-shadow",
    "scalp",
    "taurus",
    "f-16",
    "abrams",
    "leopard-2",
    "patriot",
    "nasams",
    "155mm",
    "javelin",
    "stinger",
    "bradley",
    "uav",
    "jassm",
    "glsdb",
]
TARGET_TYPES = ["military", "airfields", "logistics", "command-posts", "air-defence", "energy", "ports"]
PURPOSES = ["counter-fire", "self-defence", "defence-of-kharkiv", "deep-strike", "air-defence", "training"]
OUTLETS = [
    "Reuters",
    "Associated Press",
    "The Washington Post",
    "The New York Times",
    "Politico",
    "Kyiv Independent",
    "BBC News",
    "Financial Times",
    "Der Spiegel",
    "Le Monde",
    "Ukrainska Pravda",
    "TASS",
    "ISW",
    "Bloomberg",
]
PLACES = [
    "Kharkiv oblast",
    "Belgorod",
    "Kursk oblast",
    "Donetsk oblast",
    "Zaporizhzhia oblast",
    "Kherson oblast",
    "Crimea",
    "Luhansk oblast",
    "Sumy oblast",
    "Black Sea",
    "Bryansk oblast",
    "Dnipropetrovsk oblast",
]
WHATS = ["offensive", "strike", "incursion", "shelling", "drone attack", "counter-offensive", "withdrawal", "capture"]
ACLED = {
    "offensive": ("Battles", "Armed clash"),
    "strike": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "incursion": ("Battles", "Armed clash"),
    "shelling": ("Explosions/Remote violence", "Shelling/artillery/missile attack"),
    "drone attack": ("Explosions/Remote violence", "Air/drone strike"),
    "counter-offensive": ("Battles", "Government regains territory"),
    "withdrawal": ("Strategic developments", "Non-violent transfer of territory"),
    "capture": ("Battles", "Non-state actor overtakes territory"),
}
WORDS = [
    "the",
    "decision",
    "was",
    "taken",
    "after",
    "weeks",
    "of",
    "debate",
    "within",
    "the",
    "administration",
    "and",
    "allied",
    "capitals",
    "about",
    "escalation",
    "risks",
    "long",
    "range",
    "fires",
    "air",
    "defence",
    "shortages",
    "front",
    "line",
    "pressure",
    "and",
    "the",
    "supply",
    "of",
    "shells",
    "officials",
    "said",
    "the",
    "move",
    "would",
    "be",
    "reviewed",
    "as",
    "conditions",
    "change",
    "on",
    "the",
    "battlefield",
]
ATTRIBUTIONS = ["on_record_official", "anonymous_official", "document", "journalist", "adversary_official", "on_record_expert"]
ATTRIBUTION_WEIGHTS = [0.25, 0.25, 0.15, 0.2, 0.1, 0.05]


@dataclass(frozen=True)
class LedgerSpec:
    """What ledger to generate. The entity counts add up to about 10,000 by default."""

    events: int = 1_000_000
    seed: int = 20240530
    start: date = date(2015, 1, 1)
    years: int = 10
    actors: int = 1_500
    questions: int = 500
    restrictions: int = 2_000
    packages: int = 3_000
    areas: int = 3_000
    documents: int = 5_000

    @property
    def days(self) -> int:
        return (date(self.start.year + self.years, self.start.month, self.start.day) - self.start).days

    @property
    def entities(self) -> int:
        return self.actors + self.questions + self.restrictions + self.packages + self.areas


# --- identifiers: deterministic from an index, so events and registry agree ---------------


def actor_id(i: int) -> str:
    return f"actor-{i:05d}"


def question_id(i: int) -> str:
    return f"question-{i:04d}"


def document_id(i: int) -> str:
    return f"doc-{i:05d}"


def restriction_id(i: int) -> str:
    return f"restriction-{i:05d}"


def package_id(i: int) -> str:
    return f"package-{i:05d}"


def area_id(i: int) -> str:
    return f"area-{i:05d}"


def event_id(kind: str, number: int) -> str:
    return f"{kind.replace('_', '-')}-{number:07d}"


def government(spec: LedgerSpec, i: int) -> str:
    """The first tenth of the actors are governments and armed forces."""
    return actor_id(i % max(1, spec.actors // 10))


# --- the registries --------------------------------------------------------------------------


def generate_registry(spec: LedgerSpec) -> list[tuple[str, str, dict[str, Any]]]:
    """Every actor, document and question the events may name, as ``(kind, id, data)``."""
    rng = random.Random(spec.seed ^ 0x5EED)
    entries: list[tuple[str, str, dict[str, Any]]] = []
    governments = max(1, spec.actors // 10)
    for i in range(spec.actors):
        kind = "government" if i < governments else rng.choice(["person", "person", "person", "organisation", "media"])
        entries.append(
            (
                "actor",
                actor_id(i),
                {
                    "id": actor_id(i),
                    "name": f"Actor {i}",
                    "role": "Government" if kind == "government" else "Official",
                    "type": kind,
                    "country": f"C{i % 60:02d}",
                },
            )
        )
    for i in range(spec.questions):
        entries.append(
            (
                "question",
                question_id(i),
                {
                    "id": question_id(i),
                    "text": f"Should restriction {restriction_id(i % spec.restrictions)} be lifted?",
                },
            )
        )
    for i in range(spec.documents):
        published = spec.start + timedelta(days=rng.randrange(spec.days))
        entries.append(
            (
                "document",
                document_id(i),
                {
                    "id": document_id(i),
                    "outlet": rng.choice(OUTLETS),
                    "published": published.isoformat(),
                    "title": f"Report {i}",
                },
            )
        )
    return entries


def registry_ids(entries: list[tuple[str, str, dict[str, Any]]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for kind, key, _ in entries:
        found.setdefault(kind, set()).add(key)
    return found


# --- the events -------------------------------------------------------------------------------


class _Generator:
    """Holds the little state a realistic stream needs: recent events per entity, for links."""

    def __init__(self, spec: LedgerSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.kinds = list(KIND_WEIGHTS)
        self.weights = list(KIND_WEIGHTS.values())
        self.last_request: dict[int, str] = {}
        self.last_decision: dict[int, str] = {}
        self.last_battle: dict[int, str] = {}
        self.recent: deque[tuple[str, str, bool]] = deque(maxlen=50_000)
        self.per_day = spec.events / spec.days

    # dates

    def _reported(self, number: int) -> date:
        return self.spec.start + timedelta(days=min(self.spec.days - 1, int(number / self.per_day)))

    def _occurred(self, reported: date) -> tuple[str, date]:
        rng = self.rng
        if rng.random() < BACKDATED_SHARE:
            day = reported - timedelta(days=rng.randint(30, 1500))
        else:
            day = reported - timedelta(days=rng.randint(0, 3))
        day = max(self.spec.start, day)
        if rng.random() >= UNCERTAIN_SHARE:
            return day.isoformat(), day
        form = rng.randrange(6)
        if form == 0:
            return f"{day.isoformat()}~", day
        if form == 1:
            return f"{day.isoformat()}?", day
        if form == 2:
            return day.strftime("%Y-%m"), day
        earlier = max(self.spec.start, day - timedelta(days=rng.randint(1, 20)))
        if form == 3:
            return f"{earlier.isoformat()}/{day.isoformat()}", day
        if form == 4:
            return f"[{earlier.isoformat()},{day.isoformat()}]", day
        return f"../{day.isoformat()}", day

    # evidence

    def _words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(low, high)))

    def _sources(self, reported: date, speaker: str) -> list[dict[str, Any]]:
        rng = self.rng
        sources = []
        for n in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))):
            attribution = rng.choices(ATTRIBUTIONS, ATTRIBUTION_WEIGHTS)[0]
            source: dict[str, Any] = {
                "outlet": rng.choice(OUTLETS),
                "published": (reported + timedelta(days=n and rng.randint(0, 5))).isoformat(),
                "attribution": attribution,
            }
            if rng.random() < 0.5:
                source["document"] = document_id(rng.randrange(self.spec.documents))
            else:
                source["url"] = f"https://news.example/{reported.year}/{rng.getrandbits(40):x}"
            if attribution in ("on_record_official", "adversary_official", "on_record_expert"):
                source["speaker"] = speaker
            elif attribution == "anonymous_official":
                source["count"] = rng.randint(1, 4)
            if rng.random() < 0.3:
                source["quote"] = self._words(8, 20)
            if rng.random() < 0.6:
                source["reliability"] = rng.choice("ABCDEF")
                source["credibility"] = rng.randint(1, 6)
            sources.append(source)
        return sources

    # kinds

    def event(self, number: int) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choices(self.kinds, self.weights)[0]
        if kind == "correction" and not self.recent:
            kind = "statement"
        reported = self._reported(number)
        occurred, day = self._occurred(reported)
        ident = event_id(kind, number)
        actor = actor_id(rng.randrange(self.spec.actors))
        data: dict[str, Any] = {
            "id": ident,
            "kind": kind,
            "occurred": occurred,
            "reported": max(reported, day).isoformat(),
            "actors": [actor],
            "summary": "",
            "sources": self._sources(max(reported, day), actor),
        }
        getattr(self, f"_{kind}")(data, actor)
        if rng.random() < 0.3:
            data["tags"] = rng.sample(["long-range", "air-defence", "aid", "escalation", "front-line", "diplomacy"], 2)
        if kind != "correction":
            self.recent.append((ident, kind, "position" in data or "territory" in data))
        return data

    def _policy_change(self, data: dict[str, Any], actor: str) -> None:
        rng, spec = self.rng, self.spec
        r = rng.randrange(spec.restrictions)
        issuer, restricted = government(spec, r), government(spec, r + 1)
        data["actors"] = [issuer, actor] if actor != issuer else [issuer]
        data["restriction"] = {
            "id": restriction_id(r),
            "status": rng.choice(["prohibited", "permitted", "conditional", "under_review"]),
            "issuer": issuer,
            "restricted": restricted,
            "weapons": [WEAPONS[r % len(WEAPONS)], WEAPONS[(r * 7) % len(WEAPONS)]],
            "area": PLACES[r % len(PLACES)],
            "targets": [TARGET_TYPES[r % len(TARGET_TYPES)]],
            "purpose": PURPOSES[r % len(PURPOSES)],
        }
        if data["restriction"]["status"] == "conditional":
            data["restriction"]["conditions"] = [self._words(4, 8)]
        data["stage"] = rng.choice(["recommended", "agreed", "approved", "signed", "in_effect", "clarified"])
        data["cameo"] = "0832"
        data["summary"] = f"{issuer} sets {restriction_id(r)}: {self._words(8, 16)}"
        if r in self.last_request and rng.random() < 0.5:
            data["links"] = {"in_response_to": [self.last_request[r]]}
        self.last_decision[r] = data["id"]

    def _request(self, data: dict[str, Any], actor: str) -> None:
        rng, spec = self.rng, self.spec
        r = rng.randrange(spec.restrictions)
        data["requester"] = government(spec, r + 1)
        data["addressee"] = government(spec, r)
        data["asks"] = f"lift {restriction_id(r)}"
        data["restriction"] = restriction_id(r)
        data["desired_status"] = rng.choice(["permitted", "conditional"])
        data["channel"] = rng.choice(["public", "private"])
        data["cameo"] = "02"
        data["summary"] = f"{data['requester']} asks {data['addressee']}: {self._words(8, 16)}"
        if r in self.last_decision and rng.random() < 0.4:
            data["links"] = {"in_response_to": [self.last_decision[r]]}
        self.last_request[r] = data["id"]

    def _statement(self, data: dict[str, Any], actor: str) -> None:
        rng = self.rng
        data["speaker"] = actor
        data["office"] = "Official"
        data["venue"] = rng.choice(["press conference", "interview", "social media", "parliament"])
        data["quote"] = self._words(10, 25)
        if rng.random() < 0.7:
            data["position"] = {
                "question": question_id(rng.randrange(self.spec.questions)),
                "stance": rng.choice(["supports", "opposes", "mixed", "undecided"]),
            }
        data["cameo"] = "01"
        data["summary"] = f"{actor} says: {self._words(8, 16)}"
        if self.recent and rng.random() < 0.2:
            data["links"] = {"in_response_to": [rng.choice(self.recent)[0]]}

    def _battlefield(self, data: dict[str, Any], actor: str) -> None:
        rng, spec = self.rng, self.spec
        a = rng.randrange(spec.areas)
        what = rng.choice(WHATS)
        data["actors"] = [government(spec, a)]
        data["place"] = PLACES[a % len(PLACES)]
        data["what"] = what
        data["acled_event_type"], data["acled_sub_event_type"] = ACLED[what]
        if rng.random() < 0.6:
            data["territory"] = {
                "area": area_id(a),
                "holder": government(spec, a + rng.randrange(2)),
                "size": {
                    "value": str(rng.randint(1, 5000)),
                    "unit": rng.choice(["sq_km", "settlements"]),
                    "qualifier": rng.choice(["exact", "exact", "about", "nearly"]),
                },
            }
        data["summary"] = f"{what} near {data['place']}: {self._words(8, 16)}"
        previous = self.last_battle.get(a)
        if previous and rng.random() < 0.25:
            relation = "alternative_account_of" if rng.random() < 0.1 else "part_of"
            data["links"] = {relation: [previous]}
        self.last_battle[a] = data["id"]

    def _aid_package(self, data: dict[str, Any], actor: str) -> None:
        rng, spec = self.rng, self.spec
        p = rng.randrange(spec.packages)
        donor = government(spec, p)
        data["actors"] = [donor]
        data["package"] = package_id(p)
        data["donor"] = donor
        data["recipient"] = government(spec, p + 1)
        data["authority"] = ["PDA", "USAI", "supplemental", "other"][p % 4]
        data["tranche"] = str(p % 70 + 1)
        data["value"] = {
            "amount": str(rng.randint(1, 400) * 5_000_000),
            "currency": "USD",
            "qualifier": rng.choice(["exact", "up_to", "about"]),
        }
        data["measure"] = rng.choice(["commitment", "allocation", "delivery"])
        data["status"] = rng.choice(["approved", "announced", "delivered"])
        data["items"] = rng.sample(WEAPONS, rng.randint(1, 4))
        data["cameo"] = "07"
        data["summary"] = f"{donor} {data['status']} {package_id(p)}: {self._words(6, 12)}"

    def _correction(self, data: dict[str, Any], actor: str) -> None:
        rng = self.rng
        target, kind, has_state = rng.choice(self.recent)
        data["corrects"] = target
        data["reason"] = self._words(6, 12)
        data["summary"] = f"correction of {target}: {self._words(4, 8)}"
        if rng.random() < 0.4:
            data["action"] = "retract"
            return
        data["action"] = "amend"
        if kind == "policy_change":
            data["amended"] = {"restriction": {"status": rng.choice(["prohibited", "permitted", "conditional"])}}
        elif kind == "aid_package":
            data["amended"] = {"value": {"amount": str(rng.randint(1, 400) * 5_000_000)}}
        elif kind == "statement" and has_state:
            data["amended"] = {"position": {"stance": rng.choice(["supports", "opposes", "mixed", "undecided"])}}
        else:
            data["amended"] = {"summary": self._words(8, 14)}


def generate_events(spec: LedgerSpec, start: int = 0, stop: int | None = None) -> Iterator[dict[str, Any]]:
    """Yield event number ``start`` to ``stop`` (default: all) of the ledger, as plain dicts.

    Events before ``start`` are generated and dropped, so a slice is the same
    whichever way it is asked for.
    """
    generator = _Generator(spec)
    for number in range(min(stop if stop is not None else spec.events, spec.events)):
        event = generator.event(number)
        if number >= start:
            yield event


def write_jsonl(spec: LedgerSpec, folder: str | Path, per_file: int = 100_000) -> list[Path]:
    """Write the registry (``actors.json``...) and the events (``events-NNNN.jsonl``) for ``ledger ingest``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    registry = generate_registry(spec)
    for kind in ("actor", "document", "question"):
        path = folder / f"{kind}s.json"
        path.write_text(json.dumps([data for k, _, data in registry if k == kind]), encoding="utf-8")
        written.append(path)
    out = None
    for number, event in enumerate(generate_events(spec)):
        if number % per_file == 0:
            if out:
                out.close()
            path = folder / f"events-{number // per_file:04d}.jsonl"
            out = path.open("w", encoding="utf-8")
            written.append(path)
        assert out is not None  # opened above on the first event of each file
        out.write(json.dumps(event, separators=(",", ":")) + "\n")
    if out:
        out.close()
    return written
