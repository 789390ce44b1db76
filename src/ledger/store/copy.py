"""Copying a ledger between stores (SQLite to PostgreSQL and back), append by append.

The copy replays the source's appends in recorded order, each as one append
of the destination with the source's recorded time, so the destination holds
the same events at the same positions, in the same batches, recorded at the
same times, with the same registry: the same chain, hence the same head, and
(both backends compressing the same way) the same stored bytes.

A destination that already holds the start of the source (an earlier copy)
is brought up to date: only the appends after its head are copied. One that
holds anything else is refused before anything is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ledger.store import open_reader, open_store
from ledger.store.codec import prepare_event
from ledger.store.interface import RegistryEntry, StoreError


@dataclass(frozen=True)
class CopyReport:
    """What a copy did and where both ledgers ended."""

    source: str
    destination: str
    copied: int
    batches: int
    registry: int
    count: int
    head: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def copy_ledger(source: str, destination: str, progress: Callable[[int, int], None] | None = None) -> CopyReport:
    """Copy every append of ``source`` the destination lacks; check that both chains end at the same head.

    ``progress(done, total)`` is called after each append with the positions copied so far.
    Raises :class:`StoreError` when the destination diverges from the source or
    the heads differ after the copy.
    """
    started = time.perf_counter()
    if same_location(source, destination):
        raise StoreError(f"{shown(source)} is both the source and the destination: nothing to copy")
    with open_reader(source) as reader, open_store(destination) as store:
        target = store.backend
        start = target.head()
        if start.position and reader.chain_hash(start.position) != start.chain_hash:
            raise StoreError(
                f"{shown(destination)} holds other events than {shown(source)} (its head is not in the source's chain): nothing copied"
            )
        batches = reader.batches(after=start.position)
        if batches and batches[0].start != start.position + 1:
            raise StoreError(f"{shown(destination)} ends inside one of {shown(source)}'s appends: nothing copied")
        registry: list[RegistryEntry] = [(kind, key, data) for kind, entries in reader.registry().items() for key, data in entries.items()]
        registry_size = len(registry)
        total = batches[-1].end - start.position if batches else 0
        copied = 0
        for batch in batches:
            recorded = list(reader.events(batch.start, batch.end))
            appended = target.append(
                [prepare_event(event.data) for event in recorded], registry, recorded_at=datetime.fromisoformat(recorded[0].recorded_at)
            )
            if appended.positions != list(range(batch.start, batch.end + 1)):
                raise StoreError(
                    f"positions {batch.start}-{batch.end} of {shown(source)} did not keep their positions in {shown(destination)}"
                )
            registry = []  # the registry travels with the first append
            copied += len(recorded)
            if progress:
                progress(copied, total)
        if registry:
            target.append([], registry)
        head, source_head = target.head(), reader.head()
        verification = target.verify()
        if head != source_head or not verification.ok or verification.head != source_head.chain_hash:
            raise StoreError(
                f"after the copy {shown(destination)} ends at {head.chain_hash} (verify: {verification.reason or 'ok'}), "
                f"{shown(source)} at {source_head.chain_hash}"
            )
    seconds = time.perf_counter() - started
    return CopyReport(shown(source), shown(destination), copied, len(batches), registry_size, head.position, head.chain_hash, seconds)


def same_location(first: str, second: str) -> bool:
    """Whether two locations name the same store (the same file, or the same URL)."""
    if first == second:
        return True
    paths = not first.startswith(("postgresql://", "postgres://")) and os.path.exists(first) and os.path.exists(second)
    return bool(paths) and os.path.samefile(first, second)


def shown(location: str) -> str:
    """A location as messages and reports show it: a database URL without its password."""
    from ledger.store.postgres import is_postgres_url, redacted

    return redacted(location) if is_postgres_url(location) else location
