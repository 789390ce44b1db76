"""Ingest event files: read, validate everything, then append all of it in one transaction.

Nothing is appended if anything is wrong. Every problem is reported as an
:class:`IngestProblem` naming the file, the event id, the field and the reason.
An id already in the ledger with identical content is skipped (so a re-run
appends nothing); the same id with different content is refused, because the
ledger is never edited: a ``correction`` event fixes a mistake.

Validation is the costly, pure part, so it runs in chunks of a few hundred
events (:func:`check_chunk`; an event given as JSON text is validated from
its text in one step, and only when that fails parsed and validated again to
name its problems as the loader does), in worker processes when there are more than
:data:`POOL_THRESHOLD` events (``LEDGER_WORKERS`` sets how many; ``0`` keeps
everything in this process). A worker returns only what the rest needs: each
event's id and canonical bytes, with what the append would otherwise compute
from them (entry id, and the compressed state body once the store has
a dictionary, which each task carries: :class:`ledger.store.PreparedEvent`), the
actors, documents, questions and events the chunk names, and its problems. An
event's content hash is needed only when its id is found recorded, so it is taken then.
This process checks those against the registry and the store with set
operations while the workers validate the next chunks, then appends: it hashes
the chain and inserts, and compresses nothing the workers compressed. A
stream's batches are looked up in the store and appended by a thread of their
own, one after the other, while this process receives the next batch's chunks
(SQLite does its inserts and its commit's writes without holding the GIL).

Files, in-memory dicts and streams are thin adapters (:func:`ingest_paths`,
:func:`ingest_dicts`, :func:`ingest_stream`) that turn their input into
:class:`ChunkTask` s for the one pipeline, :class:`_Run`.

The workers are started once per process, as every worker is
(:mod:`ledger.workers`: they inherit no open database and die with this
process); as multiprocessing asks, a script that ingests many events runs
under ``if __name__ == "__main__":`` (or sets ``LEDGER_WORKERS=0``).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from ledger import events as vocabulary
from ledger import workers as processes
from ledger.events import EVENT_CLASSES, NO_LINKS
from ledger.loading import MAX_DEPTH, MAX_LINE_BYTES, IngestProblem, LoadError, find_files, load_file, parse_json_line, read_text
from ledger.registry import registry_adapter, registry_kind
from ledger.store import LedgerStore, PreparedEvent
from ledger.store.codec import BodyCompressor, canonical_bytes, entry_hex

# Fields (by kind) that name actors, questions and documents in the registries.
ACTOR_FIELDS: dict[str, list[tuple[str, ...]]] = {
    "policy_change": [("restriction", "issuer"), ("restriction", "restricted")],
    "request": [("requester",), ("addressee",)],
    "statement": [("speaker",)],
    "battlefield": [("territory", "holder"), ("territory", "claimed_by")],
    "aid_package": [("donor",), ("recipient",)],
    "correction": [],
}


class IngestError(Exception):
    """The batch was refused; ``problems`` says why, and nothing of it was appended.

    ``report`` says what earlier batches of the same :func:`ingest_stream` appended (empty otherwise).
    """

    def __init__(self, problems: Sequence[IngestProblem], report: IngestReport | None = None) -> None:
        self.problems = list(problems)
        self.report = report or IngestReport()
        super().__init__(f"{len(self.problems)} problem(s); nothing was appended")


@dataclass
class IngestReport:
    """What an ingest did."""

    files: int = 0
    appended: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    registry_entries: int = 0
    positions: list[int] = field(default_factory=list)
    validation_wait: float = 0.0
    """Seconds this process spent waiting for validation it could not overlap with its own work."""
    validation_cpu: float = 0.0
    """CPU seconds spent validating (in worker processes, or here), summed over chunks."""
    warnings: list[str] = field(default_factory=list)
    """What does not stop an ingest: new events whose order against others of their entity is undetermined.

    Filled by :meth:`ledger.Ledger.ingest`, which knows the entities (the read model's index); the functions here leave it empty.
    """

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "appended": len(self.appended),
            "skipped": len(self.skipped),
            "registry_entries": self.registry_entries,
            "first_position": self.positions[0] if self.positions else None,
            "last_position": self.positions[-1] if self.positions else None,
            "warnings": self.warnings,
        }


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
        data = data.get(key)  # type: ignore[assignment]  # walking down: any JSON value
    return data


def reference_problems(
    events: Sequence[tuple[str, dict[str, Any]]],
    registry: dict[str, set[str]],
    known_event_ids: Callable[[set[str]], set[str]],
) -> list[IngestProblem]:
    """Actors, questions, documents and event ids that events (``(where, event)`` pairs) name but nobody defined.

    Called only when the set checks of :class:`_Append` found something amiss: this walk names each problem's field.
    """
    batch_ids = {data["id"] for _, data in events}
    wanted_events: set[str] = set()
    for _, data in events:
        wanted_events.update(target for _, target in _links(data))
    existing = known_event_ids(wanted_events - batch_ids) | batch_ids
    problems = []
    for file, data in events:
        event_id = data["id"]

        def missing(kind: str, value: Any, where: str) -> None:
            if value is not None and value not in registry.get(kind, set()):
                problems.append(IngestProblem(file, event_id, where, f"unknown {kind} {value!r}: add it to {kind}s.yaml"))

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
                problems.append(IngestProblem(file, event_id, relation, f"unknown event {target!r}"))
            elif target == event_id:
                problems.append(IngestProblem(file, event_id, relation, "an event cannot link to itself"))
    return problems


def _links(data: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(f"links.{rel}", t) for rel, targets in (data.get("links") or {}).items() for t in targets]
    if data.get("kind") == "correction":
        found.append(("corrects", data["corrects"]))
    return found


# --- validating chunks of events: pure, so it can run in worker processes ----------------

CHUNK_EVENTS = 500
"""Events per validation task, and per progress step."""

POOL_THRESHOLD = 2_000
"""Up to this many events are validated in this process: starting workers would cost more than it saves."""

FILES_PER_TASK = 50
"""YAML and JSON event files (usually an event or a few each) read and validated per task."""


@dataclass(frozen=True)
class ChunkTask:
    """Some events to validate: ``items`` (event dicts), ``json`` (dicts or JSON texts of one event each),
    ``lines`` (the lines of a JSON Lines file: one bad line spoils the file) or ``files`` (paths to read).

    ``offset`` and ``whole`` place the chunk in its file so problems name each event's index there
    (``whole`` 1: the file holds one event, named without an index; ``whole`` -1: an unbounded stream).
    ``last`` marks the last chunk of a file or of a stream's batch.
    """

    kind: str
    name: str
    payload: Sequence[Any]
    offset: int = 0
    whole: int = -1
    last: bool = True
    dictionary: tuple[int, bytes] | None = None
    """The store's compression dictionary (id, bytes), when it has one: the valid events' state bodies are compressed with it."""


@dataclass
class CheckedChunk:
    """What validating a chunk gives back: what the append and the checks need, and nothing more."""

    name: str
    offset: int
    whole: int
    last: bool
    count: int = 0
    ids: list[str] = field(default_factory=list)
    canonical: list[bytes] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    dictionary: int = -1
    """The id of the dictionary ``bodies`` were compressed with (-1: none were)."""
    indexes: list[int] = field(default_factory=list)
    actors: set[str] = field(default_factory=set)
    documents: set[str] = field(default_factory=set)
    questions: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    self_link: bool = False
    problems: list[IngestProblem] = field(default_factory=list)
    read_error: str | None = None
    cpu_seconds: float = 0.0
    whole_file: bool = False
    """The chunk is a whole event file, read by the worker (counted as one event until then)."""

    def where(self, k: int) -> str:
        """The file (and index in it) of the ``k``-th valid event of the chunk."""
        return _where(self.name, self.whole, self.indexes[k])

    def prepared(self, k: int) -> PreparedEvent:
        """The ``k``-th valid event as the store's append takes it, with what was computed here beforehand."""
        body = self.bodies[k] if self.bodies else b""
        return PreparedEvent(self.ids[k], self.canonical[k], self.entries[k], body, self.dictionary)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """The chunk's valid events as (where, JSON-ready dict) again (only when problems must be named)."""
        return [(self.where(k), orjson.loads(canonical)) for k, canonical in enumerate(self.canonical)]


def _where(name: str, whole: int, index: int) -> str:
    return name if whole == 1 else f"{name}[{index}]"


def check_chunk(task: ChunkTask) -> list[CheckedChunk]:
    """Validate a chunk of events; one :class:`CheckedChunk` per file it covers (a ``files`` task covers several)."""
    started = time.process_time()
    if task.kind == "files":
        found = [_check_file(Path(path)) for path in task.payload]
    else:
        chunk = CheckedChunk(task.name, task.offset, task.whole, task.last)
        items: Sequence[Any] = task.payload
        valid = _valid_texts(items) if task.kind in ("lines", "json") else None
        if task.kind == "lines" and valid is not None and None in valid:
            # a line that is not a valid event: parse them all first, as a line that does not parse spoils the file
            # (the events validated already are kept: only the others are validated again, to name their problems)
            try:
                items = [parse_json_line(line, f"line {number}: ") for number, line in enumerate(task.payload, start=task.offset + 1)]
            except LoadError as error:
                chunk.count, chunk.read_error = len(task.payload), str(error)
                items = ()
        _check_items(chunk, items, texts=task.kind in ("json", "lines"), valid=valid)
        found = [chunk]
    if task.dictionary is not None:
        for chunk in found:
            chunk.dictionary = task.dictionary[0]
            chunk.bodies = _bodies.bodies(task.dictionary[1], chunk.canonical)
    found[-1].cpu_seconds = time.process_time() - started
    return found


def _valid_texts(texts: Sequence[Any]) -> list[vocabulary.Envelope | None]:
    """Each JSON text validated in one step when it is a valid event within the loader's bounds, else None (and None for a dict).

    The usual case, at about half the cost of parsing then validating. A None
    is then parsed and validated as before (:func:`parse_json_line`, then
    :func:`ledger.events.parse_event`), so every problem is found and worded as the loader and the
    validation always did: only what both accept takes this way. The nesting
    limit can matter only to an amendment, whose values are free: a valid event
    of any other kind nests a few levels at most, whatever its text. So only an
    amendment's text has its brackets counted, and with more than the limit goes that way, to have its depth checked.
    """
    parse, valid = vocabulary.parse_event_json, []
    for text in texts:
        event = None
        if isinstance(text, (str, bytes)) and len(text) <= MAX_LINE_BYTES:
            try:  # not contextlib.suppress, which makes an object per event
                event = parse(text)
            except ValidationError:
                event = None  # its problems are named the slow way
            if event is not None and _free_values(event) and _brackets(text) > MAX_DEPTH:
                event = None
        valid.append(event)
    return valid


def _free_values(event: vocabulary.Envelope) -> bool:
    """Whether the event holds values of any shape (an amendment's), which can nest as deep as the text."""
    return type(event) is vocabulary.Correction and event.amended is not None


def _brackets(text: str | bytes) -> int:
    return text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")


_bodies = BodyCompressor()
"""Compresses state bodies in this process (a worker keeps the dictionary's compressor from task to task)."""


def _check_file(path: Path) -> CheckedChunk:
    name = str(path)
    try:
        content = load_file(path)
    except LoadError as error:
        chunk = CheckedChunk(name, 0, 1, True)
        chunk.read_error = str(error)
        return chunk
    items = content if isinstance(content, list) else [content]
    chunk = CheckedChunk(name, 0, len(items), True, whole_file=True)
    _check_items(chunk, items)
    return chunk


def _check_items(
    chunk: CheckedChunk, items: Sequence[Any], texts: bool = False, valid: Sequence[vocabulary.Envelope | None] | None = None
) -> None:
    """Validate ``items`` (event dicts, or with ``texts`` JSON texts of one event each) into ``chunk``.

    ``valid`` holds, for each item, the event :func:`_valid_texts` made of it
    already, or None: an item without one is parsed and validated here, so its problems are named.
    """
    parse, problems = vocabulary.parse_event, chunk.problems
    for index, (item, ready) in enumerate(zip(items, valid or repeat(None)), start=chunk.offset):
        if ready is not None and _added(chunk, ready, index):
            continue
        if texts and isinstance(item, (str, bytes)):
            try:
                item = parse_json_line(item)
            except LoadError as error:
                where = _where(chunk.name, chunk.whole, index)
                problems.append(IngestProblem(where, None, None, str(error)))
                continue
        if not isinstance(item, dict):
            problems.append(IngestProblem(_where(chunk.name, chunk.whole, index), None, None, "an event must be a mapping of fields"))
            continue
        try:
            event = parse(item)
        except ValidationError as error:
            problems.extend(_validation_problems(_where(chunk.name, chunk.whole, index), item, error))
            continue
        try:
            _gather(chunk, event, index)
        except orjson.JSONEncodeError as error:  # an integer beyond 64 bits: valid, but not encodable
            problems.append(IngestProblem(_where(chunk.name, chunk.whole, index), item.get("id"), None, f"cannot be recorded: {error}"))
    chunk.count += len(items)
    chunk.actors.discard(None)
    chunk.documents.discard(None)


def _added(chunk: CheckedChunk, event: vocabulary.Envelope, index: int) -> bool:
    """Add an event validated already to ``chunk``; False if it cannot be encoded (it then takes the way that names the problem)."""
    try:
        _gather(chunk, event, index)
    except orjson.JSONEncodeError:
        return False
    return True


def _gather(chunk: CheckedChunk, event: vocabulary.Envelope, index: int) -> None:
    """Add a valid event to ``chunk``: its canonical bytes, with what it names (what :class:`_Append` checks as sets)."""
    canonical = event_canonical(event)
    event_id = event.id
    chunk.ids.append(event_id)
    chunk.canonical.append(canonical)
    chunk.entries.append(entry_hex(event_id))
    chunk.indexes.append(index)
    actors: set[Any] = chunk.actors  # None among them until the chunk is done (:func:`_check_items` discards it)
    documents: set[Any] = chunk.documents
    actors.update(event.actors)
    for source in event.sources:
        documents.add(source.document)
        actors.add(source.speaker)
    _NAMED[type(event)](chunk, event)
    links = event.links
    if links is not NO_LINKS:
        for target in chain(links.in_response_to, links.part_of, links.alternative_account_of):
            chunk.targets.add(target)
            chunk.self_link = chunk.self_link or target == event_id


def _policy_change_names(chunk: CheckedChunk, event: Any) -> None:
    chunk.actors.update((event.restriction.issuer, event.restriction.restricted))


def _request_names(chunk: CheckedChunk, event: Any) -> None:
    chunk.actors.update((event.requester, event.addressee))


def _statement_names(chunk: CheckedChunk, event: Any) -> None:
    chunk.actors.add(event.speaker)
    if event.position is not None:
        chunk.questions.add(event.position.question)


def _battlefield_names(chunk: CheckedChunk, event: Any) -> None:
    if event.territory is not None:
        chunk.actors.update((event.territory.holder, event.territory.claimed_by))


def _aid_package_names(chunk: CheckedChunk, event: Any) -> None:
    chunk.actors.update((event.donor, event.recipient))


def _correction_names(chunk: CheckedChunk, event: Any) -> None:
    chunk.targets.add(event.corrects)
    chunk.self_link = chunk.self_link or event.corrects == event.id


_NAMED: dict[type[vocabulary.Envelope], Callable[[CheckedChunk, Any], None]] = {
    vocabulary.PolicyChange: _policy_change_names,
    vocabulary.Request: _request_names,
    vocabulary.Statement: _statement_names,
    vocabulary.Battlefield: _battlefield_names,
    vocabulary.AidPackage: _aid_package_names,
    vocabulary.Correction: _correction_names,
}
"""By kind: what an event's own fields name, as :data:`ACTOR_FIELDS` and :func:`_links` say (the walk that names problems)."""


def event_canonical(event: vocabulary.Envelope) -> bytes:
    """The canonical bytes of a valid event: ``canonical_bytes(event.model_dump(mode="json", exclude_none=True))``, byte for byte.

    Made by orjson straight from the models' fields (a model as its fields
    without the None ones, a decimal as its text, as pydantic's dump gives them;
    dates, strings, numbers and lists orjson writes as the dump does), in about
    half the time of the dump then the encoding. An amendment's values can be
    of any type: a correction that amends takes the dump.
    """
    if _free_values(event):
        return canonical_bytes(event.model_dump(mode="json", exclude_none=True))
    return orjson.dumps(event, default=_plain, option=orjson.OPT_SORT_KEYS)


_NO_LINKS_FIELDS = NO_LINKS.model_dump()
"""The links of most events (none), written as every event without links has them."""


def _plain(value: Any) -> Any:
    """What :func:`event_canonical` writes for a value orjson does not know: a model's fields, or a decimal's text."""
    if value is NO_LINKS:
        return _NO_LINKS_FIELDS
    if type(value) is Decimal:
        return str(value)
    if isinstance(value, BaseModel):
        return {key: item for key, item in value.__dict__.items() if item is not None}
    raise TypeError(f"{type(value).__name__} is not part of an event")


# --- the worker processes ----------------------------------------------------------------


def worker_count() -> int:
    """How many validation processes to use: ``LEDGER_WORKERS``, else one per CPU; 0 = none.

    One per CPU, not one fewer: the main process mostly waits for validated
    chunks (its checks and appends take about a third of a worker's time per
    event), so on two cores two workers ingest faster than one.
    """
    return processes.worker_count()


_pool: tuple[int, ProcessPoolExecutor] | None = None


def start_workers(count: int | None = None) -> int:
    """Start the validation processes now rather than on the first large ingest; return how many there are."""
    count = worker_count() if count is None else count
    if count > 0:
        _executor(count)
    return count


def stop_workers() -> None:
    """Stop the validation processes (they are started again when needed)."""
    global _pool
    if _pool is not None:
        _pool[1].shutdown(wait=True, cancel_futures=True)
        _pool = None


def _executor(count: int) -> ProcessPoolExecutor:
    global _pool
    if _pool is not None and _pool[0] != count:
        stop_workers()
    if _pool is None:
        context = processes.context(preload=["ledger.ingest"])
        executor = ProcessPoolExecutor(count, mp_context=context, initializer=_prepare_worker)
        for ready in [executor.submit(_ready) for _ in range(count)]:
            ready.result()  # start every process now, so the first chunks are not held up by the others
        _pool = (count, executor)
    return _pool[1]


WORKER_GC_YOUNG = 50_000
"""Allocations between a validation worker's young-generation collections (Python's default: 700).

Validating an event makes dozens of short-lived objects and no reference
cycles; collecting every 700 of them cost about a tenth of a worker's time.
"""


def _prepare_worker() -> None:
    processes.die_with_parent()
    vocabulary.event_adapter  # noqa: B018  (builds the validator once, before the first chunk)
    gc.freeze()  # the modules and the validator are never garbage: keep full collections from walking them
    gc.set_threshold(WORKER_GC_YOUNG, *gc.get_threshold()[1:])


def _ready() -> int:
    return os.getpid()


def _checked(tasks: Iterable[ChunkTask], workers: int, ahead: int = 0) -> Iterator[list[CheckedChunk]]:
    """Each task's :func:`check_chunk` result, in order: here, or from ``workers`` processes.

    The workers are kept ``ahead`` tasks (at least a few each) ahead of the caller, so they
    go on validating while it appends.
    """
    if workers <= 0:
        for task in tasks:
            yield check_chunk(task)
        return
    executor = _executor(workers)
    pending: deque[Future[list[CheckedChunk]]] = deque()
    try:
        for task in tasks:
            pending.append(executor.submit(check_chunk, task))
            if len(pending) > max(ahead, 4 * workers):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        stop_workers()  # a worker died (out of memory, killed): the next ingest starts afresh
        raise
    finally:
        for future in pending:
            future.cancel()


def _waited(results: Iterator[list[CheckedChunk]], report: IngestReport) -> Iterator[list[CheckedChunk]]:
    """``results``, adding the time spent waiting for each to ``report.validation_wait``."""
    while True:
        started = time.perf_counter()
        try:
            found = next(results)
        except StopIteration:
            return
        report.validation_wait += time.perf_counter() - started
        report.validation_cpu += sum(chunk.cpu_seconds for chunk in found)
        yield found


# --- the checks of one all-or-nothing append ---------------------------------------------


class _Append:
    """Checks validated chunks against each other and the registry as they arrive (:meth:`add`), against the store (:meth:`look_up`); then appends.

    :meth:`add` does not touch the store, so a stream can add the next batch's
    chunks while the store appends the one before (:meth:`_Run.batch_by_batch`).
    """

    def __init__(self, store: LedgerStore, registry: dict[str, set[str]]) -> None:
        self.store = store
        self.registry = registry
        self.chunks: list[CheckedChunk] = []
        self.validation: list[IngestProblem] = []
        self.duplicates: list[IngestProblem] = []
        self.changed: list[IngestProblem] = []
        self.first: dict[str, CheckedChunk] = {}  # the chunk where each id is first seen
        self.targets: set[str] = set()
        self.name_references = False  # a set check failed: walk the events to name each problem's field
        self.new: list[PreparedEvent] = []
        self.skipped: list[str] = []
        self.checked_at: int | None = None  # the store's head before the first lookup of ids
        self.unlooked: list[tuple[CheckedChunk, Sequence[int]]] = []  # chunks added, with their ids to look up in the store

    def add(self, chunk: CheckedChunk) -> None:
        """Check a chunk against the chunks added before and the registry; its ids are looked up in the store by :meth:`look_up`."""
        self.chunks.append(chunk)
        self.validation.extend(chunk.problems)
        ids, first = chunk.ids, self.first
        fresh: Sequence[int]
        if len(set(ids)) == len(ids) and first.keys().isdisjoint(ids):
            first.update(dict.fromkeys(ids, chunk))  # the usual case: no id seen twice
            fresh = range(len(ids))
        else:
            fresh = []
            for k, event_id in enumerate(ids):
                earlier = first.setdefault(event_id, chunk)
                if earlier is chunk and ids.index(event_id) == k:
                    fresh.append(k)
                else:
                    also = earlier.where(earlier.ids.index(event_id))
                    self.duplicates.append(IngestProblem(chunk.where(k), event_id, "id", f"the same id is also used in {also}"))
        registry = self.registry
        if chunk.self_link or not (
            chunk.actors <= registry.get("actor", set())
            and chunk.documents <= registry.get("document", set())
            and chunk.questions <= registry.get("question", set())
        ):
            self.name_references = True
        self.targets |= chunk.targets
        self.unlooked.append((chunk, fresh))

    def look_up(self) -> None:
        """Look up in the store the ids of the chunks added since the last look-up: new, or recorded with the same content, or refused."""
        for chunk, fresh in self.unlooked:
            self._look_up(chunk, fresh)
        self.unlooked.clear()

    def _look_up(self, chunk: CheckedChunk, fresh: Sequence[int]) -> None:
        ids = chunk.ids
        if self.checked_at is None:
            self.checked_at = self.store.max_position()
        recorded = self.store.content_hashes([ids[k] for k in fresh], [chunk.entries[k] for k in fresh]) if fresh else {}
        if not recorded and len(fresh) == len(ids):
            bodies = chunk.bodies or repeat(b"")
            self.new.extend(map(PreparedEvent, ids, chunk.canonical, chunk.entries, bodies, repeat(chunk.dictionary)))
            return
        for k in fresh:
            event_id = ids[k]
            if event_id not in recorded:
                self.new.append(chunk.prepared(k))
            elif recorded[event_id] == chunk.prepared(k).content_hash():
                self.skipped.append(event_id)
            else:
                self.changed.append(
                    IngestProblem(
                        chunk.where(k),
                        event_id,
                        "id",
                        "already recorded with different content; the ledger is never edited: "
                        f"add a correction event (kind: correction, corrects: {event_id}, action: amend or retract)",
                    )
                )

    def problems(self) -> list[IngestProblem]:
        """Every problem, in the order a reader fixes them: validation, duplicate ids, references, changed content."""
        self.look_up()
        known = self._known_event_ids
        outside = self.targets - self.first.keys()
        references: list[IngestProblem] = []
        if self.name_references or not outside <= known(outside):
            events = [found for chunk in self.chunks for found in chunk.events()]
            references = reference_problems(events, self.registry, known)
        return [*self.validation, *self.duplicates, *references, *self.changed]

    def _known_event_ids(self, ids: set[str]) -> set[str]:
        return set(self.store.positions_of(ids)) if ids else set()

    def commit(self, report: IngestReport, registry_entries: Sequence[tuple[str, str, dict]] = ()) -> None:
        """Append the new events and the registry entries in one transaction, adding what was done to ``report``.

        The store checks again, under its write lock, which ids are recorded if
        anything was recorded since they were checked here: an ingest of the same
        events running at the same time may have recorded some of them; those are skipped too.
        """
        self.look_up()
        appended = self.store.record(self.new, registry_entries, checked_at=self.checked_at)
        skipped_now = set(appended.skipped)
        report.positions.extend(appended.positions)
        report.appended.extend(event.event_id for event in self.new if event.event_id not in skipped_now)
        report.skipped.extend([*self.skipped, *appended.skipped])


def _append_batch(append: _Append, report: IngestReport) -> None:
    """Check a stream's batch against the store and append it, or raise :class:`IngestError` (in the appending thread)."""
    problems = append.problems()
    if problems:
        raise IngestError(problems, report)
    append.commit(report)


def _registry_with(store: LedgerStore, entries: Sequence[tuple[str, str, dict]]) -> dict[str, set[str]]:
    registry = store.registry_ids()
    for kind, key, _ in entries:
        registry.setdefault(kind, set()).add(key)
    return registry


def _workers_for(events: int, workers: int | None) -> int:
    workers = worker_count() if workers is None else workers
    return workers if events > POOL_THRESHOLD else 0


def _chunks(name: str, items: Sequence[Any], kind: str = "items") -> Iterator[ChunkTask]:
    whole = len(items)
    for start in range(0, whole, CHUNK_EVENTS):
        stop = min(start + CHUNK_EVENTS, whole)
        yield ChunkTask(kind, name, items[start:stop], start, whole, last=stop == whole)
    if not items:
        yield ChunkTask(kind, name, (), 0, 0)


# --- ingest --------------------------------------------------------------------------------


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
"""Called as ``progress(events_done, events_total)`` while events are validated.

``events_total`` counts an event file not yet read as one event, so it can grow while files are read.
"""


def ingest_paths(
    store: LedgerStore,
    paths: Iterable[str | Path],
    progress: Progress | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Validate every event under ``paths`` and append the new ones in one transaction.

    Raises :class:`IngestError` (and appends nothing) if any event is invalid,
    names something unknown, or reuses a recorded id with different content.
    ``workers`` overrides ``LEDGER_WORKERS`` (0: validate in this process).
    """
    files, found_problems = find_files(paths)
    run = _Run(store, [(-1, p) for p in found_problems])  # file-level problems, by file order
    tasks: list[ChunkTask] = []
    unread: list[str] = []
    for number, path in enumerate(files):
        name = str(path)
        run.order[name] = number
        kind = registry_kind(path.name)
        if kind or path.suffix == ".jsonl":
            try:
                content = load_file(path) if kind else read_text(path)
            except LoadError as error:
                run.placed.append((number, IngestProblem(name, None, None, f"cannot read the file: {error}")))
                continue
            if kind:
                registry_problems: list[IngestProblem] = []
                run.registry_entries.extend(validate_registry(name, kind, content, registry_problems))
                run.placed.extend((number, p) for p in registry_problems)
            else:
                lines = [line for line in content.splitlines() if line.strip()]
                tasks.extend(_chunks(name, lines, "lines"))
                run.total += len(lines)
        else:
            unread.append(name)
            if len(unread) == FILES_PER_TASK:
                tasks.append(ChunkTask("files", "", unread))
                unread = []
            run.total += 1  # corrected when the file has been read
    if unread:
        tasks.append(ChunkTask("files", "", unread))
    return run.all_at_once(tasks, _workers_for(run.total, workers), IngestReport(files=len(files)), progress)


def ingest_dicts(
    store: LedgerStore,
    events: Sequence[dict[str, Any]],
    registry: dict[str, Sequence[dict[str, Any]]] | None = None,
    name: str = "<memory>",
    workers: int | None = None,
) -> IngestReport:
    """Validate in-memory events (and registry entries by kind: actor, document, question), then append.

    The same checks and the same all-or-nothing append as :func:`ingest_paths`.
    """
    run = _Run(store)
    for kind, content in (registry or {}).items():
        problems: list[IngestProblem] = []
        run.registry_entries.extend(validate_registry(f"{name}:{kind}s", kind, list(content), problems))
        run.placed.extend((-1, problem) for problem in problems)
    events = list(events)
    run.total = len(events)
    return run.all_at_once(_chunks(name, events), _workers_for(len(events), workers), IngestReport())


def ingest_stream(
    store: LedgerStore,
    events: Iterable[dict[str, Any] | str | bytes],
    batch: int = 10_000,
    name: str = "<stream>",
    workers: int | None = None,
    on_batch: Callable[[IngestReport], None] | None = None,
) -> IngestReport:
    """Ingest a long stream of events as consecutive appends of ``batch`` events each.

    ``events`` are dicts, or JSON texts of one event each (the lines of a JSON
    Lines file, say), which the workers parse. Each batch takes the checks of
    :func:`ingest_dicts` and is appended in one transaction while the workers
    validate the next ones (and, in a thread of its own, while this process
    receives them); ``on_batch(report)`` is called after each append, with
    what the stream has done so far. The first batch with a problem raises
    :class:`IngestError` and appends nothing of it or after it; the batches
    before it stay recorded (the error's ``report`` lists them). Problems name
    events by their place in the stream: ``name[index]``.
    """
    stream = iter(events)
    head = list(islice(stream, POOL_THRESHOLD + 1))
    count = _workers_for(len(head), workers)

    def tasks() -> Iterator[ChunkTask]:
        everything, start = chain(head, stream), 0
        while items := list(islice(everything, batch)):
            for offset in range(0, len(items), CHUNK_EVENTS):
                piece = items[offset : offset + CHUNK_EVENTS]
                yield ChunkTask("json", name, piece, start + offset, -1, last=offset + CHUNK_EVENTS >= len(items))
            start += len(items)

    ahead = batch // CHUNK_EVENTS + 4 * count  # a whole batch, so the workers never wait for an append
    return _Run(store).batch_by_batch(tasks(), count, ahead, on_batch)


INGEST_GC_YOUNG = WORKER_GC_YOUNG
"""Allocations between young-generation collections of this process while it ingests (as in the workers: :data:`WORKER_GC_YOUNG`)."""


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while an ingest runs, and without walking what existed before it; then as before.

    An append makes a few tracked tuples per event that live until its batch is
    written, so collections come often, and each full one walks every object of
    the process, modules included (about a seventh of this process's time per
    event). The objects there when the ingest starts are set aside for its
    duration (``gc.freeze``, unless something else of the process froze some
    already: then they are left as they are) and given back at its end, to be
    collected as before.
    """
    threshold = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(max(INGEST_GC_YOUNG, threshold[0]), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if freeze:
            gc.unfreeze()


class _Run:
    """The one pipeline every ingest goes through: tasks validated (here or by workers), checked, appended.

    :func:`ingest_paths`, :func:`ingest_dicts` and :func:`ingest_stream` only
    turn their input into :class:`ChunkTask` s (and registry entries), then
    :meth:`all_at_once` appends everything in one transaction, or
    :meth:`batch_by_batch` appends each batch (a task marked ``last``) as it is checked.
    """

    def __init__(self, store: LedgerStore, placed: list[tuple[int, IngestProblem]] | None = None) -> None:
        self.store = store
        self.placed = placed or []  # problems found before validation, with the number of their file (for order)
        self.order: dict[str, int] = {}  # file name -> number, so problems come out in file order
        self.registry_entries: list[tuple[str, str, dict]] = []
        self.total = 0
        self.dictionary = store.compression_dictionary()

    def _compressing(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkTask]:
        """The tasks, each carrying the store's dictionary as it is when the task is handed out (so bodies are compressed with it)."""
        for task in tasks:
            yield task if self.dictionary is None else replace(task, dictionary=self.dictionary)

    def all_at_once(self, tasks: Iterable[ChunkTask], count: int, report: IngestReport, progress: Progress | None = None) -> IngestReport:
        with _fewer_collections():
            return self._all_at_once(tasks, count, report, progress)

    def _all_at_once(self, tasks: Iterable[ChunkTask], count: int, report: IngestReport, progress: Progress | None) -> IngestReport:
        report.registry_entries = len(self.registry_entries)
        append = _Append(self.store, _registry_with(self.store, self.registry_entries))
        held: list[CheckedChunk] = []  # the chunks of a file read so far: added once all of it parsed
        done = 0
        for found in _waited(_checked(self._compressing(tasks), count), report):
            for chunk in found:
                if chunk.whole_file:
                    self.total += chunk.count - 1
                held.append(chunk)
                if chunk.last:
                    self._add_file(append, held)
                    held = []
            done += sum(chunk.count for chunk in found)
            if progress:
                progress(done, self.total)
        self.placed.sort(key=lambda item: item[0])
        problems = [problem for _, problem in self.placed] + append.problems()
        if problems:
            raise IngestError(problems)
        append.commit(report, self.registry_entries)
        return report

    def batch_by_batch(
        self, tasks: Iterable[ChunkTask], count: int, ahead: int, on_batch: Callable[[IngestReport], None] | None
    ) -> IngestReport:
        with _fewer_collections():
            return self._batch_by_batch(tasks, count, ahead, on_batch)

    def _batch_by_batch(
        self, tasks: Iterable[ChunkTask], count: int, ahead: int, on_batch: Callable[[IngestReport], None] | None
    ) -> IngestReport:
        report = IngestReport()
        registry = self.store.registry_ids()
        append = _Append(self.store, registry)
        with ThreadPoolExecutor(1, thread_name_prefix="ledger-append") as appender:
            appending: Future[None] | None = None
            for found in _waited(_checked(self._compressing(tasks), count, ahead), report):
                if appending is not None and appending.done():
                    self._appended(appending, on_batch, report)  # a refused batch stops the stream now
                    appending = None
                for chunk in found:
                    append.add(chunk)
                    if not chunk.last:
                        continue
                    if appending is not None:
                        self._appended(appending, on_batch, report)
                    appending = appender.submit(_append_batch, append, report)
                    append = _Append(self.store, registry)
            if appending is not None:
                self._appended(appending, on_batch, report)
        return report

    def _appended(self, appending: Future[None], on_batch: Callable[[IngestReport], None] | None, report: IngestReport) -> None:
        """Wait for a batch's append (raising what refused it), then tell ``on_batch``."""
        appending.result()
        if self.dictionary is None:
            self.dictionary = self.store.compression_dictionary()  # trained by the first large enough append
        if on_batch:
            on_batch(report)

    def _add_file(self, append: _Append, held: list[CheckedChunk]) -> None:
        """Check a whole file's chunks, or place its read error (one bad line spoils a JSON Lines file)."""
        errors = [chunk.read_error for chunk in held if chunk.read_error is not None]
        if errors:
            name = held[-1].name
            self.placed.append((self.order.get(name, 0), IngestProblem(name, None, None, f"cannot read the file: {errors[0]}")))
            return
        for chunk in held:
            append.add(chunk)
        append.look_up()  # while the workers validate the next chunks
