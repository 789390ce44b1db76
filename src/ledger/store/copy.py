"""Copying a ledger between stores (SQLite to PostgreSQL and back), append by append.

The copy replays the source's appends in recorded order, each as one append
of the destination with the source's recorded time, so the destination holds
the same events at the same positions, in the same batches, recorded at the
same times, with the same registry changes at the same times (read from the
source's Merkle log): the same chain and the same log, hence the same head
and root, and (both backends compressing the same way) the same stored bytes.

A destination that already holds the start of the source (an earlier copy)
is brought up to date: only the appends after its head and its log are copied. One that
holds anything else is refused before anything is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from ledger.store import open_reader, open_store
from ledger.store.codec import prepare_event
from ledger.store.interface import Batch, RegistryEntry, StoreError, StoreReader
from ledger.store.locations import display_location


@dataclass(frozen=True)
class CopyReport:
    """What a copy did and where both ledgers ended."""

    source: str
    destination: str
    copied: int
    batches: int
    """Appends made in the destination (registry-only ones included)."""
    registry: int
    count: int
    head: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_ledger(source: str, destination: str, progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy every append of ``source`` the destination lacks; check that both end at the same head and the same log.

    The source's Merkle log says what each append wrote (registry changes, then
    events), so each is replayed as it was: the destination gets the same
    leaves, hence the same log root, as well as the same chain.
    ``progress(done, total)`` is called after each append with the events copied so far.
    Raises :class:`StoreError` when the destination diverges from the source or
    the two differ after the copy.
    """
    started = time.perf_counter()
    if same_location(source, destination):
        raise StoreError(f"{display_location(source)} is both the source and the destination: nothing to copy")
    with open_reader(source) as reader, open_store(destination) as store:
        target = store.backend
        start, leaves = target.head(), target.log_size()
        if (start.position and reader.chain_hash(start.position) != start.chain_hash) or reader.leaf_hashes(leaves) != target.leaf_hashes():
            raise StoreError(f"{display_location(destination)} holds other entries than {display_location(source)}: nothing copied")
        batches = reader.batches(after=start.position)
        if batches and batches[0].start != start.position + 1:
            raise StoreError(f"{display_location(destination)} ends inside one of {display_location(source)}'s appends: nothing copied")
        total = batches[-1].end - start.position if batches else 0
        copied = registry_entries = appends = 0
        for registry, batch, recorded_at in source_appends(reader, leaves, {batch.start: batch for batch in batches}):
            recorded = list(reader.events(batch.start, batch.end)) if batch else []
            appended = target.append(
                [prepare_event(event.data) for event in recorded], registry, recorded_at=datetime.fromisoformat(recorded_at)
            )
            if batch and appended.positions != list(range(batch.start, batch.end + 1)):
                raise StoreError(
                    f"positions {batch.start}-{batch.end} of {display_location(source)} did not keep their positions in {display_location(destination)}"
                )
            copied, registry_entries, appends = copied + len(recorded), registry_entries + len(registry), appends + 1
            if progress:
                progress(copied, total)
        head, source_head = target.head(), reader.head()
        verification = target.verify()
        same_log = target.leaf_hashes() == reader.leaf_hashes()
        if head != source_head or not verification.ok or verification.head != source_head.chain_hash or not same_log:
            raise StoreError(
                f"after the copy {display_location(destination)} ends at {head.chain_hash} (verify: {verification.reason or 'ok'}, "
                f"same log: {same_log}), {display_location(source)} at {source_head.chain_hash}"
            )
    seconds = time.perf_counter() - started
    return CopyReport(
        display_location(source), display_location(destination), copied, appends, registry_entries, head.position, head.chain_hash, seconds
    )


def source_appends(
    reader: StoreReader, after_leaf: int, batches: dict[int, Batch]
) -> Iterator[tuple[list[RegistryEntry], Batch | None, str]]:
    """The source's appends from leaf ``after_leaf`` on, read from its log: (registry changes, batch of events or None, recorded time).

    Registry leaves carry their entry and time; an event leaf that starts a
    batch starts an append (with the registry changes just before it, which
    were written in the same transaction, at the same time).
    """
    registry: list[RegistryEntry] = []
    registry_at: str | None = None
    for _, position, leaf_input in reader.leaf_inputs(after_leaf):
        if position is None:
            entry = orjson.loads(leaf_input or b"{}")
            if registry and entry["recorded_at"] != registry_at:
                yield registry, None, registry_at or entry["recorded_at"]
                registry = []
            registry.append((entry["kind"], entry["id"], entry["data"]))
            registry_at = entry["recorded_at"]
        elif position in batches:
            batch = batches[position]
            recorded_at = orjson.loads(leaf_input or b"{}")["recorded_at"]
            if registry and registry_at != recorded_at:
                yield registry, None, registry_at or recorded_at
                registry = []
            yield registry, batch, recorded_at
            registry = []
    if registry:
        yield registry, None, registry_at or ""


def same_location(first: str, second: str) -> bool:
    """Whether two locations name the same store (the same file, or the same URL)."""
    if first == second:
        return True
    paths = not first.startswith(("postgresql://", "postgres://")) and os.path.exists(first) and os.path.exists(second)
    return bool(paths) and os.path.samefile(first, second)
