"""Merkle tree hashing as RFC 9162 (Certificate Transparency 2.0) defines it.

Pure functions over leaf hashes, with no storage of their own: the store keeps
one leaf hash per entry and calls these to compute roots and proofs, and a
verifier with no database at hand calls the ``verify_*`` functions.

- a leaf hash is ``SHA-256(0x00 || leaf input)``, an interior node
  ``SHA-256(0x01 || left || right)``; the root of no leaves is ``SHA-256("")``;
- a tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``
  (RFC 9162 section 2.1.1), which is the same as pairing nodes level by level
  and carrying an odd last node up unchanged: :func:`subtree_root` computes it
  that way, without recursion;
- inclusion proofs (audit paths) and consistency proofs are the RFC's
  ``PATH`` and ``PROOF`` (section 2.1.3.1 and 2.1.4.1), and they are checked
  with the RFC's verification algorithms (2.1.3.2 and 2.1.4.2), so a proof made
  here verifies with any RFC 9162 implementation and the other way round.

Indices count leaves from 0; sizes count leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof asked for leaves or sizes the tree does not have."""


LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf input."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def subtree_root(leaves: Sequence[bytes], start: int = 0, end: int | None = None) -> bytes:
    """The root of the tree over the leaf hashes ``leaves[start:end]`` (``MTH`` of the RFC)."""
    level = list(leaves[start:end])
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def root(leaves: Sequence[bytes], size: int | None = None) -> bytes:
    """The root of the tree over the first ``size`` leaf hashes (all of them by default)."""
    size = len(leaves) if size is None else size
    if not 0 <= size <= len(leaves):
        raise ProofError(f"a tree of {len(leaves)} leaves has no size {size}")
    return subtree_root(leaves, 0, size)


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (``PATH(m, D[n])``)."""
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ProofError(f"no leaf {index} in a tree of size {size} (of {len(leaves)} leaves)")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(subtree_root(leaves, start + k, end))
            end = start + k
        else:
            path.append(subtree_root(leaves, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """The proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size`` (``PROOF(m, D[n])``).

    Empty when ``old_size`` is 0 or equals ``new_size``: nothing needs proving.
    """
    new_size = len(leaves) if new_size is None else new_size
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ProofError(f"no consistency proof from size {old_size} to {new_size} (of {len(leaves)} leaves)")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    m, start, end, whole = old_size, 0, new_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append(subtree_root(leaves, start + k, end))
            end = start + k
        else:
            path.append(subtree_root(leaves, start, start + k))
            m -= k
            start += k
            whole = False
    if not whole:
        path.append(subtree_root(leaves, start, end))
    path.reverse()
    return path


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to from a leaf hash (RFC 9162 section 2.1.3.2), or None if the path cannot fit."""
    if not 0 <= index < size or any(len(node) != HASH_SIZE for node in path):
        return None
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = node_hash(node, sibling)
        fn >>= 1
        sn >>= 1
    return node if sn == 0 else None


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """True when ``path`` proves that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` leaves with this root."""
    return root_from_inclusion(leaf, index, size, path) == expected_root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> bool:
    """True when ``path`` proves that the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 section 2.1.4.2; a tree of size 0 is a prefix of any tree, and a
    tree is consistent with itself only when the roots are equal and the proof empty.
    """
    if not 0 <= old_size <= new_size or any(len(node) != HASH_SIZE for node in path):
        return False
    if old_size == 0:
        return not path
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    nodes = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself the first node
        nodes.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for node in nodes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def frontier(leaves: Sequence[bytes], size: int | None = None) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees the first ``size`` leaves split into, largest first, as (start, end, root).

    Their roots fold into the tree's root and say, without the leaves, which
    stretch of a tree holds the first difference from another tree.
    """
    size = len(leaves) if size is None else size
    if not 0 <= size <= len(leaves):
        raise ProofError(f"a tree of {len(leaves)} leaves has no size {size}")
    ranges: list[tuple[int, int, bytes]] = []
    start = 0
    while start < size:
        width = 1 << ((size - start).bit_length() - 1)
        ranges.append((start, start + width, subtree_root(leaves, start, start + width)))
        start += width
    return ranges


def root_of_frontier(subtrees: Sequence[bytes]) -> bytes:
    """The tree's root from its :func:`frontier` roots (largest first)."""
    if not subtrees:
        return EMPTY_ROOT
    node = subtrees[-1]
    for left in reversed(subtrees[:-1]):
        node = node_hash(left, node)
    return node
