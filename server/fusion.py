"""Fusing two rankings of the library, torch-free: the learned Eq. 8 similarity and the metadata similarity.

The learned ranking is the index's two-stage search (pooled prefetch, exact Eq. 8); the metadata ranking
is the query's frozen sentence embedding against each motion's metadata embedding (``server.metadata``).
Each gives its best candidates, best first; :func:`fuse` merges them into one ranking:

* ``rrf`` (reciprocal-rank fusion): ``(1 - w) / (k + rank_learned) + w / (k + rank_metadata)``, a list a
  motion is absent from adding nothing;
* ``weighted``: ``(1 - w) * z_learned + w * z_metadata`` of each list's standardised scores, a motion absent
  from a list taking that list's lowest.

``w`` (``Fusion.weight``) is the second ranking's share (the metadata's): 0 ranks by the first (learned)
ranking alone, 1 by the second alone. A spoken query fuses the same way two other rankings: the end-to-end
speech ranking and its transcript's (``SPEECH``). The default method and weight are the ones
``python -m bench.fusion`` chose on the validation queries of ``eval/queries.jsonl`` (see docs/server.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("rrf", "weighted")


@dataclass(frozen=True)
class Fusion:
    method: str = "rrf"
    weight: float = 0.5  # the metadata ranking's share, 0..1
    k: float = 10.0  # rrf's rank offset

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}: {', '.join(METHODS)}")
        if not 0.0 <= self.weight <= 1.0:  # also false for NaN
            raise ValueError(f"fusion weight {self.weight} is not in [0, 1]")


# chosen by ``python -m bench.fusion`` on the validation queries over the full Bandai Namco library with the shipped
# text encoder (top-5 93.9 %, tied with weighted 0.5; top-1 84.8 % against 81.8 %):
# bench/results/fusion-kinematic-text.json (weighted 0.5 was chosen the same way for the models before it); kept
# with the action blended into the metadata vector (server.metadata.ACTION_SHARE), where it ties weighted 0.5 and
# 0.85 and rrf 0.7 on validation (top-5 100 %, top-1 93.9 %): bench/results/fusion-action.json; and with the
# grammar's synonyms in it, over 73 validation queries, where it ties weighted 0.85 and rrf 0.85 (top-5 97.3 %,
# top-1 94.5 %): bench/results/fusion-synonyms.json
DEFAULT = Fusion("weighted", 0.7)

# a library whose clips mostly have no words of their own (numbered takes: no description, no content label;
# ``Library.wordless``), where the metadata is the kinematic captioner's sentence of each clip: chosen by
# ``python -m bench.fusion --no-words`` on the validation queries (top-5 69.7 %, the learned ranking alone 63.6 %,
# DEFAULT 60.6 %): bench/results/fusion-no-words.json; chosen again with each clip's kinematic action in its
# metadata vector (server.metadata.MOTION_SHARE) over 73 validation queries, tied with k 60 (top-5 79.5 %, the
# learned ranking alone 69.9 %): bench/results/fusion-no-words-captions.json
WORDLESS = Fusion("rrf", 0.5, 10.0)

Ranked = list[tuple[str, float]]  # (key, score), best first


def _standardised(scores: np.ndarray) -> np.ndarray:
    return (scores - scores.mean()) / max(float(scores.std()), 1e-6) if len(scores) else scores


def fuse(learned: Ranked, metadata: Ranked, fusion: Fusion = DEFAULT) -> Ranked:
    """One ranking of every key in either list (best first; ties keep the learned order, then the metadata's)."""
    keys = list(dict.fromkeys([k for k, _ in learned] + [k for k, _ in metadata]))
    score = dict.fromkeys(keys, 0.0)
    for share, ranking in ((1.0 - fusion.weight, learned), (fusion.weight, metadata)):
        if fusion.method == "rrf":
            for rank, (key, _) in enumerate(ranking, 1):
                score[key] += share / (fusion.k + rank)
            continue
        z = _standardised(np.array([s for _, s in ranking], dtype=np.float64))
        have = {key: float(v) for (key, _), v in zip(ranking, z)}
        floor = float(z.min()) if len(z) else 0.0
        for key in keys:
            score[key] += share * have.get(key, floor)
    return sorted(score.items(), key=lambda item: -item[1])  # stable: ties keep the order of ``keys``


# a spoken query with speech recognition: the end-to-end speech ranking fused with its transcript's ranking as typed
# (learned + metadata at DEFAULT); ``weight`` is the transcript's share. Chosen by ``python -m bench.spoken`` on the
# validation queries spoken by the five test-only voices (top-5 79.4 %, the transcript alone 78.2 %, speech alone
# 55.8 %): bench/results/spoken.json. With the metadata's action string and the primed recogniser it scores top-1 /
# top-5 77.6 / 85.5 % there; rrf at 0.5 reaches 87.9 % top-5 but 54.5 % top-1, so this one stays:
# bench/results/spoken-action.json; with the synonyms, over 365 validation utterances, 79.2 / 82.5 % against rrf
# 0.5's 53.2 / 85.8 %: bench/results/spoken-synonyms.json
SPEECH = Fusion("weighted", 0.7)
