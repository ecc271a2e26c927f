"""The embedded index's token store: every motion's tokens and weights in one memory-mapped file.

The exact rescoring of a search (Eq. 8, both directions) needs its candidates' tokens and
weights. Reading them back from Qdrant costs more than the whole rest of a query (a payload
copy is parsed per point; the multivector comes back as thousands of Python floats), so the
embedded index keeps them beside its shard: one append-only file of float32 rows, each a token
followed by its weight, memory-mapped for reading. A motion is a run of rows; its
``[start, length]`` lives in the point's payload, which stays the one source of truth.
Float32, not float16: the rescoring reads hundreds of candidates per query, and converting
their tokens from float16 cost eight times the copy (25 vs 2.4 ms for 500 motions of 104
tokens); the file is twice the size (512 bytes per token at 128 dimensions).

Rows are appended and flushed *before* the point that references them is written, so a crash
leaves at most some unreferenced rows (and a torn last row, cut off on the next open). A
re-ingested or deleted motion leaves its old rows behind as garbage; the server's libraries
are rebuilt into a new folder for a new model, which is when the garbage goes.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np


class TokenStore:
    FILE = "tokens.rows"

    def __init__(self, folder: str | Path, dim: int) -> None:
        self.path = Path(folder) / self.FILE
        self.dim = dim
        self.row = np.dtype(("<f4", (dim + 1,)))  # the token, then its weight
        self.path.touch()
        size = self.path.stat().st_size
        if size % self.row.itemsize:  # a row torn by a crash: never referenced, cut it off
            os.truncate(self.path, size - size % self.row.itemsize)
        self._size = size // self.row.itemsize  # rows written; a mapping shorter than this is stale
        self._rows = np.empty((0, dim + 1), np.float32)

    def __len__(self) -> int:
        return self._size

    def append(self, tokens: list[np.ndarray], weights: list[np.ndarray]) -> list[tuple[int, int]]:
        """Write motions' rows durably; their ``(start, length)`` in the store."""
        rows = np.empty((sum(len(t) for t in tokens), self.dim + 1), dtype="<f4")
        rows[:, : self.dim] = np.concatenate(tokens)
        rows[:, self.dim] = np.concatenate(weights)
        start = self._size
        with open(self.path, "ab") as file:
            file.write(rows.tobytes())
            file.flush()
            os.fsync(file.fileno())
        self._size += len(rows)  # before the caller publishes the spans: readers then map the new rows
        spans, at = [], start
        for t in tokens:
            spans.append((at, len(t)))
            at += len(t)
        return spans

    def rows(self) -> np.ndarray:
        """Every row, (rows, dim + 1), read-only, over a memory map (a plain array: ``np.memmap`` slices cost
        3x more).

        Mapped again whenever the mapping holds fewer rows than were written, so a search on another
        thread that mapped the file just before an append never keeps a mapping without the new rows.
        """
        rows = self._rows
        if len(rows) < self._size:
            with open(self.path, "rb") as file:
                rows = np.frombuffer(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ), "<f4")
            rows = rows.reshape(-1, self.dim + 1)
            self._rows = rows
        return rows

    def read(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """One motion's tokens (float32) and weights."""
        tokens, weights, _ = self.gather([(start, length)])
        return tokens, weights

    def gather(self, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Several motions at once: their tokens and weights concatenated (views of one copy), and where
        each one starts."""
        rows = self.rows()
        picked = np.concatenate([rows[s : s + n] for s, n in spans]) if spans else rows[:0]
        starts = np.cumsum([0] + [n for _, n in spans])[:-1]
        return picked[:, : self.dim], picked[:, self.dim], starts

    def close(self) -> None:
        self._rows = np.empty((0, self.dim + 1), np.float32)
