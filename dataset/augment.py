"""Training-time video augmentations (numpy + Pillow), the paper's list: random resized crop, colour
jitter, greyscale, Gaussian blur and horizontal flip.

One set of random parameters is drawn per clip and applied to all its frames,
so the video stays consistent in time. A horizontally flipped video shows the
*mirrored* motion, so :func:`augment_frames` reports whether it flipped and
training pairs a flipped video with the mirrored item ("M" + id) and its
captions, never with the original's left/right labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


@dataclass(frozen=True)
class Augmentation:
    crop: tuple[int, int, int, int]  # left, top, right, bottom in pixels
    brightness: float
    contrast: float
    saturation: float
    hue: float  # shift in turns
    greyscale: bool
    blur: float  # Gaussian radius in pixels, 0 for none
    flip: bool


def sample_augmentation(rng: np.random.Generator, size: int, p_flip: float = 0.5) -> Augmentation:
    scale, ratio = rng.uniform(0.6, 1.0), np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    w = int(min(size, round(size * np.sqrt(scale * ratio))))
    h = int(min(size, round(size * np.sqrt(scale / ratio))))
    left, top = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    return Augmentation(
        crop=(left, top, left + w, top + h),
        brightness=float(rng.uniform(0.7, 1.3)),
        contrast=float(rng.uniform(0.7, 1.3)),
        saturation=float(rng.uniform(0.6, 1.4)),
        hue=float(rng.uniform(-0.05, 0.05)),
        greyscale=bool(rng.random() < 0.2),
        blur=float(rng.uniform(0.1, 1.5)) if rng.random() < 0.3 else 0.0,
        flip=bool(rng.random() < p_flip),
    )


def _hue_shift(image: Image.Image, shift: float) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(round(shift * 255))) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def apply_augmentation(frames: np.ndarray, aug: Augmentation) -> np.ndarray:
    """The same augmentation on every frame of (n, H, W, 3) uint8; the size is kept."""
    n, h, w, _ = frames.shape
    out = np.empty_like(frames)
    for i, frame in enumerate(frames):
        image = Image.fromarray(frame).crop(aug.crop).resize((w, h), Image.BILINEAR)
        image = ImageEnhance.Brightness(image).enhance(aug.brightness)
        image = ImageEnhance.Contrast(image).enhance(aug.contrast)
        image = ImageEnhance.Color(image).enhance(aug.saturation)
        if aug.hue:
            image = _hue_shift(image, aug.hue)
        if aug.greyscale:
            image = image.convert("L").convert("RGB")
        if aug.blur:
            image = image.filter(ImageFilter.GaussianBlur(aug.blur))
        out[i] = np.asarray(image)
    return out[:, :, ::-1] if aug.flip else out


def augment_frames(frames: np.ndarray, rng: np.random.Generator, p_flip: float = 0.5) -> tuple[np.ndarray, bool]:
    """Augmented frames and whether they were flipped (then they show the mirrored motion)."""
    aug = sample_augmentation(rng, frames.shape[1], p_flip)
    return apply_augmentation(frames, aug), aug.flip
