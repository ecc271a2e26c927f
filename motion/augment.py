"""Invariance augmentations of canonical joint positions (F, 22, 3): metres, Y up, 20 fps (``motion.skeleton``).

A motion search should find a motion whoever performs it and however it was captured. These turn one
captured motion into another plausible capture of it; ``motion.features.motion_features`` then recomputes
the features, so every derived quantity (velocities, foot contacts, local rotations) stays consistent:

* :func:`random_body`: another body (``motion.body.scale_bones``: every bone vector scaled along the tree,
  one factor per segment, left and right alike, the body rebuilt from the pelvis, whose path scales with the
  legs; joint angles unchanged, the feet on the floor). :func:`stature` is the height it aims at.
* :func:`change_tempo`: the same motion faster or slower (``motion.resample``): length / factor.
* :func:`rotate_yaw`: the whole clip turned about the vertical through the first frame's pelvis;
  :func:`wobble_yaw`: each frame's body turned about its own pelvis by a slowly varying small angle (a
  facing estimate that drifts), its path unchanged.
* :func:`add_joint_noise`: temporally smoothed Gaussian noise per joint, larger along a random horizontal
  depth axis, as a monocular pose estimate errs most along the camera's line of sight.
* :func:`pose_like`: what ``pose.skeleton`` does to a real body seen on video, by the same code: the joints
  become pseudo BlazePose landmarks (hip-centred, as world landmarks are), sampled at the pose rate
  (``pose.video.POSE_FPS``), and ``pose.skeleton.track_positions`` rebuilds the body: template bone lengths,
  template torso placed from the hips and shoulders, root motion by foot locking, smoothing.
* :func:`augment`: a random mix of all of these, as :class:`AugmentConfig` says.

Every random function takes a ``numpy.random.Generator``: the same seed gives the same output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from common.config import reject_unknown
from motion.body import bone_lengths, scale_bones
from motion.canonical import place
from motion.kinematics import yaw_matrix
from motion.resample import TARGET_FPS, resample_positions
from motion.skeleton import INDEX, JOINTS, N_JOINTS

# The bones (named by their child joint) whose lengths make up the standing height: thigh, shin, spine,
# neck and head. They are about 77 % of a person's height (the ankle above the floor and the crown above
# the head joint make the rest), so HEIGHT_PER_CHAIN turns their sum into a stature.
HEIGHT_CHAIN = ("left_knee", "left_ankle", "spine1", "spine2", "spine3", "neck", "head")
HEIGHT_PER_CHAIN = 1.3
# Segments whose bones share one proportion factor (left and right alike).
SEGMENTS = {
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot", "right_foot"),
    "hips": ("left_hip", "right_hip"),
    "spine": ("spine1", "spine2", "spine3", "neck", "head"),
    "shoulders": ("left_collar", "right_collar", "left_shoulder", "right_shoulder"),
    "arms": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
}
POSE_FPS = 10.0  # the rate pose.video analyses a video at (pose.video.POSE_FPS, a test checks they agree)


def stature(positions: np.ndarray) -> float:
    """Estimated standing height (m) from the bone lengths of :data:`HEIGHT_CHAIN`, whatever the pose."""
    lengths = bone_lengths(positions)
    return float(HEIGHT_PER_CHAIN * sum(lengths[INDEX[n] - 1] for n in HEIGHT_CHAIN))


def random_body(positions: np.ndarray, rng: np.random.Generator, height: tuple[float, float] = (1.4, 2.0),
                proportion: float = 0.08) -> np.ndarray:  # fmt: skip
    """:func:`scale_bones` to a stature drawn uniformly from ``height`` (m), each segment's proportion jittered
    by a log-normal factor of spread ``proportion``."""
    factors = np.ones(N_JOINTS)
    for names in SEGMENTS.values():
        factors[[INDEX[n] for n in names]] = np.exp(rng.normal(0.0, proportion))
    lengths = bone_lengths(positions)
    chain = sum(factors[INDEX[n]] * lengths[INDEX[n] - 1] for n in HEIGHT_CHAIN)
    factors *= rng.uniform(*height) / (HEIGHT_PER_CHAIN * chain)
    return scale_bones(positions, factors)


def change_tempo(positions: np.ndarray, factor: float, fps: float = TARGET_FPS) -> np.ndarray:
    """The motion played ``factor`` times faster (> 1: fewer frames), still at ``fps``."""
    return resample_positions(np.asarray(positions, np.float64), fps * factor, fps)


def rotate_yaw(positions: np.ndarray, angle: float) -> np.ndarray:
    """The clip turned by ``angle`` radians about the vertical through the first frame's pelvis."""
    pivot = np.asarray(positions[0, 0], np.float64) * [1, 0, 1]
    return (positions - pivot) @ yaw_matrix(np.float64(angle)).T + pivot


def wobble_yaw(positions: np.ndarray, rng: np.random.Generator, degrees: float = 8.0,
               seconds: float = 1.0, fps: float = TARGET_FPS) -> np.ndarray:  # fmt: skip
    """Each frame's body turned about its own pelvis by a smooth random angle (standard deviation ``degrees``,
    varying over about ``seconds``); the pelvis path is unchanged."""
    angle = _smooth_noise(rng, (len(positions),), seconds * fps) * np.radians(degrees)
    pelvis = positions[:, :1] * [1, 0, 1]
    return np.einsum("fij,fkj->fki", yaw_matrix(angle), positions - pelvis) + pelvis


def add_joint_noise(positions: np.ndarray, rng: np.random.Generator, sigma: float = 0.03, depth: float = 2.0,
                    seconds: float = 0.1, fps: float = TARGET_FPS) -> np.ndarray:  # fmt: skip
    """Positions plus Gaussian noise of standard deviation ``sigma`` (m) per joint and axis, smoothed over
    about ``seconds``, ``depth`` times larger along a random horizontal axis (the camera's line of sight)."""
    noise = _smooth_noise(rng, positions.shape, seconds * fps)
    theta = rng.uniform(0, 2 * np.pi)
    axis = np.array([np.sin(theta), 0.0, np.cos(theta)])
    noise += (depth - 1) * (noise @ axis)[..., None] * axis
    return positions + sigma * noise


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], frames: float) -> np.ndarray:
    """Unit-variance Gaussian noise smoothed along axis 0 with a Gaussian of ``frames`` standard deviation."""
    if frames <= 0:
        return rng.standard_normal(shape)
    margin = int(np.ceil(4 * frames))  # drawn beyond both ends, so no edge is treated differently
    noise = rng.standard_normal((shape[0] + 2 * margin, *shape[1:]))
    smooth = gaussian_filter1d(noise, frames, axis=0, truncate=4.0)[margin : margin + shape[0]]
    kernel = np.exp(-0.5 * (np.arange(-margin, margin + 1) / frames) ** 2)
    return smooth / np.sqrt((kernel**2).sum() / kernel.sum() ** 2)  # back to unit variance


def pseudo_landmarks(positions: np.ndarray) -> np.ndarray:
    """(F, 33, 3) BlazePose-like world landmarks (Y up, around each frame's hip centre) from canonical joints:
    the landmarks ``pose.skeleton`` reads sit on the matching joints (ears around the head, heels under the
    ankles at the toes' height); the others are copied from the nearest of those."""
    from pose import skeleton as ps

    j = {name: positions[:, INDEX[name]] for name in JOINTS}
    marks = np.repeat(j["head"][:, None], 33, axis=1)  # nose, eyes, mouth: the head
    across = (j["left_shoulder"] - j["right_shoulder"]) * 0.25
    marks[:, ps.L_EAR], marks[:, ps.R_EAR] = j["head"] + across, j["head"] - across
    for side, s in (("left", 0), ("right", 1)):
        for mark, joint in (((ps.L_SHOULDER, ps.R_SHOULDER), "shoulder"), ((ps.L_ELBOW, ps.R_ELBOW), "elbow"),
                            ((ps.L_WRIST, ps.R_WRIST), "wrist"), ((ps.L_HIP, ps.R_HIP), "hip"),
                            ((ps.L_KNEE, ps.R_KNEE), "knee"), ((ps.L_ANKLE, ps.R_ANKLE), "ankle"),
                            ((ps.L_FOOT, ps.R_FOOT), "foot")):  # fmt: skip
            marks[:, mark[s]] = j[f"{side}_{joint}"]
        heel = j[f"{side}_ankle"].copy()
        heel[:, 1] = j[f"{side}_foot"][:, 1]
        marks[:, (ps.L_HEEL, ps.R_HEEL)[s]] = heel
        marks[:, range(17 + s, 23, 2)] = j[f"{side}_wrist"][:, None]  # pinky, index, thumb
    return marks - (marks[:, ps.L_HIP : ps.L_HIP + 1] + marks[:, ps.R_HIP : ps.R_HIP + 1]) / 2


def pose_like(positions: np.ndarray, fps: float = TARGET_FPS, pose_fps: float = POSE_FPS) -> np.ndarray:
    """The motion as ``pose.skeleton`` would rebuild it from a video of this body: pseudo landmarks sampled
    at ``pose_fps`` through ``pose.skeleton.track_positions``; 20 fps out."""
    from pose.skeleton import to_y_up, track_positions

    sampled = resample_positions(np.asarray(positions, np.float64), fps, pose_fps) if len(positions) > 2 else positions
    world = to_y_up(pseudo_landmarks(sampled))  # Y up -> MediaPipe's axes (the flip is its own inverse)
    return track_positions(world, np.ones(len(world), bool), pose_fps)


@dataclass
class AugmentConfig:
    """Probabilities and ranges of :func:`augment` (a training config's ``finetune.augment`` mapping)."""

    height: tuple[float, float] = (1.4, 2.0)  # m, drawn uniformly (always applied)
    proportion: float = 0.08  # log-normal spread of each segment's length factor
    tempo: float = 0.5  # probability of a tempo change ...
    tempo_range: tuple[float, float] = (0.8, 1.25)  # ... by a log-uniform factor in this range
    window: float = 0.3  # probability of a random window ...
    window_min: float = 0.7  # ... of at least this fraction of the frames
    yaw: float = 0.5  # probability of a yaw wobble ...
    yaw_degrees: float = 8.0  # ... of this standard deviation
    pose: float = 0.5  # probability of the pose-like rebuild
    noise: float = 0.5  # probability of joint noise ...
    noise_sigma: float = 0.04  # ... of a standard deviation drawn uniformly up to this (m)
    noise_depth: float = 2.0  # ... this many times larger along the depth axis
    real_pose: float = 0.0  # probability that the view is instead the clip as BlazePose saw it (the build's pose/)

    @classmethod
    def from_dict(cls, data: dict) -> AugmentConfig:
        reject_unknown(cls, data, "augment")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def augment(positions: np.ndarray, rng: np.random.Generator, config: AugmentConfig | None = None) -> np.ndarray:
    """A random plausible re-capture of a clip at 20 fps (see the module docstring), placed as every motion is
    (``motion.canonical.place``); at least 2 frames."""
    c = config or AugmentConfig()
    p = np.asarray(positions, np.float64)
    if rng.random() < c.window and len(p) > 4:
        n = max(2, int(round(len(p) * rng.uniform(c.window_min, 1.0))))
        start = int(rng.integers(0, len(p) - n + 1))
        p = p[start : start + n]
    if rng.random() < c.tempo and len(p) > 2:
        p = change_tempo(p, float(np.exp(rng.uniform(*np.log(c.tempo_range)))))
    p = random_body(p, rng, c.height, c.proportion)
    if rng.random() < c.yaw:
        p = wobble_yaw(p, rng, c.yaw_degrees)
    if rng.random() < c.pose and len(p) > 2:
        p = pose_like(p)
    if rng.random() < c.noise:
        p = add_joint_noise(p, rng, rng.uniform(0, c.noise_sigma), c.noise_depth)
    if len(p) < 2:
        p = np.concatenate([p, p])
    return place(p)
