"""Retrieval metrics: recall at k and median rank under the paper's protocols (numpy only).

A query's *rank* is where its first relevant gallery item lands: one plus the
number of irrelevant items scored higher than the best relevant one, plus half
the irrelevant items tied with it (ties averaged, so a constant scorer earns
chance-level numbers rather than perfect ones).

Protocols (see docs/model.md):

* *All*, strict: the gallery is the whole test set; only the query's own item is relevant.
* *All*, with label relevance: every item with the same (content, style), or
  the same content only, is relevant as well.
* *Small batches*: ids sorted, shuffled with a seed, cut into batches of 32;
  each batch is its own gallery; metrics are averaged over the batches.
* *Macro-averaged*: R@k per group of queries (their content label), then the mean over
  the groups, so a content with two clips weighs as much as one with two hundred.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

RECALL_AT = (1, 2, 3, 5, 10)


def ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Rank (1-based, ties averaged) of the best relevant gallery item for each query row."""
    scores = np.asarray(scores, dtype=np.float64)
    relevant = np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevance {relevant.shape} differ in shape")
    if not relevant.any(axis=1).all():
        raise ValueError("every query needs at least one relevant gallery item")
    best = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    irrelevant = ~relevant
    higher = (irrelevant & (scores > best)).sum(axis=1)
    tied = (irrelevant & (scores == best)).sum(axis=1)
    return 1.0 + higher + 0.5 * tied


def ranks_chunked(score_rows: Callable[[slice], np.ndarray], relevant: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """:func:`ranks` computed ``chunk`` queries at a time; ``score_rows(slice)`` gives those rows of the scores."""
    n = relevant.shape[0]
    return np.concatenate([ranks(score_rows(slice(i, i + chunk)), relevant[i : i + chunk]) for i in range(0, n, chunk)])


def summarize(rank: np.ndarray) -> dict[str, float]:
    """R@k in percent and the median rank."""
    rank = np.asarray(rank, dtype=np.float64)
    out = {f"R@{k}": round(100.0 * float(np.mean(rank <= k)), 2) for k in RECALL_AT}
    out["MedR"] = float(np.median(rank))
    return out


def per_group(rank: np.ndarray, groups: list) -> dict[str, dict[str, float]]:
    """:func:`summarize` of the queries of each group (e.g. each query's content label), with their number ``n``."""
    rank, groups = np.asarray(rank, dtype=np.float64), np.asarray(groups)
    if rank.shape != groups.shape:
        raise ValueError(f"ranks {rank.shape} and groups {groups.shape} differ in shape")
    return {str(g): {**summarize(rank[groups == g]), "n": int((groups == g).sum())} for g in sorted(set(groups))}


def macro_summary(rank: np.ndarray, groups: list) -> dict[str, float]:
    """R@k averaged over the groups with equal weight (each group's own R@k first), and the number of groups."""
    per = per_group(rank, groups)
    if not per:
        raise ValueError("no queries: no group to average")
    out = {f"R@{k}": round(float(np.mean([g[f"R@{k}"] for g in per.values()])), 2) for k in RECALL_AT}
    return out | {"groups": len(per)}


def relevance(query_keys: list, gallery_keys: list) -> np.ndarray:
    """Boolean matrix: query i and gallery item j share a key (an item id, a (content, style) pair, ...)."""
    codes: dict = {}
    q = np.asarray([codes.setdefault(k, len(codes)) for k in query_keys])
    g = np.asarray([codes.setdefault(k, len(codes)) for k in gallery_keys])
    return q[:, None] == g[None, :]


def small_batches(ids: list[str], size: int = 32, seed: int = 0) -> list[np.ndarray]:
    """Index batches of ``size``: ids sorted, then shuffled with ``seed``; the last short batch is dropped."""
    order = np.argsort(np.asarray(ids), kind="stable")
    order = order[np.random.default_rng(seed).permutation(len(order))]
    return [order[i : i + size] for i in range(0, len(order) - size + 1, size)]


def small_batch_metrics(
    scores: np.ndarray, relevant: np.ndarray, ids: list[str], size: int = 32, seed: int = 0
) -> dict[str, float]:
    """Metrics averaged over batches where queries and gallery are the same ``size`` items (paired rows)."""
    per_batch = []
    for batch in small_batches(ids, size, seed):
        sub = np.ix_(batch, batch)
        per_batch.append(summarize(ranks(scores[sub], relevant[sub])))
    if not per_batch:
        raise ValueError(f"fewer than {size} items: no small batch")
    return {k: round(float(np.mean([b[k] for b in per_batch])), 2) for k in per_batch[0]}
