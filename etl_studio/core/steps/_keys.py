"""Row keys as 64-bit hashes, so whole-run state (dedupe, unique) grows with distinct keys, not rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from etl_studio.core import casting

_U64 = np.uint64
_NULL_TEXT = _U64(0x6A09E667F3BCC909)  # a NULL text cell: differs from every string, '' included
_TEXT_SEED = _U64(0x243F6A8885A308D3)
_LENGTH_FACTOR = _U64(0x9E3779B97F4A7C15)
_COLUMN_FACTOR = _U64(0xBF58476D1CE4E5B9)


def key_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One uint64 per row from the values of every column of ``frame`` (index ignored).

    Two rows hash equal when their values are equal and of the same kind (text hashes by its
    characters, whatever pandas dtype holds it); a 64-bit hash makes a false match about 1 in
    10^19 per pair, far below any data error rate. Text is hashed from the Arrow bytes with
    numpy (no Python object per cell); other columns with pandas' hashing.
    """
    if len(frame.columns) == 0 or len(frame) == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    combined = np.full(len(frame), _TEXT_SEED, dtype=np.uint64)
    for _, column in frame.items():  # by position: names may repeat
        if casting.is_text(column):
            hashes = text_hashes(casting.stored_text(column))
        else:
            hashes = pd.util.hash_pandas_object(column, index=False).to_numpy(dtype=np.uint64)
        combined = _mix(combined * _COLUMN_FACTOR + hashes)
    return combined


def text_hashes(text: pa.Array) -> np.ndarray:
    """A 64-bit hash per string from its UTF-8 bytes, all rows at once with numpy (no Python object per cell).

    Each string is cut into 8-byte words; word k is mixed with its position by a bijective
    finaliser (MurmurHash3's fmix64), the row's words are summed, and the sum is mixed with the
    length. Equal strings always hash equal; strings differing in one word never collide, in
    more only by chance (about 2^-64 a pair).
    """
    n = len(text)
    if text.type not in (pa.string(), pa.large_string()):
        text = text.cast(pa.string())
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    # pandas keeps text as large_string: its 64-bit offsets are read as they are, not cast first
    width = np.int64 if text.type == pa.large_string() else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=width, count=n + 1, offset=text.offset * np.dtype(width).itemsize).astype(np.int64)
    starts, lengths = offsets[:-1], np.diff(offsets)
    data = text.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None and data.size else np.zeros(0, dtype=np.uint8)
    end = int(offsets[-1])
    # 8 zero bytes after the last string, so that reading a whole word there stays in bounds
    padded = np.zeros(end + 8, dtype=np.uint8)
    padded[:end] = raw[:end]
    # words_at[j]: the 8 bytes from byte j on, little-endian (an unaligned strided view, no copy)
    words_at = np.ndarray(shape=(end + 1,), dtype="<u8", buffer=padded, strides=(1,))
    counts = (lengths + 7) >> 3  # words per string (a shift: numpy's integer division is several times slower)
    total = int(counts.sum())
    widest = int(counts.max())
    sums = np.zeros(n, dtype=np.uint64)
    if total and widest * n <= 2 * total:
        # strings of similar length (the usual column): word k of every row at once, no per-word index
        # (the same sum as below, word for word: a string hashes the same whichever way its chunk went)
        # In place, with one scratch array: a chunk's columns are hashed with a few passes each.
        scratch = np.empty(n, dtype=np.uint64)
        for k in range(widest):
            left = lengths - 8 * k
            at = starts + 8 * k
            np.minimum(at, end, out=at)
            word = words_at[at]
            short = left < 8
            if short.any():  # the last word of some strings: only their own bytes
                extra = ((8 - np.clip(left, 1, 8)) * 8).astype(np.uint64)
                np.left_shift(word, extra, out=word)
                np.right_shift(word, extra, out=word)
            word += np.uint64(k * int(_COLUMN_FACTOR) % 2**64)
            _mix_in_place(word, scratch)
            ended = left <= 0
            if ended.any():
                word[ended] = 0  # rows whose string has ended add nothing
            sums += word
    elif total:
        first_word = np.cumsum(counts) - counts
        # per word: its number k within its string, and how many of its string's bytes are left
        k = np.arange(total, dtype=np.int64) - np.repeat(first_word, counts)
        word = words_at[np.repeat(starts, counts) + 8 * k]
        # only the string's own bytes: the rest of its last word belongs to the next string
        # (shifted out: up, then down, by the bytes the word has too many)
        extra = ((8 - np.minimum(np.repeat(lengths, counts) - 8 * k, 8)) * 8).astype(np.uint64)
        word = (word << extra) >> extra
        mixed = _mix(word + k.astype(np.uint64) * _COLUMN_FACTOR)
        nonempty = counts > 0
        sums[nonempty] = np.add.reduceat(mixed, first_word[nonempty])
    length_part = lengths.astype(np.uint64)
    length_part *= _LENGTH_FACTOR
    length_part += _TEXT_SEED
    np.bitwise_xor(sums, length_part, out=sums)
    hashes = _mix_in_place(sums, length_part)
    if text.null_count:
        hashes[~np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = _NULL_TEXT
    return hashes


def _mix_in_place(h: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (fmix64) into ``h`` itself (``scratch``: a uint64 array of the same length, overwritten)."""
    for factor in (_U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53), None):
        np.right_shift(h, _U64(33), out=scratch)
        np.bitwise_xor(h, scratch, out=h)
        if factor is not None:
            np.multiply(h, factor, out=h)
    return h


def _mix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, a bijection that spreads every input bit over the output, into a new array."""
    return _mix_in_place(np.array(h, dtype=np.uint64), np.empty(len(h), dtype=np.uint64))


class SeenKeys:
    """A run's distinct key hashes as a few sorted uint64 runs: 8 bytes a key (a Python set takes ~70).

    Each chunk's new keys come as a sorted run; runs of similar size are merged (a stable sort of
    two sorted runs is a linear merge), but never beyond MAX_RUN keys. One sorted array merged
    with every chunk needed two more copies of itself at each merge: at 5M distinct rows the
    dedupe step briefly held ~120 MB instead of 40. A lookup searches each run (a handful).
    A merge sorts the joined runs in place, once the two it joins are let go: 5M keys peaked at
    47 MB instead of 53 MB, a little faster.
    """

    MAX_RUN = 1 << 20  # keys (8 MB): the largest merge, so the most a merge adds for a moment

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    @property
    def nbytes(self) -> int:
        return sum(run.nbytes for run in self._runs)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        if not len(hashes):
            return found
        for run in self._runs:
            at = np.searchsorted(run, hashes)
            at[at == len(run)] = len(run) - 1
            found |= run[at] == hashes
        return found

    def add_unique_sorted(self, hashes: np.ndarray) -> None:
        """Add keys that are sorted, distinct and not yet seen."""
        if not len(hashes):
            return
        runs = self._runs
        runs.append(np.array(hashes, dtype=np.uint64))
        # Merge the newest run into the one before while that one is no more than twice its size
        # (runs then grow geometrically: few of them), up to MAX_RUN keys.
        while len(runs) >= 2 and len(runs[-2]) <= 2 * len(runs[-1]) and len(runs[-2]) + len(runs[-1]) <= self.MAX_RUN:
            merged = np.concatenate([runs[-2], runs.pop()])
            runs[-1] = merged  # the two runs it joins are let go before the sort takes its buffer
            merged.sort(kind="stable")


def first_occurrences(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask of each key's first row, the distinct keys sorted, each row's position among them)."""
    distinct, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    mask = np.zeros(len(hashes), dtype=bool)
    mask[first] = True
    return mask, distinct, inverse.reshape(-1)
