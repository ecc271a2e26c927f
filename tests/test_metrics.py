"""Retrieval metrics on hand-made cases with known ranks, and chunked == full computation."""

from __future__ import annotations

import numpy as np
import pytest

from model.metrics import (
    macro_summary,
    per_group,
    ranks,
    ranks_chunked,
    relevance,
    small_batch_metrics,
    small_batches,
    summarize,
)


def test_known_ranks():
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.3],  # own item (0) first -> 1
            [0.5, 0.4, 0.6, 0.1],  # own item (1) below two others -> 3
            [0.3, 0.3, 0.3, 0.3],  # all tied: 1 + 3/2 -> 2.5
            [0.2, 0.8, 0.1, 0.5],  # own item (3) second -> 2
        ]
    )
    r = ranks(scores, np.eye(4, dtype=bool))
    np.testing.assert_array_equal(r, [1, 3, 2.5, 2])
    m = summarize(r)
    assert m["R@1"] == 25.0 and m["R@2"] == 50.0 and m["R@3"] == 100.0 and m["MedR"] == 2.25


def test_label_relevance_takes_the_best_relevant_item():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    own = np.array([[True, False, False, False]])
    assert ranks(scores, own)[0] == 4
    labels = relevance([("walk", "happy")], [("walk", "happy"), ("run", "sad"), ("walk", "sad"), ("walk", "happy")])
    assert labels.tolist() == [[True, False, False, True]]
    assert ranks(scores, labels | own)[0] == 2  # item 3 shares the labels and is beaten only by item 1


def test_constant_scores_give_chance_level():
    n = 101
    r = ranks(np.zeros((n, n)), np.eye(n, dtype=bool))
    assert np.all(r == (n + 1) / 2)


def test_chunked_equals_full():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(257, 300)).round(1)  # rounding makes ties
    relevant = rng.random((257, 300)) < 0.02
    relevant[np.arange(257), np.arange(257)] = True
    full = ranks(scores, relevant)
    for chunk in (1, 7, 64, 1000):
        np.testing.assert_array_equal(ranks_chunked(lambda s: scores[s], relevant, chunk), full)


def test_small_batches_are_seeded_and_cover_items_once():
    ids = [f"item{i:03d}" for i in range(100)]
    a, b = small_batches(ids, 32, seed=1), small_batches(list(reversed(ids)), 32, seed=1)
    assert [x.tolist() for x in a] != [x.tolist() for x in small_batches(ids, 32, seed=2)]
    assert len(a) == 3 and all(len(x) == 32 for x in a)
    assert len(set(np.concatenate(a).tolist())) == 96
    assert [sorted(ids[i] for i in x) for x in a] == [sorted(list(reversed(ids))[i] for i in x) for x in b]


def test_small_batch_metrics_perfect_and_errors():
    n = 64
    scores = np.eye(n)
    m = small_batch_metrics(scores, np.eye(n, dtype=bool), [str(i) for i in range(n)])
    assert m["R@1"] == 100.0 and m["MedR"] == 1.0
    with pytest.raises(ValueError, match="relevant"):
        ranks(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool))


def test_macro_recall_weighs_every_content_equally():
    # three "walk" queries found first, one "kick" query at rank 7: micro R@1 75 %, macro R@1 50 %
    scores = np.array(
        [
            [0.9, 0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5],
            [0.1, 0.9, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5],
            [0.1, 0.1, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5],
            [0.8, 0.8, 0.8, 0.1, 0.8, 0.8, 0.8, 0.05],  # its own item 3 scores below six others
        ]
    )
    r = ranks(scores, np.eye(4, 8, dtype=bool))
    np.testing.assert_array_equal(r, [1, 1, 1, 7])
    contents = ["walk", "walk", "walk", "kick"]
    assert summarize(r)["R@1"] == 75.0
    macro = macro_summary(r, contents)
    assert macro["R@1"] == 50.0 and macro["R@5"] == 50.0 and macro["R@10"] == 100.0 and macro["groups"] == 2
    per = per_group(r, contents)
    assert per["walk"]["R@1"] == 100.0 and per["walk"]["n"] == 3
    assert per["kick"]["R@5"] == 0.0 and per["kick"]["MedR"] == 7.0 and per["kick"]["n"] == 1


def test_macro_recall_needs_matching_groups():
    with pytest.raises(ValueError, match="differ in shape"):
        macro_summary(np.array([1.0, 2.0]), ["walk"])
    with pytest.raises(ValueError, match="no queries"):
        macro_summary(np.array([]), [])
