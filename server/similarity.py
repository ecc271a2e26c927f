"""The paper's Eq. 8 for serving, in numpy (torch-free), and the similarity a bundle was trained with.

Eq. 8 scores a query's tokens ``q`` (weights ``a``) against a motion's tokens ``m`` (weights
``b``): for each token of one side its best match (``max``) or its mean match (``mean``, the
ablation) on the other side, weighted by that side's token weights; the two directions
averaged. The training implementation is ``model.modeling.sequence_similarity`` (torch,
batched, masked); ``tests/test_similarity.py`` checks that the two agree on random tokens,
masks and weights for both aggregations, so training and serving cannot drift apart.

:class:`Similarity` is what the server takes from a bundle's manifest (``similarity``:
``alignment``, ``aggregation``, written by the exporter from the model's config) and checks
that it can serve: ``sequence`` alignment with ``max`` or ``mean`` aggregation, or
``global`` (the graphs then emit one token per input, where both aggregations are the dot
product). Anything else is refused with :class:`~exporter.bundle.BundleError` naming what
the bundle asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exporter.bundle import Bundle, BundleError

ALIGNMENTS = ("sequence", "global")
AGGREGATIONS = ("max", "mean")


def eq8(q: np.ndarray, a: np.ndarray, m: np.ndarray, b: np.ndarray, aggregation: str = "max") -> float:
    """Eq. 8 of one query (``q`` (Lq, D), ``a`` (Lq,)) and one motion (``m`` (Lm, D), ``b`` (Lm,))."""
    s = q @ m.T
    if aggregation == "max":
        return 0.5 * float(a @ s.max(1) + b @ s.max(0))
    return 0.5 * float(a @ s.mean(1) + b @ s.mean(0))


def eq8_many(q: np.ndarray, a: np.ndarray, tokens: np.ndarray, weights: np.ndarray, starts: np.ndarray,
             aggregation: str = "max", scales: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Eq. 8 of one query against many motions at once: ``tokens`` (N, D) and ``weights`` (N,) of all the
    motions concatenated, motion k's starting at row ``starts[k]``. One matrix product, reductions per motion.
    ``scales`` (N,): ``tokens`` are integer codes of the tokens divided by these (``common.tokens``)."""
    s = q @ tokens.T.astype(np.float32, copy=False)  # (Lq, all motions' tokens)
    if scales is not None:
        s *= scales
    if aggregation == "max":
        forward = a @ np.maximum.reduceat(s, starts, axis=1)
        backward = np.add.reduceat(weights * s.max(0), starts)
    else:
        counts = np.diff(np.append(starts, len(weights)))
        forward = a @ (np.add.reduceat(s, starts, axis=1) / counts)
        backward = np.add.reduceat(weights * s.mean(0), starts)
    return 0.5 * (forward + backward)


@dataclass(frozen=True)
class Similarity:
    """How a model compares tokens: ``alignment`` (sequence | global) and ``aggregation`` (max | mean)."""

    alignment: str = "sequence"
    aggregation: str = "max"

    def __post_init__(self) -> None:
        if self.alignment not in ALIGNMENTS or self.aggregation not in AGGREGATIONS:
            raise ValueError(
                f"similarity alignment={self.alignment!r}, aggregation={self.aggregation!r}: this server scores "
                f"alignment {' or '.join(ALIGNMENTS)} with aggregation {' or '.join(AGGREGATIONS)}"
            )

    @classmethod
    def of(cls, bundle: Bundle) -> Similarity:
        """The similarity recorded in ``bundle``'s manifest; :class:`BundleError` when this server cannot serve it."""
        recorded = dict(bundle.similarity)
        missing = [k for k in ("alignment", "aggregation") if k not in recorded]
        if missing:
            raise BundleError(
                f"{bundle.path}: the manifest does not say the model's {' and '.join(missing)} "
                f"(similarity: {recorded}); re-export the model with python -m exporter"
            )
        try:
            return cls(str(recorded["alignment"]), str(recorded["aggregation"]))
        except ValueError as error:
            raise BundleError(f"{bundle.path} cannot be served: {error}") from None
