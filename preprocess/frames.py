"""Video frame preprocessing for the frame backbone, torch-free (numpy + Pillow).

Frames (n, H, W, 3) uint8 RGB are sampled uniformly to ``n_frames``, resized
to ``size`` x ``size`` (bilinear) and scaled as EfficientNet-Lite expects,
(x - 127) / 128, into (n, 3, size, size) float32.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

MEAN, STD = 127.0, 128.0


def sample_indices(total: int, n: int) -> np.ndarray:
    """``n`` frame indices spread uniformly over ``total`` frames (centres of n equal segments)."""
    if total < 1:
        raise ValueError("a video needs at least one frame")
    return np.minimum(((np.arange(n) + 0.5) * total / n).astype(int), total - 1)


def prepare_frames(frames: np.ndarray, n_frames: int, size: int) -> np.ndarray:
    """(n_frames, 3, size, size) float32 network input from (n, H, W, 3) uint8 RGB frames."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected (frames, height, width, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    picked = frames[sample_indices(len(frames), n_frames)]
    if picked.shape[1:3] != (size, size):
        picked = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in picked])
    return ((picked.astype(np.float32) - MEAN) / STD).transpose(0, 3, 1, 2).copy()
