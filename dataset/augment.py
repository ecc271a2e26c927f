"""Training-time video augmentations (numpy + Pillow, no torch): the paper's list.

Random resized crop (back to the input size), colour jitter (brightness,
contrast, saturation, hue), random greyscale, Gaussian blur and horizontal
flip. One set of random parameters is drawn per clip and applied to every
frame, so the video stays consistent in time.

A horizontally flipped video shows the *mirrored* motion (left and right swap;
the renderer colours both sides alike, so a flipped render is exactly a render
of the mirrored motion from the mirrored camera). :func:`augment_frames`
therefore returns whether it flipped, and training must pair a flipped video
with the mirrored item (mirrored joints and left/right-swapped captions, see
``motion.mirror``), never with the original's left/right labels.

The parameters are drawn from the ``rng`` in a fixed order whatever the
settings, so the same generator state gives the same augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Augmentation:
    """One clip's augmentation parameters."""

    crop: tuple[int, int, int, int]  # left, top, right, bottom in pixels (the whole frame: no crop)
    brightness: float = 1.0  # multiplier
    contrast: float = 1.0  # blend factor against the frame's mean grey
    saturation: float = 1.0  # blend factor against the pixel's grey
    hue: float = 0.0  # shift in turns (-0.5..0.5)
    greyscale: bool = False
    blur: float = 0.0  # Gaussian sigma in pixels, 0 for none
    flip: bool = False

    @staticmethod
    def identity(height: int, width: int, flip: bool = False) -> Augmentation:
        return Augmentation(crop=(0, 0, width, height), flip=flip)


def sample_augmentation(
    rng: np.random.Generator,
    height: int,
    width: int,
    p_flip: float = 0.5,
    crop_scale: tuple[float, float] = (0.6, 1.0),
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3),
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p_greyscale: float = 0.2,
    p_blur: float = 0.5,
    blur_sigma: tuple[float, float] = (0.1, 2.0),
) -> Augmentation:
    """Draw one clip's parameters (torchvision-style ranges: factors in [1 - x, 1 + x], hue in [-x, x])."""
    u = rng.uniform(size=11)  # always the same draws, so settings never shift the stream
    scale = crop_scale[0] + u[0] * (crop_scale[1] - crop_scale[0])
    log_lo, log_hi = np.log(crop_ratio[0]), np.log(crop_ratio[1])
    ratio = float(np.exp(log_lo + u[1] * (log_hi - log_lo)))
    area = scale * height * width
    w = int(np.clip(round(np.sqrt(area * ratio)), 1, width))
    h = int(np.clip(round(np.sqrt(area / ratio)), 1, height))
    left = int(u[2] * (width - w + 1)) if w < width else 0
    top = int(u[3] * (height - h + 1)) if h < height else 0
    return Augmentation(
        crop=(left, top, left + w, top + h),
        brightness=float(1 + brightness * (2 * u[4] - 1)),
        contrast=float(1 + contrast * (2 * u[5] - 1)),
        saturation=float(1 + saturation * (2 * u[6] - 1)),
        hue=float(hue * (2 * u[7] - 1)),
        greyscale=bool(u[8] < p_greyscale),
        blur=float(blur_sigma[0] + u[9] * (blur_sigma[1] - blur_sigma[0])) if u[9] < p_blur else 0.0,
        flip=bool(u[10] < p_flip),
    )


# RGB <-> YIQ: a hue shift is a rotation of the (I, Q) chroma plane, which keeps luma and greys
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_RGB = np.linalg.inv(_YIQ)


def _colour_matrix(aug: Augmentation) -> np.ndarray:
    """3x3 linear part of brightness, contrast, saturation and hue (applied to row vectors of RGB)."""
    saturation = aug.saturation * np.eye(3) + (1 - aug.saturation) * np.outer(np.ones(3), _LUMA)
    angle = 2 * np.pi * aug.hue
    rotate = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    hue = _RGB @ rotate @ _YIQ
    return aug.brightness * aug.contrast * (hue @ saturation)  # column-vector form: x' = M x (+ offset)


def apply_augmentation(frames: np.ndarray, aug: Augmentation) -> np.ndarray:
    """The same augmentation on every frame of (n, H, W, 3) uint8; the shape is kept.

    Order: crop, colour (brightness, contrast, saturation, hue as one affine colour map per frame, the
    contrast pivot being the frame's mean grey), greyscale, blur, flip.
    """
    frames = np.asarray(frames, dtype=np.uint8)
    n, height, width, _ = frames.shape
    images = [Image.fromarray(f) for f in frames]
    if aug.crop != (0, 0, width, height):
        images = [im.resize((width, height), Image.BILINEAR, box=aug.crop) for im in images]
    if (aug.brightness, aug.contrast, aug.saturation, aug.hue) != (1.0, 1.0, 1.0, 0.0):
        linear = _colour_matrix(aug)
        coloured = []
        for im in images:
            # the contrast pivot: the frame's mean grey after the brightness change
            pivot = aug.brightness * float(np.asarray(im.convert("L"), dtype=np.float32).mean())
            offset = (1 - aug.contrast) * pivot  # greys stay grey under saturation and hue
            matrix = np.concatenate([linear, np.full((3, 1), offset)], axis=1)
            coloured.append(im.convert("RGB", matrix=tuple(matrix.ravel().tolist())))
        images = coloured
    if aug.greyscale:
        images = [im.convert("L").convert("RGB") for im in images]
    if aug.blur > 0:
        blur = ImageFilter.GaussianBlur(aug.blur)
        images = [im.filter(blur) for im in images]
    out = np.stack([np.asarray(im) for im in images])
    if aug.flip:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


def augment_frames(
    frames: np.ndarray, rng: np.random.Generator, p_flip: float = 0.5, **settings
) -> tuple[np.ndarray, bool]:
    """Augmented frames (same shape and dtype) and whether they were flipped horizontally.

    ``settings`` are :func:`sample_augmentation`'s ranges (e.g. ``brightness=0``, ``p_blur=0``). When it
    returns True the frames show the mirrored motion: pair them with the mirrored item.
    """
    _, height, width, _ = np.shape(frames)
    aug = sample_augmentation(rng, height, width, p_flip=p_flip, **settings)
    return apply_augmentation(frames, aug), aug.flip
