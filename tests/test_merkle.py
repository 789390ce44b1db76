"""RFC 9162 Merkle hashing: the RFC 6962 reference vectors, a brute-force reference, and proofs that break when anything changes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import merkle

# The certificate-transparency reference suite's leaves, roots and proofs (RFC 6962 / RFC 9162 hashing).
LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, audit path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip

HASHES = [merkle.leaf_hash(leaf) for leaf in LEAVES]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 section 2.1.1 writes it: recursive, split at the largest power of two below n."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    assert merkle.root(HASHES, size).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_audit_paths_match_the_reference_vectors_and_verify(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(HASHES, index, size)
    assert [node.hex() for node in proof] == path
    assert merkle.verify_inclusion(HASHES[index], index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors_and_verify(old: int, new: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(HASHES, old, new)
    assert [node.hex() for node in proof] == path
    assert merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


def test_asking_for_a_leaf_or_size_the_tree_lacks_is_refused() -> None:
    with pytest.raises(merkle.ProofError):
        merkle.inclusion_proof(HASHES, 8, 8)
    with pytest.raises(merkle.ProofError):
        merkle.consistency_proof(HASHES, 5, 4)
    with pytest.raises(merkle.ProofError):
        merkle.root(HASHES, 9)


trees = st.lists(st.binary(max_size=8), min_size=1, max_size=70, unique=True).map(
    lambda leaves: [merkle.leaf_hash(leaf) for leaf in leaves]
)


@given(trees)
def test_the_root_equals_the_rfc_recursion(leaves: list[bytes]) -> None:
    assert merkle.root(leaves) == reference_root(leaves)
    subtrees = merkle.frontier(leaves)
    assert merkle.root_of_frontier([node for _, _, node in subtrees]) == merkle.root(leaves)
    assert [end - start for start, end, _ in subtrees] == [
        1 << b for b in reversed(range(len(leaves).bit_length())) if len(leaves) >> b & 1
    ]


@given(trees, st.data())
def test_every_inclusion_proof_verifies_and_any_change_fails(leaves: list[bytes], data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(leaves, index, size)
    top = reference_root(leaves[:size])
    assert merkle.verify_inclusion(leaves[index], index, size, proof, top)
    flip = data.draw(st.integers(0, 8 * 32 * (len(proof) + 1) - 1))
    if flip < 256:
        changed_leaf = bytearray(leaves[index])
        changed_leaf[flip // 8] ^= 1 << (flip % 8)
        assert not merkle.verify_inclusion(bytes(changed_leaf), index, size, proof, top)
    else:
        node, bit = divmod(flip - 256, 256)
        changed = [bytearray(n) for n in proof]
        changed[node][bit // 8] ^= 1 << (bit % 8)
        assert not merkle.verify_inclusion(leaves[index], index, size, [bytes(n) for n in changed], top)
    other_index = data.draw(st.integers(0, size - 1).filter(lambda i: i != index)) if size > 1 else None
    if other_index is not None:
        assert not merkle.verify_inclusion(leaves[index], other_index, size, proof, top)
    # The size is bound by the signed tree head that carries the root: a proof never fits another size's root.
    other_size = data.draw(st.integers(index + 1, len(leaves)).filter(lambda s: s != size)) if len(leaves) > index + 1 else None
    if other_size is not None:
        assert not merkle.verify_inclusion(leaves[index], index, other_size, proof, merkle.root(leaves, other_size))


@given(trees, st.data())
def test_every_consistency_proof_verifies_and_any_change_fails(leaves: list[bytes], data: st.DataObject) -> None:
    new = data.draw(st.integers(1, len(leaves)))
    old = data.draw(st.integers(1, new))
    proof = merkle.consistency_proof(leaves, old, new)
    old_root, new_root = reference_root(leaves[:old]), reference_root(leaves[:new])
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    if proof:
        node = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        changed = [bytearray(n) for n in proof]
        changed[node][bit // 8] ^= 1 << (bit % 8)
        assert not merkle.verify_consistency(old, new, old_root, new_root, [bytes(n) for n in changed])
    assert not merkle.verify_consistency(old, new, old_root, hashlib.sha256(new_root).digest(), proof)
    if old < new:
        assert not merkle.verify_consistency(old, new, hashlib.sha256(old_root).digest(), new_root, proof)
    other_old = data.draw(st.integers(1, new).filter(lambda s: s != old)) if new > 1 else None
    if other_old is not None:
        assert not merkle.verify_consistency(other_old, new, old_root, new_root, proof)
    if new < len(leaves):
        assert not merkle.verify_consistency(old, new + 1, old_root, merkle.root(leaves, new + 1), proof)


@given(trees, st.data())
def test_a_tree_with_a_changed_leaf_is_not_consistent_with_the_original(leaves: list[bytes], data: st.DataObject) -> None:
    old = data.draw(st.integers(1, len(leaves)))
    changed_at = data.draw(st.integers(0, old - 1))
    rewritten = list(leaves)
    rewritten[changed_at] = hashlib.sha256(rewritten[changed_at]).digest()
    proof = merkle.consistency_proof(rewritten, old, len(rewritten))
    assert not merkle.verify_consistency(old, len(rewritten), merkle.root(leaves, old), merkle.root(rewritten), proof)
