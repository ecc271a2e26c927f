"""Eq. 8 once: the serving definition (numpy) against the training one (torch), and the server scoring with
the aggregation the model was trained with, read from the bundle."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from exporter.bundle import Bundle, BundleError, Preprocessing
from model.modeling import Tokens, sequence_similarity
from server.encoders import Encoders
from server.serve import open_library, source_clips
from server.similarity import Similarity, eq8, eq8_many


def random_tokens(n: int, length: int, dim: int, seed: int) -> Tokens:
    """``n`` sequences of 1..length unit tokens (the rest padding, filled with garbage) with softmax weights."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.normalize(torch.randn(n, length, dim, generator=g), dim=-1)
    lengths = torch.randint(1, length + 1, (n,), generator=g)
    mask = torch.arange(length)[None] < lengths[:, None]
    x = x.masked_fill(~mask[..., None], 5.0)
    weights = torch.softmax(torch.randn(n, length, generator=g).masked_fill(~mask, float("-inf")), dim=-1)
    return Tokens(x, mask, weights)


def unpadded(t: Tokens, i: int) -> tuple[np.ndarray, np.ndarray]:
    return t.x[i][t.mask[i]].numpy(), t.weights[i][t.mask[i]].numpy()


@pytest.mark.parametrize("aggregation", ["max", "mean"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_serving_eq8_is_the_training_eq8(aggregation, seed):
    queries, motions = random_tokens(6, 9, 32, seed), random_tokens(11, 14, 32, seed + 100)
    expected = sequence_similarity(queries, motions, aggregation).numpy()
    items = [unpadded(motions, j) for j in range(len(motions.x))]
    tokens, weights = np.concatenate([t for t, _ in items]), np.concatenate([w for _, w in items])
    starts = np.cumsum([0] + [len(w) for _, w in items])[:-1]
    for i in range(len(queries.x)):
        q, a = unpadded(queries, i)
        one_by_one = [eq8(q, a, m, b, aggregation) for m, b in items]
        np.testing.assert_allclose(one_by_one, expected[i], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(eq8_many(q, a, tokens, weights, starts, aggregation), expected[i], rtol=1e-5,
                                   atol=1e-6)  # fmt: skip
    other = "mean" if aggregation == "max" else "max"
    assert not np.allclose(expected, sequence_similarity(queries, motions, other).numpy(), atol=1e-3)


def bundle_with(similarity: dict) -> Bundle:
    return Bundle("b", 1, 8, {}, similarity, {}, Preprocessing(), {}, {}, {})


def test_the_similarity_is_read_from_the_bundle_and_checked():
    assert Similarity.of(bundle_with({"alignment": "sequence", "aggregation": "mean"})).aggregation == "mean"
    assert (
        Similarity.of(bundle_with({"alignment": "global", "aggregation": "max", "scale": 14.2})).alignment == "global"
    )
    with pytest.raises(BundleError, match="aggregation='median'.*max or mean"):
        Similarity.of(bundle_with({"alignment": "sequence", "aggregation": "median"}))
    with pytest.raises(BundleError, match="alignment='cross'"):
        Similarity.of(bundle_with({"alignment": "cross", "aggregation": "max"}))
    with pytest.raises(BundleError, match="does not say the model's aggregation"):
        Similarity.of(bundle_with({"alignment": "sequence"}))


def test_a_mean_aggregation_bundle_is_served_with_mean(tmp_path, onnx_bundle, demo_clips):
    """The shipped bundle relabelled as a mean-aggregation model: the server's scores are mean Eq. 8."""
    folder = tmp_path / "bundle"
    shutil.copytree(onnx_bundle, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["similarity"]["aggregation"] == "max"
    manifest["similarity"]["aggregation"] = "mean"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    bundle = Bundle.load(folder)
    encoders = Encoders.open(bundle)
    library = open_library(bundle, encoders, tmp_path / "library", None)
    assert library.index.aggregation == "mean"
    clips, _ = source_clips(demo_clips[0].parent)
    assert not library.ingest(clips[:5], progress=False).failed
    q, a = encoders.encode_text(["a person walks forward"])[0]
    hits = library.index.search(q, a, top_k=10)
    windows: dict[str, list] = {}
    for r in library.index.windows():
        windows.setdefault(r.id, []).append(r)
    assert len(hits) == 10
    for hit in hits:  # each motion's score is its best window's
        best = {agg: max(eq8(q, a, r.tokens, r.weights, agg) for r in windows[hit.id]) for agg in ("mean", "max")}
        assert hit.score == pytest.approx(best["mean"], abs=1e-5)
        assert hit.score != pytest.approx(best["max"], abs=1e-3)
    library.index.close()

    manifest["similarity"]["aggregation"] = "median"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot be served.*median"):
        open_library(Bundle.load(folder), encoders, tmp_path / "library", None)
