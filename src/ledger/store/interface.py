"""What a store backend must do: the one interface between the ledger and where its events are kept.

Everything outside ``ledger.store`` reads and writes stored events only through
these methods (usually through the :class:`ledger.store.LedgerStore` facade),
never with SQL against the store's tables, so a backend is one class:
SQLite now (:mod:`ledger.store.recorder`), PostgreSQL next.

The vocabulary every backend shares:

- **position**: the order of recording, 1, 2, 3, ... with no gaps, never
  reused. An append takes the next consecutive positions, all or nothing.
- **batch**: the first position of the append (transaction) that recorded an
  event; every event of one append has the same batch.
- **recorded_at**: the append's time, an ISO 8601 string in UTC
  (``datetime.isoformat()`` of an aware UTC datetime), so strings sort as times.
- **canonical bytes**: :func:`ledger.store.codec.canonical_bytes` of the event
  dict; the content hash is their SHA-256 (hex), and the hash chain is
  ``chain[p] = SHA-256(chain[p-1] || canonical[p])`` with ``chain[0]`` 32 zero
  bytes, kept as hex. Two backends holding the same events in the same order
  have the same head.
- **registry**: reference data (actors, documents, questions) keyed by
  ``(kind, id)``, each entry a JSON object; an entry may be replaced, never removed.

Guarantees a backend gives (the contract tests check them on every backend):

- :meth:`StoreBackend.append` writes the events, their chain entries and the
  registry entries in ONE transaction: a writer killed mid-append leaves none of them.
- Appends are serialised: concurrent writers never fork the chain, leave a gap
  or record an event id twice. Inside the write lock an append checks again
  which ids are already recorded: those with the same content are skipped,
  one with different content raises :class:`DuplicateEvent` and nothing is written.
- Stored events and chain entries cannot be updated or deleted (enforced by the
  database itself, e.g. triggers).

Readers are cheap to open (:class:`StoreReader`, e.g. one per worker process)
and never import the event-sourcing library; only a writing backend does.

A backend module (``ledger.store.recorder`` for SQLite, ``ledger.store.postgres``)
provides two functions, which :func:`ledger.store.open_store` and
:func:`ledger.store.open_reader` pick by the location (a ``postgresql://`` URL
or a file path):

- ``open_backend(location: str, create: bool) -> StoreBackend`` (``create``
  False: raise :class:`StoreError` when there is no ledger there);
- ``open_reader(location: str) -> StoreReader``.

How a backend stores an event's bytes is its own business (SQLite keeps them
zstd-compressed, :mod:`ledger.store.codec`); what it returns is the event dict
whose canonical bytes were hashed.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


class StoreError(Exception):
    """A problem with the store a user can act on (bad setting, missing database...)."""


class DuplicateEvent(StoreError):
    """An append named event ids the store already holds with different content; nothing was appended."""

    def __init__(self, event_ids: Sequence[str]) -> None:
        self.event_ids = list(event_ids)
        shown = ", ".join(self.event_ids[:5]) + (" ..." if len(self.event_ids) > 5 else "")
        super().__init__(f"already recorded with different content: {shown}; record a correction event instead")


class PreparedEvent(NamedTuple):
    """A validated event reduced to what the append needs: its id and its canonical bytes.

    Pure to compute (:func:`ledger.store.codec.prepare_event`), so it can be made in another process;
    so can what the append would otherwise compute from them, which a backend
    uses when given: ``entry`` (:func:`ledger.store.entry_hex` of the id) and ``body``, the state's
    compressed frame made with dictionary ``dictionary`` of the store (used only when the append
    compresses with that one). The content hash is taken only when an append needs it (an id found recorded).
    A named tuple: an ingest makes one per event, and a tuple is the cheapest to make.
    """

    event_id: str
    canonical: bytes
    entry: str = ""
    body: bytes = b""
    dictionary: int = -1

    def content_hash(self) -> str:
        """The hex SHA-256 of the canonical bytes."""
        import hashlib  # here, not at the top: reading a store's head (a replay's start-up) never loads OpenSSL

        return hashlib.sha256(self.canonical).hexdigest()


RegistryEntry = tuple[str, str, dict[str, Any]]
"""One registry entry: (kind, id, data)."""


class Appended(NamedTuple):
    """What an append did: the positions it recorded, and the ids it skipped as already recorded with the same content."""

    positions: list[int]
    skipped: list[str]


class Head(NamedTuple):
    """The last recorded position and its chain hash: ``Head(0, None)`` for an empty store."""

    position: int
    chain_hash: str | None


class Batch(NamedTuple):
    """One append (transaction): positions ``start`` to ``end``."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1


class RecordedEvent(NamedTuple):
    """An event as the store holds it: where, when and in which append it was recorded, and the chain hash there."""

    position: int
    recorded_at: str
    batch: int
    chain_hash: str
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def event(self) -> Any:
        """The event parsed into the vocabulary's model (:func:`ledger.events.parse_event`)."""
        from ledger import events as vocabulary

        return vocabulary.parse_event(self.data)


@dataclass(frozen=True)
class Verification:
    """The result of recomputing the hash chain: ``ok`` and the head, or where and why it first fails."""

    ok: bool
    count: int
    head: str | None
    first_bad_position: int | None = None
    reason: str | None = None


class StoreReader(abc.ABC):
    """Reading a store: everything the ingest, the read model, the fold and the proofs need.

    ``location`` is what :func:`ledger.store.open_reader` opens again (a file
    path, a database URL), so worker processes can open their own reader.
    Positions outside the store are simply not found (no error).
    """

    location: str

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection(s). The reader is not used after."""

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the chain ---------------------------------------------------------------------------

    @abc.abstractmethod
    def head(self) -> Head:
        """The last position and its chain hash (``Head(0, None)`` when empty)."""

    @abc.abstractmethod
    def chain_hash(self, position: int) -> str | None:
        """The chain hash at ``position``, or None if there is no such position."""

    @abc.abstractmethod
    def count(self) -> int:
        """How many events are recorded."""

    # -- events --------------------------------------------------------------------------------

    @abc.abstractmethod
    def batches(self, after: int = 0) -> list[Batch]:
        """The appends that recorded positions after ``after``, in order.

        Callers pass 0 or the end of an append they have seen, so every batch returned lies wholly after ``after``.
        """

    @abc.abstractmethod
    def events(self, start: int, end: int | None = None) -> Iterator[RecordedEvent]:
        """Recorded events with ``start <= position <= end`` (``end`` None: to the head), in position order.

        Streams: a backend reads in pages, so a whole ledger can be iterated in bounded memory.
        """

    @abc.abstractmethod
    def events_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The event dicts at these positions, by position (any order, any number)."""

    @abc.abstractmethod
    def positions_of(self, event_ids: Iterable[str], up_to: int | None = None) -> dict[str, int]:
        """The positions of these event ids (those recorded, at or before ``up_to`` if given)."""

    @abc.abstractmethod
    def content_hashes(self, event_ids: Iterable[str], entries: Sequence[str] | None = None) -> dict[str, str]:
        """The content hash (hex SHA-256 of the canonical bytes) of each of these ids already recorded.

        ``entries``, when given, are the ids' :func:`~ledger.store.codec.entry_hex` in the same order (computed
        beforehand, e.g. by validation workers); a backend that finds events by entry id uses them.
        """

    def compression_dictionary(self) -> tuple[int, bytes] | None:
        """The dictionary the next append compresses states with, as (id, bytes), if the backend compresses with one.

        So that the states' bodies can be compressed beforehand (:class:`PreparedEvent`); None: not known yet, or not used.
        """
        return None

    @abc.abstractmethod
    def get(self, event_id: str) -> RecordedEvent | None:
        """The recorded event with this id, or None."""

    @abc.abstractmethod
    def batch_start(self, position: int) -> int | None:
        """The first position of the append holding ``position`` (or the first append after it); None past the head."""

    @abc.abstractmethod
    def position_at(self, timestamp: str) -> int:
        """The first position recorded after ``timestamp`` (ISO, UTC), or head + 1 if none was."""

    # -- the registry ----------------------------------------------------------------------------

    @abc.abstractmethod
    def registry(self, kind: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """Registry entries by kind, then id (only ``kind`` if given)."""

    @abc.abstractmethod
    def registry_ids(self) -> dict[str, set[str]]:
        """The ids in each registry kind, without the entries' bodies (what reference checks need)."""

    @abc.abstractmethod
    def registry_mark(self) -> str:
        """A short string that changes whenever the registry does (readers copy the registry again when it changed)."""

    # -- the Merkle log --------------------------------------------------------------------------
    # One leaf per entry in recorded order (ledger.store.log says what each leaf covers); leaves count
    # from 0 and the log's size is its number of leaves. A backend keeps the leaf hashes (32 bytes, RFC 9162
    # leaf hashes of the leaf inputs) and writes them in the append's own transaction: the registry
    # entries that are new or changed first, then the events in position order. Leaves and checkpoints
    # are never updated or deleted.

    @abc.abstractmethod
    def log_size(self) -> int:
        """How many leaves the log has."""

    @abc.abstractmethod
    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        """The first ``size`` leaf hashes (all by default), in leaf order, as stored."""

    @abc.abstractmethod
    def leaf_inputs(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int | None, bytes | None]]:
        """``(leaf, position, leaf input)`` for ``start <= leaf < end`` in order, the inputs rebuilt from the entries as stored now.

        ``position`` is the event's (None for a registry entry's leaf); the input is
        None when the stored event a leaf names is gone. Streams, like :meth:`events`.
        """

    def leaf_input(self, leaf: int) -> bytes:
        """The leaf input of one entry (what its leaf hash is over)."""
        for _, _, leaf_input in self.leaf_inputs(leaf, leaf + 1):
            if leaf_input is not None:
                return leaf_input
        raise StoreError(f"no entry at leaf {leaf}")

    @abc.abstractmethod
    def leaf_of(self, event_id: str) -> int | None:
        """The leaf index of a recorded event, or None."""

    @abc.abstractmethod
    def log_position(self, size: int) -> int:
        """The last event position among the first ``size`` leaves (0: none)."""

    @abc.abstractmethod
    def checkpoints(self) -> list[str]:
        """Every checkpoint made of this ledger (the file's text), oldest first."""

    # -- checking ----------------------------------------------------------------------------

    @abc.abstractmethod
    def verify(self) -> Verification:
        """Recompute every content hash and the chain from the stored events; report the first position that fails."""


class StoreBackend(StoreReader):
    """A store that can be written: a reader plus the one append."""

    @abc.abstractmethod
    def append(
        self,
        prepared: Sequence[PreparedEvent],
        registry: Sequence[RegistryEntry] = (),
        recorded_at: datetime | None = None,
        checked_at: int | None = None,
    ) -> Appended:
        """Record events and registry entries in ONE transaction; return the positions recorded and the ids skipped.

        Takes the store's write lock first, so concurrent appends queue (waiting,
        not failing, for a reasonable time), then checks inside the lock which
        ids are already recorded: an id with the same content hash is skipped
        (listed in ``skipped``), one with a different hash raises
        :class:`DuplicateEvent` and nothing is written. The rest get the next
        consecutive positions, in the order given. ``recorded_at`` (aware, UTC;
        default now) is the append's time. Registry entries replace entries
        with the same (kind, id). ``prepared`` may be empty (a registry-only
        append records no position).

        ``checked_at``: the head position at which the caller found none of
        these ids recorded (:meth:`content_hashes`). If the head is still
        there inside the lock, nothing was recorded since, and a backend may
        skip looking them up again; if it moved, they are looked up as usual.
        """

    @abc.abstractmethod
    def put_checkpoint(self, size: int, root: str, time: str, key_id: str | None, document: str) -> None:
        """Keep a checkpoint made of this ledger (size, root in hex, time, key id, the file's text), in its own transaction; append-only."""


def unrecorded(prepared: Sequence[PreparedEvent], recorded: Mapping[str, str]) -> tuple[list[int], list[str]]:
    """What an append records, given the content hashes of its ids already ``recorded``: every backend's rule.

    Returns the indexes of the events to record (the first of each id not
    recorded yet) and the ids skipped (recorded, or given earlier in the same
    append, with the same content); an id with other content raises
    :class:`DuplicateEvent`, so nothing is written.
    """
    if not recorded and len({event.event_id for event in prepared}) == len(prepared):
        return list(range(len(prepared))), []  # the usual case: nothing recorded, no id given twice
    fresh: list[int] = []
    skipped: list[str] = []
    conflicts: list[str] = []
    first: dict[str, int] = {}  # id -> index of its first event in this append
    for index, event in enumerate(prepared):
        known = recorded.get(event.event_id)
        if known is None:
            earlier = first.setdefault(event.event_id, index)
            if earlier == index:
                fresh.append(index)  # the usual case: nothing to hash
                continue
            known = prepared[earlier].content_hash()
        if known == event.content_hash():
            skipped.append(event.event_id)
        else:
            conflicts.append(event.event_id)
    if conflicts:
        raise DuplicateEvent(conflicts)
    return fresh, skipped


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (for ``IN (...)`` lists under a parameter limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
