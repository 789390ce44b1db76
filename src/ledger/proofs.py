"""Signed checkpoints and proofs over the ledger's Merkle log: what lets anyone check, without trusting the database, what the ledger said.

The store keeps an RFC 9162 Merkle log (:mod:`ledger.merkle`) with one leaf per
entry in recorded order: every event (its canonical bytes with its position and
recorded time) and every new or changed registry entry. On top of it:

- a **checkpoint** is a signed tree head: the log's size and root, the last
  event position it covers, the time, the signing key's id and public key, and
  the roots of the perfect subtrees the log splits into (its *frontier*, a few
  dozen hashes at most), which say where a later ledger first differs. It is a
  small file meant to be published elsewhere (a git repository, a website); the
  store keeps a copy, append-only.
- :func:`check_checkpoints` proves with a consistency proof that today's
  ledger extends a checkpointed one; a rewritten, truncated or rebuilt ledger
  fails, and the frontier names the first stretch of entries that differs.
- an **inclusion proof** (:func:`prove`) holds an entry's leaf input (the event
  with its position and recorded time), its leaf index, the audit path and the
  signed checkpoint; :func:`verify_proof` checks it with no database at hand.

Keys are Ed25519 (``cryptography``, the Python Cryptographic Authority's
library: maintained, wheels for every platform, one dependency for keys and
signatures). Checkpoint and proof files are JSON in one exact layout
(:func:`dump_document`): a file whose bytes differ from that layout is refused,
so changing any byte of a published file makes it fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger import merkle
from ledger.store import LedgerStore, StoreError
from ledger.store.codec import canonical_bytes
from ledger.store.log import EVENT_LEAF_PREFIX

CHECKPOINT_FORMAT = "ledger-checkpoint/1"
PROOF_FORMAT = "ledger-inclusion-proof/1"
SIGNING_CONTEXT = b"ledger checkpoint v1\n"
"""Prefixed to the signed bytes, so a checkpoint signature can never be taken for a signature over anything else."""
PUBLIC_SUFFIX = ".pub"
HEX_HASH = re.compile(r"[0-9a-f]{64}")
KEY_ID = re.compile(r"[0-9a-f]{16}")
MAX_FILE = 16_000_000
"""Bytes a checkpoint or proof file may have: a proof holds one event and a few dozen hashes."""


class ProofError(StoreError):
    """A checkpoint, proof or key file that cannot be used (unreadable, malformed, not a ledger file): exit 2.

    A :class:`StoreError`, so every command turns it into one line (``replay --recorded-before CHECKPOINT`` too).
    """


# --- keys ----------------------------------------------------------------------------------


def _crypto() -> Any:
    """The Ed25519 module of ``cryptography``, imported when a key is used (start-up of other commands stays fast)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


def _raw_public(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public_key: bytes) -> str:
    """A key's id: the first 8 bytes of the SHA-256 of its raw 32-byte public key, in hex."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    key_id: str


def generate_key(path: str | os.PathLike[str]) -> KeyPair:
    """Write a new Ed25519 private key to ``path`` (PEM, mode 0600) and its public key beside it (``path.pub``).

    Refuses to overwrite either file: a lost signing key cannot be recovered, and
    checkpoints already published name the old key.
    """
    from cryptography.hazmat.primitives import serialization

    private_path = Path(path)
    public_path = Path(str(private_path) + PUBLIC_SUFFIX)
    for existing in (private_path, public_path):
        if existing.exists():
            raise ProofError(f"{existing} exists: choose another file (a published checkpoint names its key)")
    private_key = _crypto().Ed25519PrivateKey.generate()
    private_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public_pem = private_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    os.chmod(private_path, 0o600)  # whatever the umask
    public_path.write_bytes(public_pem)
    return KeyPair(private_path, public_path, key_id(_raw_public(private_key.public_key())))


def load_private_key(path: str | os.PathLike[str]) -> Any:
    """The Ed25519 private key in a PEM file written by :func:`generate_key`."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as error:
        raise ProofError(f"cannot read key {path}: {error.strerror}") from None
    except (ValueError, TypeError):
        raise ProofError(f"{path} is not an unencrypted PEM private key (make one with: ledger keygen -o KEYFILE)") from None
    if not isinstance(key, _crypto().Ed25519PrivateKey):
        raise ProofError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str]) -> bytes:
    """The raw 32-byte Ed25519 public key in a PEM file: a public key, or a private key whose public half is taken."""
    from cryptography.hazmat.primitives import serialization

    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ProofError(f"cannot read key {path}: {error.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        return _raw_public(load_private_key(path).public_key())
    if not isinstance(key, _crypto().Ed25519PublicKey):
        raise ProofError(f"{path} is not an Ed25519 key")
    return _raw_public(key)


def _signature_valid(raw_public_key: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        _crypto().Ed25519PublicKey.from_public_bytes(raw_public_key).verify(signature, SIGNING_CONTEXT + message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- files -----------------------------------------------------------------------------------


def dump_document(document: dict[str, Any]) -> bytes:
    """The one byte layout of checkpoint and proof files: JSON, keys sorted, two-space indent, UTF-8, final newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def load_document(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """A checkpoint or proof file, refused unless its bytes are exactly :func:`dump_document` of its content."""
    return parse_document(read_bounded(path, what), f"{path}", what)


def read_bounded(path: str | os.PathLike[str], what: str) -> bytes:
    """A file's bytes, refused past :data:`MAX_FILE` (no checkpoint or proof comes near it)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE + 1)
    except OSError as error:
        raise ProofError(f"cannot read {what} {path}: {error.strerror}") from None
    if len(data) > MAX_FILE:
        raise ProofError(f"{path} is larger than any {what} ledger writes ({MAX_FILE // 1_000_000} MB)")
    return data


def parse_document(data: bytes, name: str, what: str) -> dict[str, Any]:
    """:func:`load_document` of bytes already read (``name`` says where from, in messages)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ProofError(f"{name} is not a {what} file: {error}") from None
    if not isinstance(document, dict) or dump_document(document) != data:
        raise ProofError(f"{name} is not a {what} file as ledger writes it (changed or reformatted)")
    return document


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ProofError(f"{what} is not base64 text")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProofError(f"{what} is not base64 text") from None
    if _b64(data) != text:
        raise ProofError(f"{what} is not in canonical base64")
    return data


def _hash(text: Any, what: str) -> bytes:
    if not isinstance(text, str) or not HEX_HASH.fullmatch(text):
        raise ProofError(f"{what} is not a SHA-256 hash in lowercase hex")
    return bytes.fromhex(text)


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProofError(f"{what} is not a whole number")
    return value


def _fields(document: Any, names: set[str], what: str) -> dict[str, Any]:
    if not isinstance(document, dict) or set(document) != names:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise ProofError(f"{what} must have exactly the fields {sorted(names)}, not {found}")
    return document


# --- checkpoints -------------------------------------------------------------------------------

CHECKPOINT_FIELDS = {"format", "size", "root", "position", "time", "key_id", "public_key", "frontier"}


@dataclass(frozen=True)
class Checkpoint:
    """A tree head of the ledger's log, signed (or not, when made without a key)."""

    size: int
    root: bytes
    position: int
    """The last event position among the first ``size`` entries (0: none)."""
    time: str
    frontier: list[bytes]
    key_id: str | None = None
    public_key: bytes | None = None
    signature: bytes | None = None

    def body(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "size": self.size,
            "root": self.root.hex(),
            "position": self.position,
            "time": self.time,
            "key_id": self.key_id,
            "public_key": _b64(self.public_key) if self.public_key is not None else None,
            "frontier": [node.hex() for node in self.frontier],
        }

    def signed_bytes(self) -> bytes:
        return canonical_bytes(self.body())

    def document(self) -> dict[str, Any]:
        return {"checkpoint": self.body(), "signature": _b64(self.signature) if self.signature is not None else None}

    def file_bytes(self) -> bytes:
        return dump_document(self.document())

    @classmethod
    def from_document(cls, document: Any, what: str = "checkpoint") -> Checkpoint:
        """Read a checkpoint document, checking every field's form (not yet the signature or the root)."""
        outer = _fields(document, {"checkpoint", "signature"}, what)
        body = _fields(outer["checkpoint"], CHECKPOINT_FIELDS, f"{what}'s body")
        if body["format"] != CHECKPOINT_FORMAT:
            raise ProofError(f"{what} has format {body['format']!r}; this version reads {CHECKPOINT_FORMAT}")
        if not isinstance(body["time"], str) or not isinstance(body["frontier"], list):
            raise ProofError(f"{what}'s time or frontier has the wrong type")
        if body["key_id"] is not None and (not isinstance(body["key_id"], str) or not KEY_ID.fullmatch(body["key_id"])):
            raise ProofError(f"{what}'s key_id is not 16 lowercase hex digits")
        public_key = None if body["public_key"] is None else _unb64(body["public_key"], f"{what}'s public key")
        signature = None if outer["signature"] is None else _unb64(outer["signature"], f"{what}'s signature")
        return cls(
            size=_count(body["size"], f"{what}'s size"),
            root=_hash(body["root"], f"{what}'s root"),
            position=_count(body["position"], f"{what}'s position"),
            time=body["time"],
            frontier=[_hash(node, f"{what}'s frontier") for node in body["frontier"]],
            key_id=body["key_id"],
            public_key=public_key,
            signature=signature,
        )

    def problems(self, pinned_key: bytes | None = None, require_signature: bool = True) -> list[str]:
        """What is wrong with this checkpoint on its own: its signature, its key, its frontier (empty: nothing)."""
        found = []
        widths = [1 << bit for bit in reversed(range(self.size.bit_length())) if self.size >> bit & 1]
        if len(self.frontier) != len(widths) or merkle.root_of_frontier(self.frontier) != self.root:
            found.append("its frontier does not fold into its root")
        if self.signature is None or self.public_key is None:
            if require_signature or pinned_key is not None:
                found.append("it is not signed")
            return found
        if key_id(self.public_key) != self.key_id:
            found.append("its key id is not the id of its public key")
        if pinned_key is not None and pinned_key != self.public_key:
            found.append(f"it is signed by key {self.key_id}, not by the key given ({key_id(pinned_key)})")
        if not _signature_valid(self.public_key, self.signature, self.signed_bytes()):
            found.append("its signature does not verify")
        return found


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    return Checkpoint.from_document(load_document(path, "checkpoint"), f"checkpoint {path}")


def make_checkpoint(store: LedgerStore, private_key_path: str | os.PathLike[str] | None = None) -> Checkpoint:
    """A checkpoint of the ledger's log as it is now, signed with the key in ``private_key_path`` if given, kept in the store."""
    private_key = load_private_key(private_key_path) if private_key_path is not None else None
    log = recompute_log(store)
    if log.first_bad_leaf is not None:
        raise ProofError(f"the ledger does not match its Merkle log at entry {log.first_bad_leaf + 1} ({log.reason}): run ledger verify")
    leaves = log.leaves
    for earlier in map(_stored_checkpoint, store.checkpoints()):
        check = check_checkpoint(leaves, earlier)
        if not check.ok:
            raise ProofError(
                f"the ledger no longer extends its own checkpoint of {earlier.size} entries made at {earlier.time}: {'; '.join(check.problems)}"
            )
    checkpoint = Checkpoint(
        size=len(leaves),
        root=merkle.root(leaves),
        position=store.log_position(len(leaves)),
        time=datetime.now(UTC).isoformat(timespec="seconds"),
        frontier=[node for _, _, node in merkle.frontier(leaves)],
    )
    if private_key is not None:
        public_key = _raw_public(private_key.public_key())
        checkpoint = Checkpoint(**{**checkpoint.__dict__, "key_id": key_id(public_key), "public_key": public_key})
        signature = private_key.sign(SIGNING_CONTEXT + checkpoint.signed_bytes())
        checkpoint = Checkpoint(**{**checkpoint.__dict__, "signature": signature})
    store.put_checkpoint(checkpoint.size, checkpoint.root.hex(), checkpoint.time, checkpoint.key_id, checkpoint.file_bytes().decode())
    return checkpoint


@dataclass
class LogCheck:
    """Recomputing the log from the stored entries: the leaf hashes, and the first entry whose stored leaf does not match."""

    leaves: list[bytes]
    first_bad_leaf: int | None = None
    reason: str | None = None


def recompute_log(store: LedgerStore) -> LogCheck:
    """Every leaf hash recomputed from the entry it covers, checked against the stored one; the registry against its newest leaves.

    The leaves must cover every recorded event once, in position order. The
    consistency proofs are made over the recomputed hashes (what the entries
    say today), so a log table edited to match a checkpoint does not help.
    """
    stored = store.leaf_hashes()
    check = LogCheck([])
    leaves = check.leaves
    newest_registry: dict[tuple[str, str], Any] = {}
    expected_position = 1

    def bad(index: int, reason: str) -> None:
        if check.first_bad_leaf is None:
            check.first_bad_leaf, check.reason = index, reason

    for index, position, leaf_input in store.leaf_inputs():
        if position is not None:
            if position != expected_position:
                bad(index, f"the log skips or repeats events here (position {position}, expected {expected_position})")
            expected_position = position + 1
        if leaf_input is None:
            bad(index, f"the stored event at position {position} is missing")
            leaves.append(merkle.EMPTY_ROOT)  # no entry: nothing can match this leaf
            continue
        digest = merkle.leaf_hash(leaf_input)
        leaves.append(digest)
        if index >= len(stored) or stored[index] != digest:
            bad(index, f"entry {index + 1} does not match its leaf in the log")
        if not leaf_input.startswith(EVENT_LEAF_PREFIX):
            entry = json.loads(leaf_input)
            newest_registry[(entry["kind"], entry["id"])] = entry["data"]
    head = store.head().position
    if expected_position <= head:
        bad(len(leaves), f"the events from position {expected_position} to {head} have no leaf in the log")
    current = {(kind, key): data for kind, entries in store.registry().items() for key, data in entries.items()}
    changed = sorted(k for k in current.keys() | newest_registry.keys() if current.get(k) != newest_registry.get(k))
    if changed:
        kind, key = changed[0]
        bad(len(leaves), f"registry entry {kind} {key!r} differs from the newest one the log records")
    return check


@dataclass
class CheckpointCheck:
    """How today's ledger stands against one checkpoint."""

    path: str
    ok: bool
    checkpoint_size: int
    ledger_size: int
    key_id: str | None
    agreeing_size: int
    """The ledger's first ``agreeing_size`` entries are those the checkpoint covers (all of them when ok)."""
    first_differing_size: int | None = None
    """The smallest size at which the ledger is known to differ from the checkpoint: the first difference is an entry in (agreeing_size, first_differing_size]."""
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_checkpoint(leaves: Sequence[bytes], checkpoint: Checkpoint, path: str = "", pinned_key: bytes | None = None) -> CheckpointCheck:
    """Whether the log over ``leaves`` extends the checkpointed one (a consistency proof), and if not, where it first differs."""
    problems = checkpoint.problems(pinned_key, require_signature=False)
    size = len(leaves)
    result = CheckpointCheck(path, False, checkpoint.size, size, checkpoint.key_id, 0, problems=problems)
    agreeing, differing = 0, None
    for (start, end), node in zip(_ranges(checkpoint.size), checkpoint.frontier):
        if end <= size and merkle.subtree_root(leaves, start, end) == node:
            agreeing = end
            continue
        differing = min(end, size + 1)  # past the ledger's end, entry size + 1 is missing for sure
        break
    if size < checkpoint.size:
        problems.append(f"the ledger holds {size} entries, fewer than the checkpoint's {checkpoint.size}: it was truncated")
    else:
        proof = merkle.consistency_proof(leaves, checkpoint.size, size)
        if not merkle.verify_consistency(checkpoint.size, size, checkpoint.root, merkle.root(leaves), proof):
            problems.append("the ledger does not extend the checkpointed one (the consistency proof fails)")
    if differing is not None:
        where = f"entry {differing}" if differing == agreeing + 1 else f"among entries {agreeing + 1}..{differing}"
        problems.append(f"the first {agreeing} entries agree; the first difference is {where}")
    result.agreeing_size = agreeing if problems else checkpoint.size
    result.first_differing_size = differing if problems else None
    result.ok = not problems
    return result


def _ranges(size: int) -> list[tuple[int, int]]:
    ranges, start = [], 0
    while start < size:
        width = 1 << ((size - start).bit_length() - 1)
        ranges.append((start, start + width))
        start += width
    return ranges


@dataclass
class LedgerCheck:
    """``ledger verify --checkpoint``: the log recomputed from the entries, and each checkpoint against it."""

    ok: bool
    entries: int
    root: str
    first_bad_leaf: int | None
    reason: str | None
    checkpoints: list[CheckpointCheck]

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "checkpoints": [check.to_dict() for check in self.checkpoints]}


def check_checkpoints(
    store: LedgerStore, paths: Iterable[str | os.PathLike[str]], pinned_key_path: str | os.PathLike[str] | None = None
) -> LedgerCheck:
    """Check that the ledger's log matches its entries and extends every checkpoint in ``paths`` (files or folders of them)."""
    pinned = load_public_key(pinned_key_path) if pinned_key_path is not None else None
    files = _checkpoint_files(paths)
    checkpoints = [(str(path), read_checkpoint(path)) for path in files]
    log = recompute_log(store)
    checks = [check_checkpoint(log.leaves, checkpoint, path, pinned) for path, checkpoint in checkpoints]
    ok = log.first_bad_leaf is None and all(check.ok for check in checks)
    return LedgerCheck(ok, len(log.leaves), merkle.root(log.leaves).hex(), log.first_bad_leaf, log.reason, checks)


def _checkpoint_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not found:
                raise ProofError(f"no checkpoint files in {path}")
            files += found
        else:
            files.append(path)
    return files


def recorded_before(store: LedgerStore, path: str | os.PathLike[str], pinned_key_path: str | os.PathLike[str] | None = None) -> int:
    """The store position that ``replay --recorded-before CHECKPOINT_FILE`` stops before: the first one the checkpoint does not cover.

    Refuses (:class:`ProofError`) when today's ledger does not extend the
    checkpointed one, so a replay "as the ledger stood at the checkpoint" never
    answers from a store rewritten since.
    """
    result = check_checkpoints(store, [path], pinned_key_path)
    if not result.ok:
        problems = [result.reason] if result.reason else []
        problems += [problem for check in result.checkpoints for problem in check.problems]
        raise ProofError(f"the ledger does not extend checkpoint {path}: " + "; ".join(p for p in problems if p))
    return read_checkpoint(path).position + 1


# --- inclusion proofs ---------------------------------------------------------------------------

PROOF_FIELDS = {"format", "entry", "leaf_index", "audit_path", "checkpoint"}


def prove(
    store: LedgerStore,
    event_id: str,
    private_key_path: str | os.PathLike[str] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """An inclusion proof of a recorded event: its leaf input, leaf index and audit path to a signed checkpoint.

    The checkpoint is the one in ``checkpoint_path`` (e.g. a published one), or
    with a key a new one of the log as it is now (kept in the store like any
    other), or else the newest signed checkpoint in the store that covers the event.
    """
    index = store.leaf_of(event_id)
    if index is None:
        raise ProofError(f"no event {event_id!r} in the ledger")
    if checkpoint_path is not None:
        checkpoint = read_checkpoint(checkpoint_path)
        if checkpoint.size <= index:
            raise ProofError(f"checkpoint {checkpoint_path} covers {checkpoint.size} entries; {event_id!r} is entry {index + 1}")
    elif private_key_path is not None:
        checkpoint = make_checkpoint(store, private_key_path)
    else:
        covering = [c for c in map(_stored_checkpoint, store.checkpoints()) if c.size > index and c.signature is not None]
        if not covering:
            raise ProofError(f"no signed checkpoint covers {event_id!r} yet: run ledger checkpoint --key KEYFILE, or pass --key")
        checkpoint = max(covering, key=lambda c: c.size)
    leaves = store.leaf_hashes(checkpoint.size)
    if merkle.root(leaves) != checkpoint.root:
        raise ProofError(
            f"the ledger does not match the checkpoint of {checkpoint.size} entries made at {checkpoint.time}: run ledger verify"
        )
    leaf_input = store.leaf_input(index)
    if merkle.leaf_hash(leaf_input) != leaves[index]:
        raise ProofError(f"{event_id!r} as stored no longer matches its leaf in the log: run ledger verify")
    return {
        "format": PROOF_FORMAT,
        "entry": json.loads(leaf_input),
        "leaf_index": index,
        "audit_path": [node.hex() for node in merkle.inclusion_proof(leaves, index, checkpoint.size)],
        "checkpoint": checkpoint.document(),
    }


def _stored_checkpoint(text: str) -> Checkpoint:
    return Checkpoint.from_document(json.loads(text), "stored checkpoint")


@dataclass
class ProofCheck:
    """The result of :func:`verify_proof`."""

    ok: bool
    event_id: str | None
    leaf_index: int | None
    size: int | None
    root: str | None
    key_id: str | None
    pinned: bool
    time: str | None
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_proof(path: str | os.PathLike[str], pinned_key_path: str | os.PathLike[str] | None = None) -> ProofCheck:
    """Check an inclusion proof file with no database: its layout, the checkpoint's signature, and the audit path to the root."""
    pinned = load_public_key(pinned_key_path) if pinned_key_path is not None else None
    return verify_proof_bytes(read_bounded(path, "proof"), pinned, f"proof {path}")


def verify_proof_bytes(data: bytes, pinned: bytes | None = None, name: str = "the proof") -> ProofCheck:
    """:func:`verify_proof` of a proof file's bytes, with the raw public key it must be signed by (if any)."""
    document = _fields(parse_document(data, name, "proof"), PROOF_FIELDS, name)
    if document["format"] != PROOF_FORMAT:
        raise ProofError(f"{name} has format {document['format']!r}; this version reads {PROOF_FORMAT}")
    checkpoint = Checkpoint.from_document(document["checkpoint"], "the proof's checkpoint")
    index = _count(document["leaf_index"], "leaf_index")
    if not isinstance(document["audit_path"], list) or not isinstance(document["entry"], dict):
        raise ProofError("the proof's audit_path or entry has the wrong type")
    path_nodes = [_hash(node, "an audit path node") for node in document["audit_path"]]
    entry = document["entry"]
    problems = checkpoint.problems(pinned)
    leaf = merkle.leaf_hash(canonical_bytes(entry))
    if not merkle.verify_inclusion(leaf, index, checkpoint.size, path_nodes, checkpoint.root):
        problems.append(f"the audit path does not lead from this entry at leaf {index} to the checkpoint's root")
    event = entry.get("event")
    event_id = event.get("id") if isinstance(event, dict) else None
    return ProofCheck(
        ok=not problems,
        event_id=event_id if isinstance(event_id, str) else None,
        leaf_index=index,
        size=checkpoint.size,
        root=checkpoint.root.hex(),
        key_id=checkpoint.key_id,
        pinned=pinned is not None,
        time=checkpoint.time,
        problems=problems,
    )


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a checkpoint or proof file (replacing one there)."""
    try:
        Path(path).write_bytes(data)
    except OSError as error:
        raise ProofError(f"cannot write {path}: {error.strerror}") from None


__all__ = [
    "Checkpoint",
    "ProofError",
    "check_checkpoints",
    "generate_key",
    "make_checkpoint",
    "prove",
    "recorded_before",
    "verify_proof",
]
