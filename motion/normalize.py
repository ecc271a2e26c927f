"""Feature normalisation: mean and standard deviation fitted on the training split only.

The dataset stage calls :meth:`FeatureStats.fit` on the training clips' features
and saves the result beside the split; training, evaluation and serving load
that one file. Dimensions that never vary (std below ``eps``) are left unscaled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FeatureStats:
    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,), already floored: safe to divide by

    @classmethod
    def fit(cls, features: Iterable[np.ndarray], eps: float = 1e-4) -> FeatureStats:
        """Per-dimension statistics over all frames of all clips (a streaming, float64 sum)."""
        count, total, total_sq = 0, None, None
        for f in features:
            f = np.asarray(f, dtype=np.float64)
            total = f.sum(0) if total is None else total + f.sum(0)
            total_sq = (f**2).sum(0) if total_sq is None else total_sq + (f**2).sum(0)
            count += len(f)
        if not count:
            raise ValueError("cannot fit feature statistics on no frames")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        std = np.where(std < eps, 1.0, std)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def normalize(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32)

    def denormalize(self, features: np.ndarray) -> np.ndarray:
        return (features * self.std + self.mean).astype(np.float32)

    def save(self, path: str | Path) -> None:
        np.savez(path, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        with np.load(path) as data:
            return cls(data["mean"], data["std"])
