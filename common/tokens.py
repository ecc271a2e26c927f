"""Motion tokens stored compactly: integer codes with one float32 scale per token (torch-free).

A library keeps every motion's tokens for the exact rescoring of a search (Eq. 8). As float32 a
token of 128 dimensions is 512 bytes. Here it is symmetric scalar quantization per token
(``code = round(x / scale)``, ``scale = max|x| / L``) with 16-bit codes (``L`` = 32,767; 256 bytes
a token, the default) or 8-bit codes (``L`` = 127; 128 bytes). Stored, a token is one row of bytes:
its codes, its scale and its weight (``pack``). A code's rounding error is at most ``max|x| / 2L``
per dimension. Measured (docs/server.md, *The index*): on the model's test split, motion tokens
through 8-bit codes moved the strict-pairing recalls by up to 0.5 points (near-ties among clips of
one label trade places), 16-bit codes by none; both cost the same to rescore (numpy converts either
to float32 at the same speed, float16 ten times slower). The index (``server.token_store``, the
``qdrant-client`` payload copy) and the model's evaluation through compressed tokens share this module.
"""

from __future__ import annotations

import numpy as np

BITS = 16  # the default code width
CODES = {8: np.int8, 16: np.int16}


def _codes(bits: int) -> type:
    if bits not in CODES:
        raise ValueError(f"tokens are stored with 8- or 16-bit codes, not {bits}")
    return CODES[bits]


def quantize(tokens: np.ndarray, bits: int = BITS) -> tuple[np.ndarray, np.ndarray]:
    """``tokens`` (..., D) float → (integer codes (..., D), float32 scales (...,)); an all-zero token has scale 0.
    Codes are symmetric (``-x`` is coded as exactly minus ``x``'s code)."""
    dtype = _codes(bits)
    x = np.asarray(tokens, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("tokens must be finite to be quantized")
    scales = np.abs(x).max(axis=-1) / np.iinfo(dtype).max
    safe = np.where(scales > 0, scales, 1.0)
    codes = np.rint(x / safe[..., None]).astype(dtype)
    return codes, scales.astype(np.float32)


def dequantize(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 tokens that ``codes`` and ``scales`` stand for."""
    tokens = codes.astype(np.float32)
    tokens *= scales[..., None]
    return tokens


def roundtrip(tokens: np.ndarray, bits: int = BITS) -> np.ndarray:
    """``tokens`` as the index returns them after storing them (quantized, then dequantized)."""
    return dequantize(*quantize(tokens, bits))


def row_bytes(dim: int, bits: int = BITS) -> int:
    """Bytes of one stored token: its codes, scale and weight."""
    return dim * np.dtype(_codes(bits)).itemsize + 8


def pack(tokens: np.ndarray, weights: np.ndarray, bits: int = BITS) -> np.ndarray:
    """Tokens (N, D) and their weights (N,) as stored: (N, row_bytes) bytes per row, the little-endian codes,
    then the scale and the weight as little-endian float32."""
    codes, scales = quantize(tokens, bits)
    rows = np.empty((len(codes), row_bytes(codes.shape[1], bits)), dtype=np.uint8)
    rows[:, :-8] = codes.astype(codes.dtype.newbyteorder("<")).view(np.uint8)
    rows[:, -8:] = np.stack([scales, np.asarray(weights, np.float32)], 1).astype("<f4").view(np.uint8)
    return rows


def unpack(rows: np.ndarray, bits: int = BITS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows written by :func:`pack` → codes (N, D), scales (N,) and weights (N,)."""
    floats = np.ascontiguousarray(rows[:, -8:]).view("<f4")
    codes = np.ascontiguousarray(rows[:, :-8]).view(np.dtype(_codes(bits)).newbyteorder("<"))
    return codes, floats[:, 0], floats[:, 1]
