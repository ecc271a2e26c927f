"""Previews of a motion for a results list: an animated WebP and a PNG strip of the mannequin (``motion.render``).

Both are drawn from the canonical joint positions of the asked-for time range with one fixed
camera (the body's front, a little from its left and above, framing the whole range) and the
renderer's default look, so every preview of a library looks alike. The animation plays at
``FPS`` frames per second in real time (at most ``MAX_FRAMES`` frames, sampled more sparsely
over longer ranges), ``SIZE`` pixels square, lossy WebP; the strip is ``STRIP`` frames spread over
the range side by side, lossless PNG. The library caches them under its folder
(:meth:`Preview.save`, :meth:`Preview.load`): rendering costs a few hundred milliseconds, reading
back a cached one a millisecond.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from motion.render import framing_camera, render_frames

SIZE = 128  # pixels, square
FPS = 10.0  # animation frames per second of motion
MAX_FRAMES = 80  # animation frames at most
STRIP = 6  # frames in the strip
WEBP_QUALITY = 60
ANIMATION_TYPE = "image/webp"


@dataclass
class Preview:
    animation: bytes  # animated WebP
    strip: bytes  # PNG, STRIP frames side by side
    frames: int  # frames in the animation
    start: float  # the range drawn, seconds
    end: float

    @staticmethod
    def paths(folder: Path, key: str) -> tuple[Path, Path]:
        return folder / f"{key}.webp", folder / f"{key}.png"

    @classmethod
    def load(cls, folder: Path, key: str, start: float, end: float) -> Preview | None:
        """The preview cached under ``key``, or None when there is none (or only half of one)."""
        animation, strip = cls.paths(folder, key)
        try:
            data = animation.read_bytes(), strip.read_bytes()
        except FileNotFoundError:
            return None
        with Image.open(io.BytesIO(data[0])) as image:  # reads the header only
            frames = getattr(image, "n_frames", 1)
        return cls(*data, frames, start, end)

    def save(self, folder: Path, key: str, write: Callable[[Path, bytes], None]) -> None:
        """Cache under ``key`` with ``write`` (an atomic writer): the strip first, so a crash between the two
        leaves no animation, which is what :meth:`load` looks for."""
        animation, strip = self.paths(folder, key)
        write(strip, self.strip)
        write(animation, self.animation)


def render_preview(joints: np.ndarray, fps: float, start: float, end: float) -> Preview:
    """The preview of canonical ``joints`` (T, 22, 3) at ``fps``: the range [start, end) s of a motion
    that these joints cover."""
    seconds = max(len(joints) - 1, 1) / fps
    n = int(min(max(round(seconds * FPS), 2), MAX_FRAMES))
    frames = render_frames(joints, fps, n_frames=n, size=SIZE, camera=framing_camera(joints, fps))
    images = [Image.fromarray(f) for f in frames]
    animation = io.BytesIO()
    images[0].save(animation, format="WEBP", save_all=True, append_images=images[1:], loop=0,
                   duration=round(1000 * seconds / n), quality=WEBP_QUALITY)  # fmt: skip
    picks = np.linspace(0, n - 1, STRIP).round().astype(int)
    strip = io.BytesIO()
    Image.fromarray(np.concatenate(list(frames[picks]), axis=1)).save(strip, format="PNG")
    return Preview(animation.getvalue(), strip.getvalue(), n, start, end)
