"""Motion tokens stored compactly: int8 codes with one float32 scale per token (torch-free).

A library keeps every motion's tokens for the exact rescoring of a search (Eq. 8). As float32 a
token of 128 dimensions is 512 bytes; here it is 128 one-byte codes and a 4-byte scale
(symmetric scalar quantization per token: ``code = round(x / scale)``, ``scale = max|x| / 127``),
3.8x smaller. Stored, a token is one row of bytes: its codes, its scale and its weight (``pack``).
The tokens are unit vectors, so a code's rounding error is at most ``max|x| / 254`` per
dimension; on a query's Eq. 8 score the errors of many token products average out
(``bench/index_search.py`` measures what that does to the top 10 against float32,
``tests/test_tokens.py`` bounds the error). The index (``server.token_store``, the
``qdrant-client`` payload copy) and the model's evaluation through compressed tokens share
this module.
"""

from __future__ import annotations

import numpy as np

LEVELS = 127  # codes in [-127, 127]: symmetric, so -x is coded as exactly minus x's code


def quantize(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tokens`` (..., D) float → (int8 codes (..., D), float32 scales (...,)); an all-zero token has scale 0."""
    x = np.asarray(tokens, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("tokens must be finite to be quantized")
    scales = np.abs(x).max(axis=-1) / LEVELS
    safe = np.where(scales > 0, scales, 1.0)
    codes = np.rint(x / safe[..., None]).astype(np.int8)
    return codes, scales.astype(np.float32)


def dequantize(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 tokens that ``codes`` and ``scales`` stand for."""
    tokens = codes.astype(np.float32)
    tokens *= scales[..., None]
    return tokens


def roundtrip(tokens: np.ndarray) -> np.ndarray:
    """``tokens`` as the index returns them after storing them (quantized, then dequantized)."""
    return dequantize(*quantize(tokens))


def pack(tokens: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Tokens (N, D) and their weights (N,) as stored: (N, D + 8) bytes per row, the int8 codes, then the scale
    and the weight as little-endian float32."""
    codes, scales = quantize(tokens)
    rows = np.empty((len(codes), codes.shape[1] + 8), dtype=np.uint8)
    rows[:, :-8] = codes.view(np.uint8)
    rows[:, -8:] = np.stack([scales, np.asarray(weights, np.float32)], 1).astype("<f4").view(np.uint8)
    return rows


def unpack(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows written by :func:`pack` → int8 codes (N, D) (a view), scales (N,) and weights (N,)."""
    floats = np.ascontiguousarray(rows[:, -8:]).view("<f4")
    return rows[:, :-8].view(np.int8), floats[:, 0], floats[:, 1]
