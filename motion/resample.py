"""Changing frame rate and cutting long clips into model-sized windows.

Crop policy: the model sees at most ``MAX_FRAMES`` frames (196 at 20 fps,
9.8 s). A longer clip is never silently truncated: ``crop_windows`` covers it
with windows of ``MAX_FRAMES`` frames that overlap by half, the last one
aligned to the clip's end, so every frame is in at least one window.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from motion.bvh import BvhMotion

TARGET_FPS = 20.0
MAX_FRAMES = 196
MAX_RESAMPLED_FRAMES = 216_000  # 3 hours at 20 fps: resampling allocates before it can be stopped


def resampled_length(n_frames: int, src_fps: float, dst_fps: float) -> int:
    """How many frames resampling ``n_frames`` from ``src_fps`` to ``dst_fps`` makes (computed, not allocated);
    ValueError when that is over ``MAX_RESAMPLED_FRAMES`` or the rates are not positive finite numbers."""
    if not (math.isfinite(src_fps) and math.isfinite(dst_fps) and src_fps > 0 and dst_fps > 0):
        raise ValueError(f"cannot resample from {src_fps:g} to {dst_fps:g} fps")
    frames = math.floor((n_frames - 1) / src_fps * dst_fps + 1e-3) + 1  # frame times are often rounded (0.0333333)
    if frames > MAX_RESAMPLED_FRAMES:
        raise ValueError(f"{n_frames} frames at {src_fps:g} fps would be {frames} frames at {dst_fps:g} fps; "
                         f"at most {MAX_RESAMPLED_FRAMES} are resampled")  # fmt: skip
    return frames


def _sample_times(n_frames: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Source-frame coordinates of the output frames, covering the clip's duration."""
    n_out = resampled_length(n_frames, src_fps, dst_fps)
    return np.minimum(np.arange(n_out) * (src_fps / dst_fps), n_frames - 1)


def resample_positions(positions: np.ndarray, src_fps: float, dst_fps: float = TARGET_FPS) -> np.ndarray:
    """Linear interpolation in time of (F, ...) positions."""
    if abs(src_fps - dst_fps) < 1e-9:
        return positions.copy()
    t = _sample_times(len(positions), src_fps, dst_fps)
    i0 = np.minimum(np.floor(t).astype(int), len(positions) - 1)
    i1 = np.minimum(i0 + 1, len(positions) - 1)
    frac = (t - i0).reshape(-1, *([1] * (positions.ndim - 1)))
    return positions[i0] * (1 - frac) + positions[i1] * frac


def resample_bvh(motion: BvhMotion, dst_fps: float) -> BvhMotion:
    """A BVH motion at another frame rate: translations lerped, rotations slerped per joint."""
    if abs(motion.fps - dst_fps) < 1e-9:
        return motion
    n_frames, n_joints = motion.n_frames, motion.skeleton.n_joints
    translation, rotation = motion.local_pose()
    t = _sample_times(n_frames, motion.fps, dst_fps)
    new_translation = resample_positions(translation, motion.fps, dst_fps)
    quats = rotation.as_quat().reshape(n_frames, n_joints, 4)
    new_quats = np.empty((len(t), n_joints, 4))
    for j in range(n_joints):
        if n_frames == 1:
            new_quats[:, j] = quats[0, j]
        else:
            new_quats[:, j] = Slerp(np.arange(n_frames), Rotation.from_quat(quats[:, j]))(t).as_quat()
    return motion.with_local_pose(new_translation, Rotation.from_quat(new_quats.reshape(-1, 4)), 1.0 / dst_fps)


def crop_bvh(motion: BvhMotion, start: int, stop: int) -> BvhMotion:
    """Frames [start, stop) of a BVH motion; raises ValueError on an empty or out-of-range span."""
    if not 0 <= start < stop <= motion.n_frames:
        raise ValueError(f"frame range [{start}, {stop}) is outside the clip's {motion.n_frames} frames")
    return BvhMotion(motion.skeleton, motion.frame_time, motion.values[start:stop].copy(), motion.source)


def crop_windows(n_frames: int, max_frames: int = MAX_FRAMES, stride: int | None = None) -> list[tuple[int, int]]:
    """Windows [start, stop) covering ``n_frames``: one if it fits, else ``stride`` frames apart (default half a
    window: half-overlapping), the last aligned to the end."""
    if n_frames <= max_frames:
        return [(0, n_frames)]
    stride = stride or max_frames // 2
    starts = list(range(0, n_frames - max_frames + 1, stride))
    if starts[-1] + max_frames < n_frames:
        starts.append(n_frames - max_frames)
    return [(s, s + max_frames) for s in starts]


def in_place_bvh(motion: BvhMotion, up: str = "y") -> BvhMotion:
    """The motion with the root's horizontal travel removed: the root's position channels along the two
    horizontal axes (all but ``up``, in the file's own axes) stay at their frame-0 values."""
    sk = motion.skeleton
    root = sk.parents.index(-1)
    values = motion.values.copy()
    for k, name in enumerate(sk.channels[root]):
        if name.endswith("position") and name[0].lower() != up.lower():
            values[:, sk.channel_starts[root] + k] = values[0, sk.channel_starts[root] + k]
    return BvhMotion(sk, motion.frame_time, values, motion.source)
