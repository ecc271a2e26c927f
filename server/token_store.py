"""The embedded index's token store: every motion's tokens and weights, compressed, in one memory-mapped file.

The exact rescoring of a search (Eq. 8, both directions) needs its candidates' tokens and
weights. Reading them back from Qdrant costs more than the whole rest of a query (a payload
copy is parsed per point; a multivector comes back as thousands of Python floats), so the
embedded index keeps them here, the one copy of them: one append-only file of rows, each a
token's integer codes, its float32 scale and its float32 weight (``common.tokens``: 264 bytes per
token at 128 dimensions with the default 16-bit codes, 27 kB per motion of 104 tokens, 136 bytes
with 8-bit codes, against 512 bytes as float32). A search reads only its candidates' rows, each
motion's with one positional read (``os.preadv``, straight into the array it is scored from), so
a library far larger than memory costs only the kernel's page cache of what queries touch. Not a
memory map: faulting in one motion's rows maps the cached pages around them too (and read-ahead
fetches more), all counted as the server's own memory — 19 GB of RSS after 200 searches of
1,000,000 motions, where positional reads cost the same time. A motion is a run of rows; its
``[start, length]`` lives in the point's payload, which stays the one source of truth.

Rescoring reads the codes as they are and applies the scales to the score matrix
(``server.similarity.eq8_many``'s ``scales``): scaling 104 columns per motion instead of
104 x 128 values.

Rows are appended and flushed *before* the point that references them is written, so a crash
leaves at most some unreferenced rows (and a torn last row, cut off on the next open). A
re-ingested or deleted motion leaves its old rows behind as garbage; the server's libraries
are rebuilt into a new folder for a new model, which is when the garbage goes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.tokens import BITS, dequantize, pack, row_bytes, unpack


class TokenStore:
    def __init__(self, folder: str | Path, dim: int, bits: int = BITS) -> None:
        self.path = Path(folder) / self.file(bits)
        self.dim, self.bits = dim, bits
        self.width = row_bytes(dim, bits)  # bytes per row: codes, then the scale and the weight
        self.path.touch()
        size = self.path.stat().st_size
        if size % self.width:  # a row torn by a crash: never referenced, cut it off
            os.truncate(self.path, size - size % self.width)
        self._size = size // self.width  # rows written
        self._fd = os.open(self.path, os.O_RDONLY)  # positional reads only (os.preadv): shared by search threads

    @staticmethod
    def file(bits: int = BITS) -> str:
        return f"tokens.i{bits}"

    def __len__(self) -> int:
        return self._size

    def append(self, tokens: list[np.ndarray], weights: list[np.ndarray]) -> list[tuple[int, int]]:
        """Write motions' rows durably; their ``(start, length)`` in the store."""
        rows = pack(np.concatenate(tokens), np.concatenate(weights), self.bits)
        start = self._size
        with open(self.path, "ab") as file:
            file.write(rows.tobytes())
            file.flush()
            os.fsync(file.fileno())
        self._size += len(rows)  # before the caller publishes the spans that readers then read
        spans, at = [], start
        for t in tokens:
            spans.append((at, len(t)))
            at += len(t)
        return spans

    def read(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """One motion's tokens (float32, as stored: dequantized) and weights."""
        codes, scales, weights, _ = self.gather([(start, length)])
        return dequantize(codes, scales), weights

    def gather(self, spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Several motions at once, concatenated: their tokens' codes (N, D), scales (N,) and weights (N,), and
        where each motion starts."""
        picked = np.empty((sum(n for _, n in spans), self.width), np.uint8)
        into, at = memoryview(picked.reshape(-1)), 0
        for start, n in spans:
            size = n * self.width
            if os.preadv(self._fd, [into[at : at + size]], start * self.width) != size:
                raise ValueError(f"{self.path} ends before rows {start}..{start + n}: the index and its token store "
                                 "disagree; rebuild the library")  # fmt: skip
            at += size
        return *unpack(picked, self.bits), np.cumsum([0] + [n for _, n in spans])[:-1]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
