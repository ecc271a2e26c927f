"""The compressed token format (common.tokens): 8- or 16-bit codes with a scale per token, packed rows, error
bounds."""

from __future__ import annotations

import numpy as np
import pytest

from common.tokens import dequantize, pack, quantize, roundtrip, row_bytes, unpack
from server.similarity import eq8, eq8_many


def unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize(("bits", "dtype", "top", "worst"), [(8, np.int8, 127, 2e-3), (16, np.int16, 32767, 1e-5)])
def test_codes_round_to_within_half_a_step(bits, dtype, top, worst):
    tokens = unit(500, 128, 0)
    codes, scales = quantize(tokens, bits)
    assert codes.dtype == dtype and scales.dtype == np.float32 and np.abs(codes).max() == top
    err = np.abs(dequantize(codes, scales) - tokens)
    assert (err <= scales[:, None] / 2 + 1e-7).all()
    assert err.max() < worst  # unit tokens of 128 dims: max|x| is small, so is its step


def test_only_8_and_16_bit_codes():
    with pytest.raises(ValueError, match="8- or 16-bit"):
        quantize(unit(2, 8, 0), 4)


def test_a_zero_token_and_a_negated_token():
    tokens = unit(3, 16, 1)
    tokens[1] = 0
    tokens[2] = -tokens[0]
    codes, scales = quantize(tokens)
    assert scales[1] == 0 and not codes[1].any()
    np.testing.assert_array_equal(codes[2], -codes[0])  # symmetric codes


@pytest.mark.parametrize("bits", [8, 16])
def test_pack_and_unpack_are_inverse(bits):
    tokens, weights = unit(40, 64, 2), np.random.default_rng(3).random(40).astype(np.float32)
    rows = pack(tokens, weights, bits)
    assert rows.shape == (40, row_bytes(64, bits)) == (40, 64 * bits // 8 + 8) and rows.dtype == np.uint8
    codes, scales, back = unpack(rows, bits)
    np.testing.assert_array_equal(back, weights)
    np.testing.assert_array_equal(dequantize(codes, scales), roundtrip(tokens, bits))


def test_non_finite_tokens_are_refused():
    tokens = unit(4, 8, 4)
    tokens[2, 3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        quantize(tokens)


def test_eq8_on_codes_with_scales_is_eq8_on_the_dequantized_tokens_and_near_float32():
    q, a = unit(16, 128, 5), np.full(16, 1 / 16, np.float32)
    motions = [unit(104, 128, 10 + i) for i in range(20)]
    weights = [np.random.default_rng(i).dirichlet(np.ones(104)).astype(np.float32) for i in range(20)]
    (
        codes,
        scales,
        w,
    ) = unpack(pack(np.concatenate(motions), np.concatenate(weights)))
    starts = np.arange(0, 20 * 104, 104)
    scores = eq8_many(q, a, codes, w, starts, "max", scales)
    np.testing.assert_allclose(scores, eq8_many(q, a, dequantize(codes, scales), w, starts, "max"), atol=1e-6)
    exact = np.array([eq8(q, a, m, b) for m, b in zip(motions, weights)])
    assert np.abs(scores - exact).max() < 5e-4  # the rounding errors of many token products average out
