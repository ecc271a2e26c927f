"""The model's mathematics: Eq. 8 against a loop, masks, losses, and every ablation variant running."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from model.modeling import (
    ModelConfig,
    MotionSearchModel,
    Tokens,
    info_nce,
    kl_contrastive,
    segment_means,
    sequence_similarity,
)
from motion.body_parts import body_parts

PARTS = [p.columns for p in body_parts()]


def random_tokens(n: int, length: int, dim: int, seed: int) -> Tokens:
    g = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(n, length, dim, generator=g), dim=-1)
    lengths = torch.randint(1, length + 1, (n,), generator=g)
    mask = torch.arange(length)[None] < lengths[:, None]
    logits = torch.randn(n, length, generator=g).masked_fill(~mask, float("-inf"))
    return Tokens(x, mask, torch.softmax(logits, -1))


def loop_similarity(a: Tokens, b: Tokens, aggregation: str) -> torch.Tensor:
    out = torch.zeros(a.x.shape[0], b.x.shape[0])
    for i, j in itertools.product(range(a.x.shape[0]), range(b.x.shape[0])):
        ax, bx = a.x[i][a.mask[i]], b.x[j][b.mask[j]]
        aw, bw = a.weights[i][a.mask[i]], b.weights[j][b.mask[j]]
        dots = ax @ bx.T
        pick = (lambda d, dim: d.max(dim).values) if aggregation == "max" else (lambda d, dim: d.mean(dim))
        out[i, j] = 0.5 * ((aw * pick(dots, 1)).sum() + (bw * pick(dots, 0)).sum())
    return out


@pytest.mark.parametrize("aggregation", ["max", "mean"])
def test_eq8_matches_a_loop_and_respects_masks(aggregation):
    a, b = random_tokens(5, 7, 16, 0), random_tokens(4, 3, 16, 1)
    expected = loop_similarity(a, b, aggregation)
    torch.testing.assert_close(sequence_similarity(a, b, aggregation), expected)
    torch.testing.assert_close(sequence_similarity(a, b, aggregation, chunk=2), expected)
    garbage = Tokens(a.x.masked_fill(~a.mask[..., None], 7.0), a.mask, a.weights)  # padding must not matter
    torch.testing.assert_close(sequence_similarity(garbage, b, aggregation), expected)


def test_single_tokens_reduce_to_cosine():
    a, b = random_tokens(3, 1, 8, 2), random_tokens(4, 1, 8, 3)
    torch.testing.assert_close(sequence_similarity(a, b), a.x[:, 0] @ b.x[:, 0].T)


def test_kl_with_identity_targets_is_infonce_and_label_positives_share_mass():
    logits = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    eye = torch.eye(6, dtype=torch.bool)
    entropy_free = info_nce(logits)  # KL(one-hot || p) = cross-entropy
    torch.testing.assert_close(kl_contrastive(logits, eye), entropy_free)
    positives = eye.clone()
    positives[0, 1] = positives[1, 0] = True
    perfect = torch.where(positives, 10.0, -10.0)
    assert kl_contrastive(perfect, positives) < 1e-3 < kl_contrastive(perfect, eye)


def test_segment_means():
    x = torch.arange(10, dtype=torch.float32).view(1, 10, 1).repeat(2, 1, 1)
    mask = torch.tensor([[True] * 10, [True] * 3 + [False] * 7])
    out = segment_means(x, mask, 5)[..., 0]
    torch.testing.assert_close(out[0], torch.tensor([0.5, 2.5, 4.5, 6.5, 8.5]))
    assert torch.isfinite(out[1]).all() and out[1].max() <= 2  # short sequences repeat frames, never padding


def batch(cfg: ModelConfig, n: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)
    lengths = {"motion": 40, "text": 9, "speech": 60, "video": cfg.video_frames}
    dims = {"motion": 263, "text": cfg.text_in, "speech": cfg.speech_in, "video": cfg.video_in}
    out = {}
    for m in cfg.modalities:
        x = torch.randn(n, lengths[m], dims[m], generator=g)
        mask = torch.arange(lengths[m])[None] < torch.tensor([lengths[m], lengths[m] - 3, 5, lengths[m] // 2])[:n, None]
        out[m] = (x, mask)
    return out


VARIANTS = {
    "paper": {},
    "global": {"alignment": "global"},
    "mean": {"aggregation": "mean"},
    "no-parts": {"body_parts": False},
    "two-modal": {"modalities": ["motion", "text"]},
    "three-modal": {"modalities": ["motion", "text", "video"]},
    "avgpool": {"speech_compression": "avgpool"},
    "conv1d": {"speech_compression": "conv1d"},
    "cls": {"speech_compression": "cls"},
    "no-recon": {"recon_weight": 0.0},
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_a_step(variant):
    torch.manual_seed(0)
    small = {"dim": 32, "heads": 2, "motion_layers": 2, "video_layers": 1, "text_layers": 1, "speech_layers": 1}
    cfg = ModelConfig.from_dict({**small, **VARIANTS[variant]})
    model = MotionSearchModel(cfg, PARTS)
    data = batch(cfg)
    positives = torch.eye(4, dtype=torch.bool)
    out = model(data, positives)
    pairs = len(cfg.modalities) * (len(cfg.modalities) - 1) // 2
    assert len([k for k in out if "-" in k]) == pairs
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and model.encoders["motion"].embed[0].weight.grad is not None
    model.eval()
    with torch.no_grad():
        tokens = model.encode("motion", *data["motion"])
    expected_tokens = 1 if cfg.alignment == "global" else (8 if cfg.body_parts else 1) * 40 // 2 ** (2 // 2)
    assert tokens.x.shape == (4, expected_tokens, 32)
    torch.testing.assert_close(tokens.weights.sum(1), torch.ones(4))


@pytest.mark.parametrize("patch", [1, 4])
def test_motion_tokens_ignore_padding(patch):
    torch.manual_seed(0)
    cfg = ModelConfig(dim=32, heads=2, motion_layers=4, motion_patch=patch)
    encoder = MotionSearchModel(cfg, PARTS).encoders["motion"].eval()
    frames = 30 * patch  # with patches of 4: 120 frames (the padding starts on a patch boundary)
    x = torch.randn(1, frames, 263)
    padded = torch.cat([x, torch.randn(1, 10 * patch + 3, 263)], 1)
    mask = torch.arange(padded.shape[1])[None] < frames
    with torch.no_grad():
        alone = encoder(x, torch.ones(1, frames, dtype=torch.bool))
        inside = encoder(padded, mask)
    valid = inside.mask[0]
    assert valid.sum() == alone.mask.sum() == 8 * 8  # 30 steps -> 15 -> 8 per part
    torch.testing.assert_close(inside.x[0][valid], alone.x[0][alone.mask[0]], atol=1e-5, rtol=1e-4)


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="unknown model config key"):
        ModelConfig.from_dict({"dimension": 3})
    with pytest.raises(ValueError, match="speech_compression"):
        ModelConfig.from_dict({"speech_compression": "zip"})
    with pytest.raises(ValueError, match="motion plus"):
        ModelConfig.from_dict({"modalities": ["text", "speech"]})
    assert np.isclose(ModelConfig().temperature, 0.07)
