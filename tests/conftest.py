"""Shared test fixtures: a tiny registry and an event factory, so tests read like the spec."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["postgres"]  # the session's PostgreSQL server (tests/postgres.py)

ACTORS = [
    {"id": "us", "name": "United States", "role": "state", "type": "government", "country": "US"},
    {"id": "ukraine", "name": "Ukraine", "role": "state", "type": "government", "country": "UA"},
    {"id": "biden", "name": "Joe Biden", "role": "President of the United States", "country": "US"},
    {"id": "kirby", "name": "John Kirby", "role": "White House national security spokesman", "country": "US"},
]
DOCUMENTS = [{"id": "doc-a", "outlet": "The Example Post", "published": "2024-05-30"}]
QUESTIONS = [{"id": "strikes-inside-russia", "text": "May Ukraine strike inside Russia with US weapons?"}]


def write_registry(folder: Path) -> Path:
    """Write actors.yaml, documents.yaml and questions.yaml into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in (("actors", ACTORS), ("documents", DOCUMENTS), ("questions", QUESTIONS)):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(entries, sort_keys=False))
    return folder


def make_event(event_id: str = "kirby-says-no-change", kind: str = "statement", **fields: Any) -> dict[str, Any]:
    """A valid event of the given kind; keyword arguments replace fields."""
    base: dict[str, Any] = {
        "id": event_id,
        "kind": kind,
        "occurred": "2024-05-30",
        "reported": "2024-05-30",
        "actors": ["kirby"],
        "summary": "The spokesman said the guidance had not changed.",
        "sources": [
            {
                "document": "doc-a",
                "outlet": "The Example Post",
                "published": "2024-05-30",
                "attribution": "on_record_official",
                "speaker": "kirby",
                "quote": "no change",
            }
        ],
    }
    payloads: dict[str, dict[str, Any]] = {
        "statement": {"speaker": "kirby", "position": {"question": "strikes-inside-russia", "stance": "opposes"}},
        "policy_change": {
            "actors": ["biden"],
            "restriction": {"id": "us-weapons-inside-russia", "status": "conditional", "issuer": "us", "restricted": "ukraine"},
        },
        "request": {"actors": ["ukraine"], "requester": "ukraine", "addressee": "us", "asks": "lift the ban", "channel": "private"},
        "battlefield": {"actors": ["ukraine"], "place": "Kursk", "what": "incursion"},
        "aid_package": {"actors": ["us"], "package": "pda-1", "donor": "us", "authority": "PDA", "measure": "commitment"},
        "correction": {"corrects": "kirby-says-no-change", "action": "retract", "reason": "misreported"},
    }
    event = {**base, **copy.deepcopy(payloads.get(kind, {}))}
    event.update(fields)
    return event


def write_events(path: Path, events: list[dict[str, Any]] | dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(events, sort_keys=False))
    return path


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    """A folder holding the registries, ready for event files."""
    return write_registry(tmp_path / "events")


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")
