"""MinHash signatures equal to datasketch's, LSH band keys, and Jaccard on shingle-hash sets.

Shingle hashes are datasketch's ``sha1_hash32`` (the first 4 bytes of sha1, little-endian); a
record's shingle set is kept as its sorted distinct hashes (uint32), which is what exact
verification compares, within a day and, through the dedup_index table, across days.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

# The universal-hash family of datasketch.MinHash: h(x) = ((a*x + b) mod p) & (2^32 - 1).
_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_LOW32 = np.uint64(0xFFFFFFFF)


def datasketch_permutations(num_perm: int, seed: int) -> np.ndarray:
    """The (a, b) arrays datasketch.MinHash draws for ``seed`` (2 x num_perm uint64)."""
    gen = np.random.RandomState(seed)
    return np.array(
        [(gen.randint(1, _MERSENNE_PRIME, dtype=np.uint64),
          gen.randint(0, _MERSENNE_PRIME, dtype=np.uint64)) for _ in range(num_perm)],
        dtype=np.uint64,
    ).T


class HashSets(NamedTuple):
    """n records' sorted distinct shingle hashes, concatenated (uint32), and offsets (n + 1)."""
    distinct: np.ndarray
    offsets: np.ndarray

    def encoded(self) -> list[bytes]:
        """Each record's set as little-endian uint32 bytes (the dedup_index encoding)."""
        blob = self.distinct.astype("<u4").tobytes()
        starts = (4 * self.offsets).tolist()
        return [blob[starts[i]:starts[i + 1]] for i in range(len(starts) - 1)]


class ExchangeSketches(NamedTuple):
    """A batch of exchanges: MinHash signatures of prompt + response shingles (n x num_perm
    uint32), and the prompt's and the response's shingle-hash sets."""
    signatures: np.ndarray
    prompt: HashSets
    response: HashSets


def _sorted_distinct(keyed: np.ndarray) -> np.ndarray:
    keyed.sort()
    if not keyed.size:
        return keyed
    keep = np.empty(keyed.size, dtype=bool)
    keep[0] = True
    np.not_equal(keyed[1:], keyed[:-1], out=keep[1:])
    return keyed[keep]


def _keyed_distinct(hashes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(record << 32 | hash), sorted and distinct: every record's distinct hashes in one sort."""
    keyed = np.repeat(np.arange(len(lengths), dtype=np.uint64) << np.uint64(32), lengths)
    keyed |= hashes
    return _sorted_distinct(keyed)


def _split_keyed(keyed: np.ndarray, n: int) -> HashSets:
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount((keyed >> np.uint64(32)).astype(np.int64), minlength=n),
              out=offsets[1:])
    return HashSets((keyed & _LOW32).astype(np.uint32), offsets)


class MinHasher:
    """Vectorised MinHash equal to datasketch.MinHash(num_perm, seed) with its sha1_hash32.

    Heavy: build once per worker (``DoFn.setup``). A batch of records is hashed in one numpy
    pass: the shingle hashes of all records are made distinct per record in one sort, then
    permuted as (a*x + b) mod (2^61 - 1) (the Mersenne identity: shift and add instead of a
    64-bit division; the same values as datasketch's ``%``) and min-reduced per record.
    """

    # Distinct shingle hashes per numpy chunk: keeps the (chunk x num_perm) buffers in L2 cache.
    CHUNK = 256

    def __init__(self, num_perm: int = 128, seed: int = 1):
        self.num_perm = num_perm
        self.a, self.b = map(np.ascontiguousarray, datasketch_permutations(num_perm, seed))
        self._product = np.empty(num_perm * self.CHUNK, dtype=np.uint64)
        self._high = np.empty(num_perm * self.CHUNK, dtype=np.uint64)

    @staticmethod
    def _sha1_hash32(digests: bytes) -> np.ndarray:
        # first 4 bytes of each 20-byte digest, little-endian: datasketch's sha1_hash32
        return np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint64)

    def shingle_hashes(self, shingle_lists: list[list[bytes]]) -> np.ndarray:
        """sha1_hash32 of every shingle of every list, concatenated (uint64)."""
        sha1 = hashlib.sha1
        return self._sha1_hash32(b"".join([sha1(s).digest() for shingle_list in shingle_lists
                                           for s in shingle_list]))

    def gram_hashes(self, texts: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
        """sha1_hash32 of every word ``size``-gram of every normalized text (repeats included,
        so no per-shingle dict), and the count per text: the multiset behind ``shingles()``."""
        sha1 = hashlib.sha1
        digests, lengths = [], np.empty(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            words = text.encode("utf-8").split()
            if len(words) <= size:
                digests.append(sha1(b" ".join(words)).digest())
                lengths[i] = 1
            else:
                digests += [sha1(gram).digest()
                            for gram in map(b" ".join, zip(*(words[j:] for j in range(size)),
                                                           strict=False))]
                lengths[i] = len(words) - size + 1
        return self._sha1_hash32(b"".join(digests)), lengths

    def sketch(self, shingle_lists: list[list[bytes]]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Signatures (n x num_perm uint32) and each list's sorted distinct shingle hashes."""
        lengths = np.fromiter((len(s) for s in shingle_lists), dtype=np.int64,
                              count=len(shingle_lists))
        sets = _split_keyed(_keyed_distinct(self.shingle_hashes(shingle_lists), lengths),
                            len(shingle_lists))
        return self.signatures(sets), np.split(sets.distinct, sets.offsets[1:-1])

    def sketch_exchanges(self, prompts: list[str], responses: list[str],
                         size: int) -> ExchangeSketches:
        """Sketches of n exchanges given their normalized prompts and responses: the signature
        is over the union of both parts' word ``size``-grams (no gram spans the boundary)."""
        n = len(prompts)
        keyed_prompt = _keyed_distinct(*self.gram_hashes(prompts, size))
        keyed_response = _keyed_distinct(*self.gram_hashes(responses, size))
        union = _sorted_distinct(np.concatenate([keyed_prompt, keyed_response]))
        return ExchangeSketches(self.signatures(_split_keyed(union, n)),
                                _split_keyed(keyed_prompt, n), _split_keyed(keyed_response, n))

    def signatures(self, sets: HashSets) -> np.ndarray:
        """MinHash signatures (n x num_perm uint32) of n records' distinct shingle hashes."""
        offsets = sets.offsets
        n = len(offsets) - 1
        if n and np.diff(offsets).min() < 1:
            raise ValueError("every record needs at least one shingle (shingles() gives one)")
        distinct = sets.distinct.astype(np.uint64)
        signatures = np.empty((n, self.num_perm), dtype=np.uint32)
        a, b, shift = self.a[:, None], self.b[:, None], np.uint64(61)
        start = 0
        while start < n:
            stop = int(np.searchsorted(offsets, offsets[start] + self.CHUNK, side="right")) - 1
            stop = min(max(stop, start + 1), n)
            lo, hi = offsets[start], offsets[stop]
            # (num_perm x shingles): each record's min is a reduction along contiguous memory,
            # several times faster than along the strided axis
            if hi - lo <= self.CHUNK:  # contiguous views of the preallocated buffers
                size = self.num_perm * (hi - lo)
                x = self._product[:size].reshape(self.num_perm, hi - lo)
                high = self._high[:size].reshape(self.num_perm, hi - lo)
                np.multiply(a, distinct[None, lo:hi], out=x)  # wraps mod 2^64 as datasketch's
            else:  # one record with more distinct shingles than a chunk
                x = np.multiply(a, distinct[None, lo:hi])
                high = np.empty_like(x)
            x += b
            np.right_shift(x, shift, out=high)
            x &= _MERSENNE_PRIME
            x += high  # congruent mod p and < p + 8
            if x.max() >= _MERSENNE_PRIME:
                np.subtract(x, _MERSENNE_PRIME, out=x, where=x >= _MERSENNE_PRIME)
            # astype(uint32) keeps the low 32 bits: datasketch's "& _max_hash"
            signatures[start:stop] = np.minimum.reduceat(
                x.astype(np.uint32), offsets[start:stop] - lo, axis=1).T
            start = stop
        return signatures


def band_keys(signature: bytes, bands: int, rows: int) -> list[bytes]:
    """One LSH key per band: 2-byte band index + that band's rows of the signature."""
    width = 4 * rows
    return [band.to_bytes(2, "little") + signature[band * width:(band + 1) * width]
            for band in range(bands)]


def band_keys_batch(signatures: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """``band_keys`` of every row of an (n x num_perm) signature array, concatenated (n * bands
    keys, record-major), built in one numpy pass instead of n * bands concatenations."""
    n, width = len(signatures), 2 + 4 * rows
    values = signatures[:, :bands * rows].astype("<u4").view(np.uint8).reshape(n, bands, 4 * rows)
    index = np.arange(bands, dtype="<u2").view(np.uint8).reshape(1, bands, 2)
    blob = np.concatenate([np.broadcast_to(index, (n, bands, 2)), values], axis=2).tobytes()
    return [blob[k:k + width] for k in range(0, len(blob), width)]


def exact_jaccard(hashes_a: bytes, hashes_b: bytes) -> float:
    """Jaccard of two sorted distinct uint32 shingle-hash sets (encoded bytes)."""
    return set_jaccard(np.frombuffer(hashes_a, dtype="<u4"), np.frombuffer(hashes_b, dtype="<u4"))


def set_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard of two sorted distinct hash arrays."""
    common = np.intersect1d(a, b, assume_unique=True).size
    return common / (a.size + b.size - common)


def estimated_jaccard(signature_a: bytes, signature_b: bytes) -> float:
    """Fraction of equal MinHash values (datasketch's MinHash.jaccard)."""
    a = np.frombuffer(signature_a, dtype="<u4")
    b = np.frombuffer(signature_b, dtype="<u4")
    if a.size != b.size:
        raise ValueError(f"signatures of {a.size} and {b.size} values cannot be compared")
    return float(np.count_nonzero(a == b)) / a.size
