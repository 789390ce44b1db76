"""The event-sourcing library's view of the store: each ledger event is an :class:`Entry` aggregate's creation event.

Only this module imports eventsourcing, and only when something asks for the
library's application (``LedgerStore.app``), so reading and appending stay light.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Compressor
from eventsourcing.utils import register_topic

from ledger.store.codec import ENTRY_TOPIC, RECORDED_TOPIC, StateCodec


class Entry(Aggregate, created_event_name="Recorded"):
    """One ledger event, recorded once and never changed."""

    def __init__(self, event: dict[str, Any], content_hash: str) -> None:
        self.event = event
        self.content_hash = content_hash


# Stores name these classes by the topics they had when they lived in ledger.store itself.
register_topic(ENTRY_TOPIC, Entry)
register_topic(RECORDED_TOPIC, Entry.Recorded)  # type: ignore[attr-defined]  # made by the created_event_name class argument


class CodecCompressor(Compressor):
    """The store's :class:`StateCodec` as the library's compressor: the mapper reads compressed states through it."""

    def __init__(self, codec: StateCodec) -> None:
        self.codec = codec

    def compress(self, data: bytes) -> bytes:
        return self.codec.compress(data)

    def decompress(self, data: bytes) -> bytes:
        return self.codec.decompress(data)


class LedgerApplication(Application[uuid.UUID]):
    """The eventsourcing application over a store file (``repository.get`` works as usual)."""

    name = "ledger"


def application(path: str, codec: StateCodec) -> LedgerApplication:
    """The library's application over the SQLite store at ``path``, decoding states with ``codec``."""
    app = LedgerApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path, "IS_SNAPSHOTTING_ENABLED": "n"})
    app.mapper.compressor = CodecCompressor(codec)
    return app
