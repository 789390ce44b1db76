"""Ingest event files: read, validate everything, then append all of it in one transaction.

Nothing is appended if anything is wrong. Every problem is reported as an
:class:`IngestProblem` naming the file, the event id, the field and the reason.
An id already in the ledger with identical content is skipped (so a re-run
appends nothing); the same id with different content is refused, because the
ledger is never edited: a ``correction`` event fixes a mistake.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ledger import events as vocabulary
from ledger.events import EVENT_CLASSES
from ledger.registry import registry_adapter, registry_kind
from ledger.store import LedgerStore, content_hash

EVENT_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Fields (by kind) that name actors, questions and documents in the registries.
ACTOR_FIELDS = {
    "policy_change": [("restriction", "issuer"), ("restriction", "restricted")],
    "request": [("requester",), ("addressee",)],
    "statement": [("speaker",)],
    "battlefield": [("territory", "holder"), ("territory", "claimed_by")],
    "aid_package": [("donor",), ("recipient",)],
    "correction": [],
}


@dataclass(frozen=True)
class IngestProblem:
    """One reason a batch cannot be appended."""

    file: str
    event_id: str | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.event_id:
            where += f": {self.event_id}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.reason}"


class IngestError(Exception):
    """The batch was refused; ``problems`` says why, and nothing was appended."""

    def __init__(self, problems: Sequence[IngestProblem]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was appended")


@dataclass
class IngestReport:
    """What an ingest did."""

    files: int = 0
    appended: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    registry_entries: int = 0
    positions: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "appended": len(self.appended),
            "skipped": len(self.skipped),
            "registry_entries": self.registry_entries,
            "first_position": self.positions[0] if self.positions else None,
            "last_position": self.positions[-1] if self.positions else None,
        }


@dataclass
class _Candidate:
    file: str
    data: dict[str, Any]


def find_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestProblem]]:
    """Event and registry files under the given files and folders, in a stable order."""
    found: list[Path] = []
    problems: list[IngestProblem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in EVENT_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            problems.append(IngestProblem(str(path), None, None, "no such file or folder"))
    return found, problems


def load_file(path: Path) -> Any:
    """The YAML or JSON content of a file (JSON Lines: a list of its lines)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=_YAML_LOADER)


def _field_path(loc: Sequence[Any], kind: str | None) -> str:
    parts = [str(part) for part in loc]
    if kind and parts and parts[0] == kind:
        parts = parts[1:]  # pydantic prefixes the union tag; the user never wrote it
    return ".".join(parts) or "(event)"


def _validation_problems(file: str, data: Any, error: ValidationError) -> list[IngestProblem]:
    event_id = data.get("id") if isinstance(data, dict) else None
    kind = data.get("kind") if isinstance(data, dict) else None
    problems = []
    for item in error.errors(include_url=False):
        reason = item["msg"]
        field_path = _field_path(item["loc"], kind)
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field_path = "kind"
            reason = f"unknown kind {kind!r}" if kind else "missing 'kind'"
            reason += f"; expected one of: {', '.join(EVENT_CLASSES)}"
        elif item["type"] == "extra_forbidden":
            reason = "unknown field (check the spelling, or see 'ledger schema')"
        problems.append(IngestProblem(file, event_id, field_path, reason))
    return problems


def _dig(data: dict[str, Any], path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def reference_problems(
    candidates: Sequence[_Candidate],
    registry: dict[str, set[str]],
    known_event_ids: Callable[[set[str]], set[str]],
) -> list[IngestProblem]:
    """Actors, questions, documents and event ids that events name but nobody defined."""
    batch_ids = {c.data["id"] for c in candidates}
    wanted_events: set[str] = set()
    for c in candidates:
        wanted_events.update(target for _, target in _links(c.data))
    existing = known_event_ids(wanted_events - batch_ids) | batch_ids
    if wanted_events <= existing and _all_registered(candidates, registry):
        return []  # the usual case: skip the walk that names each problem's field
    problems = []
    for c in candidates:
        data, event_id = c.data, c.data["id"]

        def missing(kind: str, value: Any, where: str) -> None:
            if value is not None and value not in registry.get(kind, set()):
                problems.append(IngestProblem(c.file, event_id, where, f"unknown {kind} {value!r}: add it to {kind}s.yaml"))

        for i, actor in enumerate(data.get("actors", [])):
            missing("actor", actor, f"actors.{i}")
        for path in ACTOR_FIELDS.get(data["kind"], []):
            missing("actor", _dig(data, path), ".".join(path))
        for i, source in enumerate(data.get("sources", [])):
            missing("document", source.get("document"), f"sources.{i}.document")
            missing("actor", source.get("speaker"), f"sources.{i}.speaker")
        missing("question", _dig(data, ("position", "question")), "position.question")
        for relation, target in _links(data):
            if target not in existing:
                problems.append(IngestProblem(c.file, event_id, relation, f"unknown event {target!r}"))
            elif target == event_id:
                problems.append(IngestProblem(c.file, event_id, relation, "an event cannot link to itself"))
    return problems


def _all_registered(candidates: Sequence[_Candidate], registry: dict[str, set[str]]) -> bool:
    """True when every actor, document and question the events name is in the registry, and none links to itself."""
    actors: set[str] = set()
    documents: set[str] = set()
    questions: set[str] = set()
    for c in candidates:
        data = c.data
        actors.update(data.get("actors", ()))
        actors.update(value for path in ACTOR_FIELDS.get(data["kind"], ()) if (value := _dig(data, path)) is not None)
        for source in data.get("sources", ()):
            documents.add(source.get("document"))
            actors.add(source.get("speaker"))
        if "position" in data:
            questions.add(data["position"]["question"])
        if any(target == data["id"] for _, target in _links(data)):
            return False
    actors.discard(None)  # type: ignore[arg-type]
    documents.discard(None)  # type: ignore[arg-type]
    return (
        actors <= registry.get("actor", set())
        and documents <= registry.get("document", set())
        and questions <= registry.get("question", set())
    )


def _links(data: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(f"links.{rel}", t) for rel, targets in (data.get("links") or {}).items() for t in targets]
    if data.get("kind") == "correction":
        found.append(("corrects", data["corrects"]))
    return found


def validate_items(
    name: str,
    items: Sequence[Any],
    candidates: list[_Candidate],
    problems: list[IngestProblem],
    offset: int = 0,
    whole: int | None = None,
) -> None:
    """Validate raw events from one file (or one in-memory batch), adding to ``candidates`` or ``problems``.

    ``offset`` and ``whole`` place a chunk within its file, so problems name the event's index there.
    """
    whole = len(items) if whole is None else whole
    for index, item in enumerate(items, start=offset):
        where = name if whole == 1 else f"{name}[{index}]"
        if not isinstance(item, dict):
            problems.append(IngestProblem(where, None, None, "an event must be a mapping of fields"))
            continue
        try:
            event = vocabulary.parse_event(item)
        except ValidationError as error:
            problems.extend(_validation_problems(where, item, error))
            continue
        candidates.append(_Candidate(where, event.model_dump(mode="json", exclude_none=True)))


def validate_registry(name: str, kind: str, content: Any, problems: list[IngestProblem]) -> list[tuple[str, str, dict]]:
    """Validate one registry file's entries as (kind, id, data) triples."""
    try:
        models = registry_adapter(kind).validate_python(content or [])
    except ValidationError as error:
        for item in error.errors(include_url=False):
            problems.append(IngestProblem(name, None, _field_path(item["loc"], None), item["msg"]))
        return []
    return [(kind, m.id, m.model_dump(mode="json", exclude_none=True)) for m in models]


Progress = Callable[[int, int], None]
"""Called as ``progress(events_done, events_total)`` while events are validated."""


def read_batch(
    paths: Iterable[str | Path], progress: Progress | None = None
) -> tuple[list[_Candidate], list[tuple[str, str, dict]], list[IngestProblem], int]:
    """Read every file, then validate every event: (events, registry entries, problems, file count).

    ``progress(done, total)`` is called as events are validated (the long part),
    in steps of a few hundred events.
    """
    files, problems = find_files(paths)
    candidates: list[_Candidate] = []
    registry_entries: list[tuple[str, str, dict]] = []
    event_files: list[tuple[str, list[Any]]] = []
    for path in files:
        name = str(path)
        try:
            content = load_file(path)
        except (OSError, UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError) as error:
            problems.append(IngestProblem(name, None, None, f"cannot read the file: {str(error).splitlines()[0]}"))
            continue
        kind = registry_kind(path.name)
        if kind:
            registry_entries.extend(validate_registry(name, kind, content, problems))
        else:
            event_files.append((name, content if isinstance(content, list) else [content]))
    total, done, step = sum(len(items) for _, items in event_files), 0, 500
    for name, items in event_files:
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            validate_items(name, chunk, candidates, problems, offset=start, whole=len(items))
            done += len(chunk)
            if progress:
                progress(done, total)
    return candidates, registry_entries, problems, len(files)


def ingest_paths(
    store: LedgerStore,
    paths: Iterable[str | Path],
    progress: Progress | None = None,
) -> IngestReport:
    """Validate every event under ``paths`` and append the new ones in one transaction.

    Raises :class:`IngestError` (and appends nothing) if any event is invalid,
    names something unknown, or reuses a recorded id with different content.
    """
    candidates, registry_entries, problems, file_count = read_batch(paths, progress)
    return ingest_events(store, candidates, registry_entries, problems, file_count)


def ingest_dicts(
    store: LedgerStore,
    events: Sequence[dict[str, Any]],
    registry: dict[str, Sequence[dict[str, Any]]] | None = None,
    name: str = "<memory>",
) -> IngestReport:
    """Validate in-memory events (and registry entries by kind: actor, document, question), then append.

    The same checks and the same all-or-nothing append as :func:`ingest_paths`.
    """
    problems: list[IngestProblem] = []
    entries: list[tuple[str, str, dict]] = []
    for kind, content in (registry or {}).items():
        entries.extend(validate_registry(f"{name}:{kind}s", kind, list(content), problems))
    candidates: list[_Candidate] = []
    validate_items(name, list(events), candidates, problems)
    return ingest_events(store, candidates, entries, problems)


def ingest_events(
    store: LedgerStore,
    candidates: Sequence[_Candidate],
    registry_entries: Sequence[tuple[str, str, dict]] = (),
    problems: Sequence[IngestProblem] = (),
    file_count: int = 0,
) -> IngestReport:
    """Check validated events against each other and the store, then append the new ones."""
    problems = list(problems)
    first_file: dict[str, str] = {}
    for c in candidates:
        event_id = c.data["id"]
        if event_id in first_file:
            problems.append(IngestProblem(c.file, event_id, "id", f"the same id is also used in {first_file[event_id]}"))
        else:
            first_file[event_id] = c.file

    registry = store.registry_ids()
    for kind, key, _ in registry_entries:
        registry.setdefault(kind, set()).add(key)

    def known(ids: set[str]) -> set[str]:
        return set(store.content_hashes(ids))

    problems.extend(reference_problems(candidates, registry, known))

    recorded = store.content_hashes(first_file)
    report = IngestReport(files=file_count, registry_entries=len(registry_entries))
    new: list[dict[str, Any]] = []
    seen: set[str] = set()
    for c in candidates:
        event_id = c.data["id"]
        if event_id in seen:
            continue
        seen.add(event_id)
        if event_id in recorded:
            if recorded[event_id] == content_hash(c.data):
                report.skipped.append(event_id)
            else:
                problems.append(
                    IngestProblem(
                        c.file,
                        event_id,
                        "id",
                        "already recorded with different content; the ledger is never edited: "
                        f"add a correction event (kind: correction, corrects: {event_id}, action: amend or retract)",
                    )
                )
        else:
            new.append(c.data)
    if problems:
        raise IngestError(problems)
    if registry_entries:
        store.put_registry(registry_entries)
    report.positions = store.append(new)
    report.appended = [data["id"] for data in new]
    return report
