"""The bytes of a stored event: canonical JSON (what is hashed) and the compressed state (what is kept).

An event's **canonical bytes** (:func:`canonical_bytes`) are what its content
hash, the hash chain and every proof are over. What SQLite keeps in
``stored_events.state`` is those bytes compressed (:class:`StateCodec`): a
short header naming the zstd dictionary it was written with and the recorded
time, then a zstd frame. The dictionaries are trained on the ledger's own
events (:func:`train_dictionary`) and kept in the store, so the file describes
itself.

Nothing here touches a database or the event-sourcing library: a codec is
given a function that loads the store's dictionaries when a state names one
it has not seen.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import zstandard

from ledger.store.interface import PreparedEvent, StoreError

ENTRY_TOPIC = "ledger.store:Entry"
"""The library topic of an entry's aggregate, as every store has recorded it since the first version."""
RECORDED_TOPIC = "ledger.store:Entry.Recorded"
"""The library topic of an entry's one event (``stored_events.topic``)."""

STATE_ZSTD = 1
STATE_HEADER = struct.Struct(">BHq")
"""Header of a compressed state: the form (:data:`STATE_ZSTD`), the dictionary id (0: none), the recorded time in µs."""
COMPRESSION_LEVEL = 3
DICTIONARY_SIZE = 64 * 1024
TRAINING_MIN = 1_000
"""A store trains its dictionary with the first append that brings it to this many events."""
TRAINING_SAMPLES = 10_000
"""How many of the most recent events (this append's, then stored ones) the dictionary is trained on."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


LEDGER_NAMESPACE = uuid.UUID("6f1d3c1e-8a51-4a47-9d1e-2d3b9c0b7a10")


def entry_id(event_id: str) -> uuid.UUID:
    """The aggregate id under which an event with this slug is stored (a UUID version 5)."""
    return uuid.UUID(entry_hex(event_id))


_NAMESPACE_SHA1 = hashlib.sha1(LEDGER_NAMESPACE.bytes)


def entry_hex(event_id: str) -> str:
    """:func:`entry_id` as the 32 hex digits the table holds, without building a UUID object."""
    sha1 = _NAMESPACE_SHA1.copy()
    sha1.update(event_id.encode())
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()


def canonical_bytes(data: Any) -> bytes:
    """The canonical JSON encoding hashed into the chain: sorted keys, no spaces, UTF-8.

    Byte for byte what ``json.dumps(data, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` gives for the strings, integers, lists and mappings an
    event is made of; orjson only makes it fast.
    """
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def content_hash(data: dict[str, Any]) -> str:
    """The hex SHA-256 of an event's canonical bytes."""
    return hashlib.sha256(canonical_bytes(data)).hexdigest()


def prepare_event(data: dict[str, Any]) -> PreparedEvent:
    """The :class:`~ledger.store.interface.PreparedEvent` of a validated, JSON-ready event dict."""
    return PreparedEvent(data["id"], canonical_bytes(data))


def recorded_us(recorded_at: datetime) -> int:
    """An aware time as whole microseconds since 1970 UTC (the header's recorded time)."""
    return (recorded_at - EPOCH) // MICROSECOND


def library_state(canonical: bytes, recorded_at: str) -> bytes:
    """The state eventsourcing decodes into an entry's ``Recorded`` event.

    The canonical JSON of ``{content_hash, event, originator_topic, timestamp}``,
    assembled around the event's canonical bytes; it is also how states were
    stored before they were compressed.
    """
    return (
        b'{"content_hash":"'
        + hashlib.sha256(canonical).hexdigest().encode()
        + b'","event":'
        + canonical
        + b',"originator_topic":'
        + orjson.dumps(ENTRY_TOPIC)
        + b',"timestamp":'
        + canonical_bytes({"_type_": "datetime_iso", "_data_": recorded_at})
        + b"}"
    )


def train_dictionary(samples: list[Any], dictionary_id: int) -> bytes | None:
    """A zstd dictionary trained on these canonical events, or None if zstd cannot train one from them.

    Deterministic: one parameter set (no search) and one thread, so the same
    samples always give the same bytes.
    """
    size = min(DICTIONARY_SIZE, sum(map(len, samples)) // 4)
    try:
        trained = zstandard.train_dictionary(
            size, samples, k=1024, d=8, split_point=1.0, dict_id=dictionary_id, level=COMPRESSION_LEVEL, threads=0
        )
    except zstandard.ZstdError:
        return None
    return trained.as_bytes()


def compressor(dictionary: zstandard.ZstdCompressionDict | None) -> zstandard.ZstdCompressor:
    """The one way states are compressed (with ``dictionary``, or none): the same bytes in every process."""
    if dictionary is not None:
        dictionary.precompute_compress(level=COMPRESSION_LEVEL)
    return zstandard.ZstdCompressor(
        level=COMPRESSION_LEVEL, dict_data=dictionary, write_checksum=False, write_content_size=True, write_dict_id=False
    )


class BodyCompressor:
    """Compresses canonical events into state bodies (a state less its header) away from the store, e.g. in a worker.

    A state's header holds the append's recorded time, known only when the
    store appends; the body (the zstd frame) depends only on the dictionary,
    so it can be made beforehand, alongside validation (:class:`~ledger.store.interface.PreparedEvent`).
    The last dictionary's compressor is kept: workers get the same dictionary task after task.
    """

    def __init__(self) -> None:
        self._last: tuple[bytes, zstandard.ZstdCompressor] | None = None

    def bodies(self, dictionary: bytes, canonical: Iterable[bytes]) -> list[bytes]:
        if self._last is None or self._last[0] != dictionary:
            self._last = (dictionary, compressor(zstandard.ZstdCompressionDict(dictionary)))
        return list(map(self._last[1].compress, canonical))


class StateCodec:
    """Encodes and decodes ``stored_events.state``.

    A state is in one of two forms:

    - compressed: :data:`STATE_HEADER` (form ``1``, the id of the dictionary it
      was compressed with or 0 for none, the recorded time in microseconds
      since 1970 UTC), then a zstd frame of the event's canonical bytes (the
      bytes the hash chain covers);
    - plain: :func:`library_state`, JSON starting with ``{``, as stores
      written before compression hold.

    :meth:`decompress` gives the plain form of either, which is what the
    event-sourcing library's mapper reads (the recorder hands it this codec as
    its compressor), so ``repository.get`` works as usual.

    ``load`` returns the store's ``(id, dictionary)`` rows; it is called when a
    state names a dictionary this codec has not seen yet.
    """

    def __init__(self, load: Callable[[], Iterable[tuple[int, bytes]]]) -> None:
        self._load = load
        self._dictionaries: dict[int, zstandard.ZstdCompressionDict] = {}
        self._decompressors = {0: zstandard.ZstdDecompressor()}
        self._compressors: dict[int, zstandard.ZstdCompressor] = {}

    def add(self, dictionary_id: int, dictionary: bytes) -> None:
        """Make a dictionary of the store known to this codec."""
        known = self._dictionaries.get(dictionary_id)
        if known is None or known.as_bytes() != dictionary:
            self.forget(dictionary_id)
            prepared = zstandard.ZstdCompressionDict(dictionary)
            self._dictionaries[dictionary_id] = prepared
            self._decompressors[dictionary_id] = zstandard.ZstdDecompressor(dict_data=prepared)

    def forget(self, dictionary_id: int) -> None:
        """Drop a dictionary this codec was given but the store did not keep (its append failed)."""
        self._dictionaries.pop(dictionary_id, None)
        self._decompressors.pop(dictionary_id, None)
        self._compressors.pop(dictionary_id, None)

    def knows(self, dictionary_id: int) -> bool:
        return dictionary_id in self._decompressors

    def _decompressor(self, dictionary_id: int) -> zstandard.ZstdDecompressor:
        if dictionary_id not in self._decompressors:
            for key, dictionary in self._load():
                self.add(key, dictionary)
            if dictionary_id not in self._decompressors:
                raise StoreError(f"a stored event names compression dictionary {dictionary_id}, which this store does not hold")
        return self._decompressors[dictionary_id]

    def _compressor(self, dictionary_id: int) -> zstandard.ZstdCompressor:
        if dictionary_id not in self._compressors:
            self._decompressor(dictionary_id)  # loads the dictionary if need be
            self._compressors[dictionary_id] = compressor(self._dictionaries.get(dictionary_id))
        return self._compressors[dictionary_id]

    def dictionary(self, dictionary_id: int) -> bytes | None:
        """The bytes of a dictionary this codec knows (None for id 0, or one it has not loaded)."""
        known = self._dictionaries.get(dictionary_id)
        return None if known is None else known.as_bytes()

    def encoder(self, dictionary_id: int, recorded_us: int) -> Callable[[bytes], bytes]:
        """A function from canonical event bytes to the compressed state, for events recorded together."""
        header = STATE_HEADER.pack(STATE_ZSTD, dictionary_id, recorded_us)
        compress = self._compressor(dictionary_id).compress
        return lambda canonical: header + compress(canonical)

    def states(self, prepared: Sequence[PreparedEvent], dictionary_id: int, recorded_us: int) -> list[bytes]:
        """The compressed states of events recorded together: the body made beforehand when it used this dictionary."""
        header = STATE_HEADER.pack(STATE_ZSTD, dictionary_id, recorded_us)
        compress = self._compressor(dictionary_id).compress
        return [
            header + (event.body if event.body and event.dictionary == dictionary_id else compress(event.canonical)) for event in prepared
        ]

    def encode(self, canonical: bytes, recorded_us: int, dictionary_id: int = 0) -> bytes:
        """The compressed state of one event."""
        return self.encoder(dictionary_id, recorded_us)(canonical)

    @staticmethod
    def header(state: bytes) -> tuple[int, int]:
        """The dictionary id and recorded time (µs since 1970 UTC) of a compressed state."""
        form, dictionary_id, recorded_us = STATE_HEADER.unpack_from(state)
        if form != STATE_ZSTD:
            raise StoreError(f"unknown stored form {form}: this store was written by a newer version of ledger")
        return dictionary_id, recorded_us

    def canonical(self, state: bytes) -> bytes:
        """The canonical bytes of the stored event (the bytes its content hash is over)."""
        if state[:1] == b"{":
            return canonical_bytes(orjson.loads(state)["event"])
        dictionary_id, _ = self.header(state)
        return self._decompressor(dictionary_id).decompress(state[STATE_HEADER.size :])

    def event(self, state: bytes) -> dict[str, Any]:
        """The stored event as a dict."""
        if state[0] == STATE_ZSTD:
            dictionary_id = STATE_HEADER.unpack_from(state)[1]
            decompressor = self._decompressors.get(dictionary_id) or self._decompressor(dictionary_id)
            return orjson.loads(decompressor.decompress(state[STATE_HEADER.size :]))
        if state[:1] == b"{":
            return orjson.loads(state)["event"]
        return orjson.loads(self.canonical(state))  # raises the unknown-form error

    def decompress(self, data: bytes) -> bytes:
        """The plain (library) form of a state."""
        if data[:1] == b"{":
            return data
        dictionary_id, recorded_us = self.header(data)
        canonical = self._decompressor(dictionary_id).decompress(data[STATE_HEADER.size :])
        return library_state(canonical, (EPOCH + recorded_us * MICROSECOND).isoformat())

    def compress(self, data: bytes) -> bytes:
        """States the library would write itself stay plain, which every reader reads."""
        return data
