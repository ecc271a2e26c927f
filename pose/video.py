"""A video becomes a motion: frames sampled at ``POSE_FPS`` -> BlazePose world landmarks -> canonical positions.

The server's SearchVideo (pose path) and the client's ``video --save-pose`` share this. Only the frames the
motion encoder will see are analysed: it encodes at most ``max_seconds`` (its 196 frames at 20 fps), the
centre of a longer clip, so a longer video costs no more than that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from motion.features import motion_features
from motion.resample import TARGET_FPS
from pose.blazepose import PoseEstimator, PoseTrack
from pose.skeleton import track_positions

POSE_FPS = 10.0  # frames analysed per second of video (landmarks are interpolated to 20 fps)
DEFAULT_FPS = 30.0  # a video's frame rate when the uploader does not say


def frame_indices(n_frames: int, fps: float, pose_fps: float = POSE_FPS, max_seconds: float | None = None):
    """(indices of the frames to analyse, their rate): every ``fps / pose_fps``-th frame (at least every one),
    within the centre ``max_seconds`` of the video when it is longer."""
    if n_frames < 1:
        raise ValueError("a video needs at least one frame")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate {fps} is not a positive number")
    step = max(1, int(round(fps / pose_fps)))
    first, last = 0, n_frames
    if max_seconds and n_frames / fps > max_seconds:
        span = int(np.ceil(max_seconds * fps)) + step
        first = max(0, (n_frames - span) // 2)
        last = min(n_frames, first + span)
    return np.arange(first, last, step), fps / step


@dataclass(frozen=True)
class VideoMotion:
    positions: np.ndarray  # (F, 22, 3) canonical positions at 20 fps
    track: PoseTrack  # the landmarks of the analysed frames
    fps: float  # rate of the analysed frames

    @property
    def features(self) -> np.ndarray:
        """(F-1, 263) motion features at 20 fps (one still frame counts twice, so a photo is a held pose)."""
        positions = self.positions if len(self.positions) > 1 else np.repeat(self.positions, 2, axis=0)
        return motion_features(positions, TARGET_FPS)


def video_motion(
    estimator: PoseEstimator,
    frame: Callable[[int], np.ndarray] | Sequence[np.ndarray],
    n_frames: int,
    fps: float = DEFAULT_FPS,
    max_seconds: float | None = None,
) -> VideoMotion:
    """The motion of a video of ``n_frames`` frames at ``fps``: ``frame(i)`` (or ``frame[i]``) gives frame i as
    (H, W, 3) uint8 RGB; only the sampled frames are asked for. ValueError when no frame shows a person."""
    indices, rate = frame_indices(n_frames, fps, max_seconds=max_seconds)
    get = frame if callable(frame) else frame.__getitem__
    track = estimator.track(get(int(i)) for i in indices)
    if not track.found.any():
        raise ValueError(f"no person was found in any of the {len(indices)} frames analysed")
    return VideoMotion(track_positions(track.world, track.found, rate), track, rate)
