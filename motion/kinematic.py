"""Kinematic captions: what the body does, measured from canonical joint positions.

Two layers, numpy and scipy only (no torch):

1. **Predicates** (:func:`detect`): canonical positions (F, 22, 3) -- metres,
   Y up, frame 0 facing +Z, left is +X (``docs/motion.md``) -- become
   :class:`Facts` about the whole clip and a list of typed :class:`Event`
   records with their time span: locomotion (gait by speed, direction relative
   to the facing, distance, tempo, path, manner), turns and spins (side and
   angle from the facing yaw), airborne phases (jump, hop, leap), lowering
   (crouch, sit, lie down), bending and bowing (torso pitch), arms (raised to
   shoulder / head / above the head, waving, beckoning, saluting, punching,
   pointing, slashing), legs (kick, leg raise, stepping in place), standing
   still and dancing, and the clip's manner (torso, head, elbows, knees, arm
   swing, energy). Every threshold is a physical quantity (m, m/s, degrees,
   Hz, seconds) named in :data:`THRESHOLDS`.
2. **Phrasing** (:func:`generate`): events become captions in two registers,
   ``descriptive`` ("A person walks forward slowly, then turns left about 90
   degrees.") and ``spoken`` ("walk forward slowly and then turn left"), with
   a seeded RNG. Each event offers only the verbs its measured attributes
   license (``stroll`` needs a slow walk, ``sprint`` a sprint speed,
   ``sidestep`` sideways travel, ``shuffle`` low foot clearance), so no caption
   says what the clip does not do. Events are ordered in time and joined with
   "then" (one after the other) or "while" (overlapping).

Held-out phrasings: every phrasing has a split, ``train`` or ``heldout``, so
an evaluation can caption with phrasings a model never saw in training
(``split="heldout"``). Sentence frames: every third of each list. Verb
phrases: a digest of the wording with sides and numbers blanked, so one
wording is in one split for every event and its mirror (about a third held
out); an event whose few verb phrases all fall on one side offers them to
both. Held-out captions therefore never equal training ones.

    python -m motion.kinematic CLIP.bvh [--n 5] [--register spoken] [--split heldout] [--seed 0] [--mirror]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy.ndimage import uniform_filter1d

from motion.canonical import facing_angle
from motion.skeleton import FEET, INDEX, N_JOINTS

REGISTERS = ("descriptive", "spoken")
SPLITS = ("train", "heldout")
SIDES = ("left", "right")

THRESHOLDS = {
    # locomotion: pelvis ground speed (m/s), smoothed over SMOOTH_S
    "moving_speed": 0.35,  # below: not travelling
    "jog_speed": 1.9,  # walk-run transition of adults (about 2 m/s)
    "run_speed": 2.7,
    "sprint_speed": 3.6,
    "min_segment_s": 0.6,  # shortest locomotion / direction segment
    "min_distance_m": 0.8,  # shortest travel worth a locomotion event
    "diagonal_deg": 20.0,  # forward travel this far off the facing reads as diagonal
    # tempo: the 20th and 80th percentiles over the Bandai Namco clips of the walking speed of walk events
    # (0.98 and 1.32 m/s over 730 events) and of the swing rate of wave events (0.79 and 1.95 Hz, 558 events)
    "walk_slow": 0.95,
    "walk_fast": 1.35,
    "wave_slow_hz": 0.8,
    "wave_fast_hz": 2.0,
    # manner of walking
    "shuffle_clearance_m": 0.06,  # swing foot (ankle) rises less than this above its floor height
    "march_knee_lift_deg": 55.0,  # thigh raised this far from vertical
    "trudge_lean_deg": 18.0,  # torso pitched forward while walking slowly
    "tiptoe_foot_deg": 50.0,  # ankle-to-toe pitched this steeply while the toes are on the floor
    "stomp_speed": 1.6,  # downward foot speed (m/s) just before touching down
    # turning: smoothed facing yaw
    "turn_rate_deg_s": 30.0,
    "turn_ease_deg_s": 8.0,
    "min_turn_deg": 35.0,
    "spin_deg": 270.0,
    # airborne: every foot joint off the floor
    "airborne_clearance_m": 0.06,
    "min_airborne_s": 0.15,
    "leap_distance_m": 0.7,
    "hop_height_m": 0.12,
    # lowering: pelvis height as a fraction of the standing pelvis height
    "crouch_ratio": 0.75,
    "lie_ratio": 0.35,
    "min_pose_s": 0.4,
    # torso pitch (pelvis -> neck from vertical, forward)
    "bend_deg": 35.0,
    "bow_deg": 25.0,
    "bow_max_s": 5.0,
    # arms: wrist height against shoulder and head joints (m)
    "shoulder_level_m": -0.05,
    "head_level_m": 0.0,
    "above_head_m": 0.12,
    "min_raise_s": 0.3,
    "wave_amplitude_m": 0.05,  # peak to peak of each half swing
    "wave_min_swings": 3,
    "beckon_min_swings": 4,
    "wave_half_period_s": (0.08, 0.9),
    "punch_speed": 2.0,  # hand against the pelvis (m/s)
    "punch_extension_speed": 1.8,  # wrist-shoulder distance growing this fast (m/s)
    "punch_reach": 0.9,  # wrist-shoulder distance / arm length at the strike
    "point_reach": 0.88,
    "point_still_speed": 0.35,
    "min_point_s": 0.5,
    "slash_speed": 3.5,
    "slash_sweep_m": 0.4,  # travel of the hand while fast: across, down, or up with both hands together
    "salute_distance_m": 0.2,
    # legs
    "kick_speed": 3.0,
    "leg_raise_s": 0.5,
    "step_lift_m": 0.06,
    "min_steps_in_place": 4,
    # standing still: every joint slower than this (m/s)
    "still_speed": 0.2,
    "min_still_s": 0.8,
    # dance: sustained limb activity without travelling
    "dance_limb_speed": 0.9,
    "dance_min_s": 3.0,
    # manner (how the body carries itself over the whole clip): medians over the clip, set near the 10th / 90th
    # percentiles of the same medians over the 3,076 Bandai Namco clips when these were chosen
    "hunched_deg": 12.0,  # torso pitched forward (pelvis -> neck), no bow or bend event
    "lean_back_deg": -5.0,  # torso pitched back
    "head_down_deg": 20.0,  # head (neck -> head) pitched forward of the torso
    "head_up_deg": -8.0,  # ... pitched back
    "elbows_out_m": 0.13,  # elbows further out than the shoulders
    "bent_knee_deg": 120.0,  # the more bent knee (hip-knee-ankle angle) below this
    "arm_swing_big_m": 0.5,  # while travelling: the wrists' forward-back range (10th to 90th percentile)
    "arm_swing_small_m": 0.2,
    "energetic_speed": 1.5,  # mean speed of wrists and ankles against the pelvis (m/s)
    "min_manner_s": 1.0,  # a clip this long at least; travelling this long for the arm swing
}
SMOOTH_S = 0.5
_T = THRESHOLDS


# ----------------------------------------------------------------------------------------------------------------------
# Typed records


@dataclass(frozen=True)
class Facts:
    """Whole-clip measurements."""

    frames: int
    fps: float
    duration: float  # s
    height: float  # m, standing pelvis height
    path_length: float  # m, pelvis ground path
    net_displacement: float  # m
    yaw_change: float  # degrees, net facing change (positive = to the left)
    mean_speed: float  # m/s, pelvis ground speed
    stationary: bool  # never travels (no locomotion event)


@dataclass(frozen=True)
class Event:
    """A measured happening between ``start`` and ``end`` (seconds)."""

    kind: ClassVar[str] = "event"
    start: float
    end: float

    def __post_init__(self) -> None:
        for f in fields(self):  # plain Python values (numpy scalars in, JSON-ready records out)
            value = getattr(self, f.name)
            if isinstance(value, np.generic):
                object.__setattr__(self, f.name, value.item())

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict:
        return {"kind": self.kind} | {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Still(Event):
    kind: ClassVar[str] = "still"


@dataclass(frozen=True)
class InPlace(Event):
    """The clip never travels (no locomotion event): the body stays where it is."""

    kind: ClassVar[str] = "in_place"


@dataclass(frozen=True)
class Locomotion(Event):
    kind: ClassVar[str] = "locomotion"
    gait: str = "walk"  # walk | jog | run | sprint
    direction: str = "forward"  # forward | backward | left | right (relative to the facing)
    speed: float = 0.0  # m/s, median
    distance: float = 0.0  # m
    tempo: str = "normal"  # slow | normal | fast
    path: str = "straight"  # straight | curve-left | curve-right | circle
    manners: tuple[str, ...] = ()  # measured: shuffle, march, trudge, tiptoe, stomp
    drift: float = 0.0  # degrees, median travel direction against the facing (positive = to the left)


@dataclass(frozen=True)
class Turn(Event):
    kind: ClassVar[str] = "turn"
    side: str = "left"
    angle: float = 0.0  # degrees, magnitude
    in_place: bool = False


@dataclass(frozen=True)
class Spin(Event):
    kind: ClassVar[str] = "spin"
    side: str = "left"
    angle: float = 0.0


@dataclass(frozen=True)
class Airborne(Event):
    kind: ClassVar[str] = "airborne"
    style: str = "jump"  # jump | hop | leap
    height: float = 0.0  # m, pelvis rise
    distance: float = 0.0  # m, ground travel in the air


@dataclass(frozen=True)
class Lower(Event):
    kind: ClassVar[str] = "lower"
    pose: str = "crouch"  # crouch | sit | lie
    ratio: float = 1.0  # pelvis height / standing pelvis height


@dataclass(frozen=True)
class Bend(Event):
    kind: ClassVar[str] = "bend"
    angle: float = 0.0  # degrees of forward torso pitch


@dataclass(frozen=True)
class Bow(Event):
    kind: ClassVar[str] = "bow"
    angle: float = 0.0


@dataclass(frozen=True)
class ArmRaise(Event):
    kind: ClassVar[str] = "arm_raise"
    side: str = "left"  # left | right | both
    level: str = "shoulder"  # shoulder | head | above_head


@dataclass(frozen=True)
class Wave(Event):
    kind: ClassVar[str] = "wave"
    side: str = "left"
    swings: int = 0
    tempo: str = "normal"


@dataclass(frozen=True)
class Beckon(Event):
    kind: ClassVar[str] = "beckon"
    side: str = "left"


@dataclass(frozen=True)
class Salute(Event):
    kind: ClassVar[str] = "salute"
    side: str = "right"


@dataclass(frozen=True)
class Punch(Event):
    kind: ClassVar[str] = "punch"
    side: str = "left"
    count: int = 1
    speed: float = 0.0


@dataclass(frozen=True)
class Point(Event):
    kind: ClassVar[str] = "point"
    side: str = "left"


@dataclass(frozen=True)
class Slash(Event):
    kind: ClassVar[str] = "slash"
    side: str = "left"
    speed: float = 0.0
    diagonal: bool = False
    downward: bool = False


@dataclass(frozen=True)
class Kick(Event):
    kind: ClassVar[str] = "kick"
    side: str = "left"
    speed: float = 0.0


@dataclass(frozen=True)
class LegRaise(Event):
    kind: ClassVar[str] = "leg_raise"
    side: str = "left"


@dataclass(frozen=True)
class StepInPlace(Event):
    kind: ClassVar[str] = "step_in_place"
    steps: int = 0


@dataclass(frozen=True)
class Dance(Event):
    kind: ClassVar[str] = "dance"


@dataclass(frozen=True)
class Manner(Event):
    """How the body carries itself over the whole clip, measured (``MANNER_TRAITS``): posture, head, elbows,
    knees, arm swing while travelling, energy."""

    kind: ClassVar[str] = "manner"
    traits: tuple[str, ...] = ()


MANNER_TRAITS = ("hunched", "lean_back", "head_down", "head_up", "elbows_out", "bent_knees", "big_arm_swing",
                 "small_arm_swing", "energetic")  # fmt: skip

EVENT_TYPES: tuple[type[Event], ...] = (
    Still,
    InPlace,
    Locomotion,
    Turn,
    Spin,
    Airborne,
    Lower,
    Bend,
    Bow,
    ArmRaise,
    Wave,
    Beckon,
    Salute,
    Punch,
    Point,
    Slash,
    Kick,
    LegRaise,
    StepInPlace,
    Dance,
    Manner,
)


@dataclass(frozen=True)
class Description:
    """What :func:`detect` measured in one clip."""

    facts: Facts
    events: tuple[Event, ...] = field(default_factory=tuple)

    def of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds]


# ----------------------------------------------------------------------------------------------------------------------
# Signal helpers


def _validate(positions: np.ndarray, fps: float) -> np.ndarray:
    try:
        positions = np.asarray(positions, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("positions must be numbers: (frames, 22, 3) metres") from None
    if positions.ndim != 3 or positions.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"expected canonical positions of shape (frames, {N_JOINTS}, 3), got {positions.shape}")
    if positions.shape[0] < 2:
        raise ValueError(f"a motion needs at least 2 frames to be described, got {positions.shape[0]}")
    if not np.isfinite(positions).all():
        bad = np.unique(np.nonzero(~np.isfinite(positions))[0])
        raise ValueError(f"positions hold NaN or infinite values (frames {bad[:5].tolist()}...)")
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive, got {fps}")
    return positions


def _smooth(x: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    size = max(1, int(round(seconds * fps)))
    return uniform_filter1d(x, size, axis=0, mode="nearest") if size > 1 else x


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) frame ranges where ``mask`` is true."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _fill_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    out = mask.copy()
    for a, b in _runs(~mask):
        if a > 0 and b < len(mask) and b - a <= max_gap:
            out[a:b] = True
    return out


def _label_runs(labels: list, min_len: int) -> list[tuple[int, int, object]]:
    """Run-length segments of ``labels``; runs shorter than ``min_len`` merge into their longer neighbour."""
    segs = []
    for i, lab in enumerate(labels):
        if segs and segs[-1][2] == lab:
            segs[-1][1] = i + 1
        else:
            segs.append([i, i + 1, lab])
    while len(segs) > 1:
        lengths = [b - a for a, b, _ in segs]
        k = int(np.argmin(lengths))
        if lengths[k] >= min_len:
            break
        left = lengths[k - 1] if k > 0 else -1
        right = lengths[k + 1] if k + 1 < len(segs) else -1
        j = k - 1 if left >= right else k + 1
        lo, hi = min(j, k), max(j, k)
        segs[lo : hi + 1] = [[segs[lo][0], segs[hi][1], segs[j][2]]]
        if lo > 0 and segs[lo - 1][2] == segs[lo][2]:
            segs[lo - 1 : lo + 1] = [[segs[lo - 1][0], segs[lo][1], segs[lo][2]]]
    return [(a, b, lab) for a, b, lab in segs]


def _extrema_swings(signal: np.ndarray, min_amp: float) -> list[int]:
    """Frames of alternating turning points of ``signal``, each at least ``min_amp`` from the one before (zigzag)."""
    points: list[int] = []
    lo = hi = ext = 0
    direction = 0
    for i, v in enumerate(signal):
        if direction == 0:
            lo, hi = (i if v < signal[lo] else lo), (i if v > signal[hi] else hi)
            if signal[hi] - signal[lo] >= min_amp:
                direction = 1 if hi > lo else -1
                points.append(min(lo, hi))
                ext = max(lo, hi)
        elif direction * (v - signal[ext]) > 0:
            ext = i
        elif direction * (signal[ext] - v) >= min_amp:
            points.append(ext)
            ext, direction = i, -direction
    if direction:
        points.append(ext)
    return points


class _Body:
    """Per-frame signals of one clip, in the body's own frame where it matters."""

    def __init__(self, p: np.ndarray, fps: float):
        self.p, self.fps, self.n = p, fps, len(p)
        j = INDEX
        raw_yaw = np.unwrap(facing_angle(p))
        self.yaw = _smooth(raw_yaw, fps, SMOOTH_S)
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        rel = p - p[:, :1] * np.array([1.0, 0.0, 1.0])
        # body frame: x = left, y = up, z = forward
        self.local = np.stack(
            [
                rel[..., 0] * c[:, None] - rel[..., 2] * s[:, None],
                rel[..., 1],
                rel[..., 0] * s[:, None] + rel[..., 2] * c[:, None],
            ],
            axis=-1,
        )
        vel = np.gradient(p, axis=0) * fps
        self.joint_speed = np.linalg.norm(vel, axis=-1)
        self.rel_speed = np.linalg.norm(vel - vel[:, :1], axis=-1)  # against the pelvis
        ground = _smooth(vel[:, 0, [0, 2]], fps, SMOOTH_S)
        self.ground_speed = np.linalg.norm(ground, axis=-1)
        self.v_forward = ground[:, 0] * s + ground[:, 1] * c
        self.v_left = ground[:, 0] * c - ground[:, 1] * s
        self.heading = np.unwrap(np.arctan2(ground[:, 0], ground[:, 1]))
        self.vel = vel
        # proportions
        bone = lambda a, b: float(np.median(np.linalg.norm(p[:, j[a]] - p[:, j[b]], axis=-1)))  # noqa: E731
        self.leg = bone("left_hip", "left_knee") + bone("left_knee", "left_ankle")
        self.arm = {sd: bone(f"{sd}_shoulder", f"{sd}_elbow") + bone(f"{sd}_elbow", f"{sd}_wrist") for sd in SIDES}
        self.feet = list(FEET)  # left ankle, left foot, right ankle, right foot
        self.foot_floor = np.percentile(p[:, self.feet, 1], 5, axis=0)
        pelvis_y = p[:, 0, 1]
        # standing pelvis height: legs straight (hip above ankle by the leg length) plus the ankle's floor height
        self.stand = float(max(np.percentile(pelvis_y, 90), 0.9 * (self.leg + self.foot_floor[[0, 2]].mean())))
        self.forward = np.stack([s, c], axis=-1)  # the facing on the ground plane (x, z)
        torso = p[:, j["neck"]] - p[:, 0]
        self.pitch = self.pitch_of(torso)
        self.tilt = np.degrees(np.arctan2(np.linalg.norm(torso[:, [0, 2]], axis=-1), torso[:, 1]))

    def pitch_of(self, v: np.ndarray) -> np.ndarray:
        """Per frame, how far the vectors ``v`` (F, 3) lean forward of vertical along the facing (degrees)."""
        return np.degrees(np.arctan2((v[:, [0, 2]] * self.forward).sum(-1), v[:, 1]))

    def t(self, frame: int) -> float:
        return round(frame / self.fps, 3)

    def frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))


# ----------------------------------------------------------------------------------------------------------------------
# Detectors


def _gait(speed: float) -> str:
    if speed >= _T["sprint_speed"]:
        return "sprint"
    if speed >= _T["run_speed"]:
        return "run"
    return "jog" if speed >= _T["jog_speed"] else "walk"


def _direction(v_forward: float, v_left: float) -> str:
    if abs(v_forward) >= abs(v_left):
        return "forward" if v_forward >= 0 else "backward"
    return "left" if v_left > 0 else "right"


def _manners(b: _Body, a: int, z: int, gait: str, tempo: str) -> tuple[str, ...]:
    if gait != "walk" or z - a < b.frames(1.0):
        return ()
    j = INDEX
    out = []
    ankles = b.p[a:z, [j["left_ankle"], j["right_ankle"]], 1] - b.foot_floor[[0, 2]]
    toes = b.p[a:z, [j["left_foot"], j["right_foot"]], 1] - b.foot_floor[[1, 3]]
    clearance = float(np.percentile(ankles, 95))
    if clearance < _T["shuffle_clearance_m"]:
        out.append("shuffle")
    thigh = b.p[a:z, [j["left_knee"], j["right_knee"]]] - b.p[a:z, [j["left_hip"], j["right_hip"]]]
    lift = np.degrees(np.arctan2(np.linalg.norm(thigh[..., [0, 2]], axis=-1), -thigh[..., 1]))  # from hanging
    if (lift.max(axis=0) > _T["march_knee_lift_deg"]).all():
        out.append("march")
    if tempo == "slow" and np.median(b.pitch[a:z]) > _T["trudge_lean_deg"]:
        out.append("trudge")
    foot = b.p[a:z, [j["left_ankle"], j["right_ankle"]]] - b.p[a:z, [j["left_foot"], j["right_foot"]]]
    steep = foot[..., 1] / np.maximum(np.linalg.norm(foot, axis=-1), 1e-6)  # sine of the foot's pitch
    stance = toes < 0.03
    if stance.mean() > 0.3 and np.median(steep[stance]) > np.sin(np.radians(_T["tiptoe_foot_deg"])):
        out.append("tiptoe")
    down = -b.vel[a:z, [j["left_ankle"], j["right_ankle"]], 1]
    near = ankles < 0.05
    if near.any() and float(np.max(np.where(near, down, 0.0))) > _T["stomp_speed"]:
        out.append("stomp")
    return tuple(out)


def _locomotion(b: _Body) -> list[Locomotion]:
    moving = _fill_gaps(b.ground_speed > _T["moving_speed"], b.frames(0.4))
    out = []
    for a, z in _runs(moving):
        if z - a < b.frames(_T["min_segment_s"]):
            continue
        labels = [(_direction(b.v_forward[i], b.v_left[i]), _gait(b.ground_speed[i])) for i in range(a, z)]
        for sa, sz, direction in _label_runs([d for d, _ in labels], b.frames(_T["min_segment_s"])):
            sa, sz = a + sa, a + sz
            for ga, gz, gait in _label_runs([g for _, g in labels[sa - a : sz - a]], b.frames(1.0)):
                ga, gz = sa + ga, sa + gz
                step = np.diff(b.p[ga:gz, 0][:, [0, 2]], axis=0)
                distance = float(np.linalg.norm(step, axis=-1).sum())
                if distance < _T["min_distance_m"]:
                    continue
                speed = float(np.median(b.ground_speed[ga:gz]))
                tempo = "normal"
                if gait == "walk":
                    tempo = "slow" if speed < _T["walk_slow"] else "fast" if speed > _T["walk_fast"] else "normal"
                bend = float(np.degrees(b.heading[gz - 1] - b.heading[ga]))
                path = (
                    "circle"
                    if abs(bend) >= 300
                    else "straight"
                    if abs(bend) < 60
                    else ("curve-left" if bend > 0 else "curve-right")
                )
                out.append(
                    Locomotion(
                        b.t(ga),
                        b.t(gz - 1),
                        gait,
                        direction,
                        speed,
                        distance,
                        tempo,
                        path,
                        _manners(b, ga, gz, gait, tempo),
                        float(np.degrees(np.median(np.arctan2(b.v_left[ga:gz], b.v_forward[ga:gz])))),
                    )
                )
    return out


def _turns(b: _Body, travelling: np.ndarray) -> list[Event]:
    rate = np.degrees(np.gradient(b.yaw)) * b.fps
    out: list[Event] = []
    for sign in (1, -1):
        turning = _fill_gaps(sign * rate > _T["turn_rate_deg_s"], b.frames(0.5))
        easing = sign * rate > _T["turn_ease_deg_s"]  # the start and end of a turn, slower than its middle
        spans: list[list[int]] = []
        for a, z in _runs(turning):
            while a > 0 and easing[a - 1]:
                a -= 1
            while z < b.n and easing[z]:
                z += 1
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], z)
            else:
                spans.append([a, z])
        for a, z in spans:
            z = min(z, b.n - 1)
            angle = float(np.degrees(b.yaw[z] - b.yaw[a])) * sign
            if angle < _T["min_turn_deg"]:
                continue
            side = "left" if sign > 0 else "right"
            if angle >= _T["spin_deg"]:
                out.append(Spin(b.t(a), b.t(z), side, angle))
            else:
                out.append(Turn(b.t(a), b.t(z), side, angle, not bool(travelling[a : z + 1].mean() > 0.5)))
    return out


def _airborne(b: _Body, running: np.ndarray) -> list[Airborne]:
    clear = (b.p[:, b.feet, 1] - b.foot_floor > _T["airborne_clearance_m"]).all(axis=1)
    out = []
    for a, z in _runs(clear):
        if z - a < b.frames(_T["min_airborne_s"]):
            continue
        lo, hi = max(0, a - b.frames(0.3)), min(b.n, z + b.frames(0.3))
        rise = float(b.p[a:z, 0, 1].max() - np.median(b.p[lo:hi, 0, 1]))
        distance = float(np.linalg.norm(b.p[z - 1, 0, [0, 2]] - b.p[a, 0, [0, 2]]))
        if running[a:z].any() and rise < _T["hop_height_m"]:
            continue  # the flight phase of a running stride, not a jump
        if distance >= _T["leap_distance_m"]:
            style = "leap"
        elif rise < _T["hop_height_m"]:
            style = "hop"
        else:
            style = "jump"
        out.append(Airborne(b.t(a), b.t(z - 1), style, max(rise, 0.0), distance))
    return out


def _lowering(b: _Body) -> list[Lower]:
    ratio = b.p[:, 0, 1] / b.stand
    low = _smooth(ratio, b.fps, 0.3) < _T["crouch_ratio"]
    out = []
    j = INDEX
    for a, z in _runs(low):
        if z - a < b.frames(_T["min_pose_s"]):
            continue
        r = float(np.min(ratio[a:z]))
        tilt = float(np.median(b.tilt[a:z]))
        thigh = b.p[a:z, [j["left_knee"], j["right_knee"]]] - b.p[a:z, [j["left_hip"], j["right_hip"]]]
        flat = np.median(np.abs(thigh[..., 1]) / np.linalg.norm(thigh, axis=-1)) < 0.5  # thighs within 30 deg of level
        if r < _T["lie_ratio"] and tilt > 60:
            pose = "lie"
        elif flat and tilt < 30 and float(np.median(b.ground_speed[a:z])) < 0.2:
            pose = "sit"
        else:
            pose = "crouch"
        out.append(Lower(b.t(a), b.t(z - 1), pose, r))
    return out


def _bends(b: _Body, travelling: np.ndarray) -> list[Event]:
    out: list[Event] = []
    pitch = _smooth(b.pitch, b.fps, 0.2)
    base = float(np.percentile(pitch, 20))
    for a, z in _runs(pitch - base > _T["bow_deg"]):
        if z - a < b.frames(0.3) or travelling[a:z].mean() > 0.5:
            continue
        angle = float(pitch[a:z].max() - base)
        returns = z < b.n and pitch[min(b.n - 1, z + b.frames(1.0))] - base < _T["bow_deg"] * 0.6
        if returns and (z - a) <= b.frames(_T["bow_max_s"]) and (b.p[a:z, 0, 1] / b.stand).min() > _T["crouch_ratio"]:
            out.append(Bow(b.t(a), b.t(z - 1), angle))
        elif angle >= _T["bend_deg"]:
            out.append(Bend(b.t(a), b.t(z - 1), angle))
    return out


def _both(left: list, right: list, make) -> list:
    """Merge left and right events that overlap by at least half of the shorter into one ``both`` event."""
    out, used = [], set()
    for e in left:
        partner = next((k for k, r in enumerate(right) if k not in used and _overlap(e, r) >= 0.5), None)
        if partner is None:
            out.append(e)
        else:
            used.add(partner)
            out.append(make(e, right[partner]))
    return out + [r for k, r in enumerate(right) if k not in used]


def _overlap(a: Event, b: Event) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    return max(0.0, inter) / max(min(a.duration, b.duration), 1e-6)


def _arms(b: _Body) -> list[Event]:
    j = INDEX
    head_y = b.p[:, j["head"], 1]
    raises: dict[str, list[ArmRaise]] = {}
    waves: dict[str, list[Wave]] = {}
    sided: dict[str, list[Event]] = {}
    out: list[Event] = []
    levels = ("shoulder", "head", "above_head")
    for sd in SIDES:
        w, sh = j[f"{sd}_wrist"], j[f"{sd}_shoulder"]
        wy = _smooth(b.p[:, w, 1], b.fps, 0.15)
        level = np.zeros(b.n, int)
        level[wy > b.p[:, sh, 1] + _T["shoulder_level_m"]] = 1
        level[wy > head_y + _T["head_level_m"]] = 2
        level[wy > head_y + _T["above_head_m"]] = 3
        raises[sd] = []
        for a, z in _runs(_fill_gaps(level > 0, b.frames(0.2))):
            if z - a < b.frames(_T["min_raise_s"]):
                continue
            held = np.sort(level[a:z])[::-1]
            top = int(held[min(len(held) - 1, b.frames(0.2))])  # the level held for at least 0.2 s
            raises[sd].append(ArmRaise(b.t(a), b.t(z - 1), sd, levels[max(top, 1) - 1]))
        # waving: lateral oscillation of the wrist, hand above the chest
        up = wy > b.p[:, j["spine3"], 1]
        x = _smooth(b.local[:, w, 0], b.fps, 0.1)
        waves[sd] = []
        for ev in _oscillations(b, x, up):
            a, z, swings, hz = ev
            tempo = "slow" if hz < _T["wave_slow_hz"] else "fast" if hz > _T["wave_fast_hz"] else "normal"
            waves[sd].append(Wave(b.t(a), b.t(z), sd, swings, tempo))
        # beckoning: the hand in front, moving toward and away from the body, more than sideways
        zf = _smooth(b.local[:, w, 2] - b.local[:, sh, 2], b.fps, 0.1)
        front = (zf > 0.15) & (wy > b.p[:, 0, 1]) & (wy < head_y)  # in front, between hips and head
        for a, z, swings, _ in _oscillations(b, zf, front):
            sideways = np.ptp(zf[a : z + 1]) <= 1.5 * np.ptp(x[a : z + 1])
            if (
                swings >= _T["beckon_min_swings"]
                and not sideways
                and not any(wv.start <= b.t(a) <= wv.end for wv in waves[sd])
            ):
                out.append(Beckon(b.t(a), b.t(z), sd))
        # salute: the hand at the brow, held
        near = np.linalg.norm(b.p[:, w] - b.p[:, j["head"]], axis=-1) < _T["salute_distance_m"]
        near &= wy > head_y - 0.05
        for a, z in _runs(near):
            if z - a >= b.frames(0.4) and b.joint_speed[a:z, w].mean() < 0.5:
                out.append(Salute(b.t(a), b.t(z - 1), sd))
        sided[sd] = _strikes(b, sd)
        out += sided[sd]
    out += _both(
        raises["left"],
        raises["right"],
        lambda a, r: ArmRaise(
            min(a.start, r.start), max(a.end, r.end), "both", min(a.level, r.level, key=levels.index)
        ),
    )
    out += _both(
        waves["left"],
        waves["right"],
        lambda a, r: Wave(
            min(a.start, r.start),
            max(a.end, r.end),
            "both",
            max(a.swings, r.swings),
            a.tempo if a.tempo == r.tempo else "normal",
        ),
    )
    # a fast stroke inside a wave is part of the wave; a two-handed stroke is one slash, not one per hand
    strokes = {sd: [e for e in out if e.kind == "slash" and e.side == "both" and e in sided[sd]] for sd in SIDES}
    waved = waves["left"] + waves["right"]
    out = [e for e in out if e.kind != "slash" or e.side != "both"] + _both(
        strokes["left"],
        strokes["right"],
        lambda a, r: Slash(
            min(a.start, r.start),
            max(a.end, r.end),
            "both",
            max(a.speed, r.speed),
            a.diagonal or r.diagonal,
            a.downward or r.downward,
        ),
    )
    return [e for e in out if e.kind != "slash" or not any(_overlap(e, w) > 0 for w in waved)]


def _oscillations(b: _Body, signal: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int, int, float]]:
    """(start, end, half swings, Hz) of back-and-forth movement of ``signal`` where ``allowed``."""
    lo, hi = _T["wave_half_period_s"]
    out = []
    for a, z in _runs(_fill_gaps(allowed, b.frames(0.2))):
        if z - a < b.frames(0.5):
            continue
        pts = [a + i for i in _extrema_swings(signal[a:z], _T["wave_amplitude_m"])]
        # split the turning points into trains of swings of a plausible half period
        train: list[int] = []
        for k in pts + [None]:
            if k is not None and (not train or lo * b.fps <= k - train[-1] <= hi * b.fps):
                train.append(k)
                continue
            if len(train) - 1 >= _T["wave_min_swings"]:
                halves = len(train) - 1
                hz = halves / 2 / max((train[-1] - train[0]) / b.fps, 1e-6)
                out.append((train[0], train[-1], halves, hz))
            train = [k] if k is not None else []
    return out


def _strikes(b: _Body, sd: str) -> list[Event]:
    j = INDEX
    w, sh = j[f"{sd}_wrist"], j[f"{sd}_shoulder"]
    other = j[f"{'right' if sd == 'left' else 'left'}_wrist"]
    out: list[Event] = []
    speed = b.rel_speed[:, w]  # the hand against the pelvis
    reach = np.linalg.norm(b.p[:, w] - b.p[:, sh], axis=-1) / b.arm[sd]
    extend = np.gradient(reach) * b.fps * b.arm[sd]  # m/s of extension
    forward = b.local[:, w, 2] - b.local[:, sh, 2]
    punches, slashes = [], []
    for a, z in _runs(speed > min(_T["punch_speed"], _T["slash_speed"])):
        k = a + int(np.argmax(speed[a:z]))
        lo, hi = max(0, k - b.frames(0.25)), min(b.n, k + b.frames(0.25))
        fast = np.flatnonzero(speed[lo:hi] > 0.5 * speed[k]) + lo
        move = b.local[fast[-1], w] - b.local[fast[0], w]  # body frame: x left, y up, z forward
        together = float(np.median(np.linalg.norm(b.p[lo:hi, w] - b.p[lo:hi, other], axis=-1))) < 0.25
        # across or down; up only with the hands together (a two-handed swing), else it is a quick raise
        sweep = max(abs(move[0]), -move[1], move[1] if together else 0.0)
        if speed[k] > _T["slash_speed"] and sweep > _T["slash_sweep_m"] and sweep > move[2]:
            diagonal = abs(move[0]) > 0.25 and abs(move[1]) > 0.25
            slashes.append((lo, hi - 1, "both" if together else sd, float(speed[k]), diagonal, bool(move[1] < -0.25)))
        elif (
            speed[k] > _T["punch_speed"]
            and reach[k:hi].max() > _T["punch_reach"]
            and extend[lo:hi].max() > _T["punch_extension_speed"]
            and forward[k:hi].max() > 0.5 * b.arm[sd]
        ):
            punches.append((lo, hi - 1, float(speed[k])))
    if punches:
        groups = [[punches[0]]]
        for p in punches[1:]:
            (groups[-1].append(p) if p[0] - groups[-1][-1][1] < b.frames(1.0) else groups.append([p]))
        for g in groups:
            out.append(Punch(b.t(g[0][0]), b.t(g[-1][1]), sd, len(g), max(p[2] for p in g)))
    for lo, hi, side, sp, diag, down in slashes:
        out.append(Slash(b.t(lo), b.t(hi), side, sp, diag, down))
    # pointing: arm straight and held still away from the body, below the head
    held = (reach > _T["point_reach"]) & (b.joint_speed[:, w] < _T["point_still_speed"])
    held &= (b.p[:, w, 1] < b.p[:, j["head"], 1]) & (b.p[:, w, 1] > b.p[:, 0, 1])
    held &= np.linalg.norm((b.local[:, w] - b.local[:, sh])[:, [0, 2]], axis=-1) > 0.6 * b.arm[sd]
    for a, z in _runs(held):
        if z - a >= b.frames(_T["min_point_s"]):
            out.append(Point(b.t(a), b.t(z - 1), sd))
    return out


def _legs(b: _Body, travelling: np.ndarray) -> list[Event]:
    j = INDEX
    out: list[Event] = []
    for sd in SIDES:
        o = "right" if sd == "left" else "left"
        ankle = j[f"{sd}_ankle"]
        high = b.p[:, ankle, 1] > b.p[:, j[f"{o}_knee"], 1]
        kicks = []
        for a, z in _runs(high):
            k = a + int(np.argmax(b.rel_speed[a:z, ankle]))
            ahead = b.local[a:z, ankle, 2].max() > 0.3  # the foot out in front of the pelvis, not a running heel flick
            if b.rel_speed[k, ankle] > _T["kick_speed"] and ahead:
                kicks.append(Kick(b.t(a), b.t(z - 1), sd, float(b.rel_speed[k, ankle])))
            elif z - a >= b.frames(_T["leg_raise_s"]) and not travelling[a:z].any():
                out.append(LegRaise(b.t(a), b.t(z - 1), sd))
        out += kicks
    # stepping in place: feet lift in turn without travelling
    lifted = b.p[:, [j["left_ankle"], j["right_ankle"]], 1] - b.foot_floor[[0, 2]] > _T["step_lift_m"]
    standing = ~_fill_gaps(travelling, b.frames(0.5)) & (b.ground_speed < _T["moving_speed"])
    for a, z in _runs(standing):
        if z - a < b.frames(1.5):
            continue
        steps = [k for sd in range(2) for k, _ in _runs(lifted[a:z, sd])]
        both_feet = all(len(_runs(lifted[a:z, sd])) >= 2 for sd in range(2))
        if len(steps) >= _T["min_steps_in_place"] and both_feet and not (lifted[a:z].all(axis=1)).any():
            out.append(StepInPlace(b.t(a), b.t(z - 1), len(steps)))
    return out


def _still(b: _Body) -> list[Still]:
    quiet = _smooth(b.joint_speed.max(axis=1), b.fps, 0.3) < _T["still_speed"]
    return [Still(b.t(a), b.t(z - 1)) for a, z in _runs(quiet) if z - a >= b.frames(_T["min_still_s"])]


def _dance(b: _Body, travelling: np.ndarray) -> list[Dance]:
    j = INDEX
    limbs = [j["left_wrist"], j["right_wrist"], j["left_ankle"], j["right_ankle"]]
    local_speed = np.linalg.norm(np.gradient(b.local[:, limbs], axis=0) * b.fps, axis=-1)
    arms = _smooth(local_speed[:, :2].mean(axis=1), b.fps, 2.0)
    legs = _smooth(local_speed[:, 2:].mean(axis=1), b.fps, 2.0)
    active = (arms > _T["dance_limb_speed"]) & (legs > 0.5 * _T["dance_limb_speed"])
    active &= _smooth(travelling.astype(float), b.fps, 2.0) < 0.5  # not a steady walk or run
    return [Dance(b.t(a), b.t(z - 1)) for a, z in _runs(active) if z - a >= b.frames(_T["dance_min_s"])]


def _angle(b: _Body, a: str, m: str, c: str) -> np.ndarray:
    """Per frame, the angle at joint ``m`` between ``a`` and ``c`` (degrees)."""
    u, v = b.p[:, INDEX[a]] - b.p[:, INDEX[m]], b.p[:, INDEX[c]] - b.p[:, INDEX[m]]
    cos = (u * v).sum(-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-9)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _manner(b: _Body, travelling: np.ndarray, bent: bool) -> list[Manner]:
    """At most one :class:`Manner` spanning the clip; ``bent``: a bow or bend event already says the torso
    pitches forward."""
    if b.n < b.frames(_T["min_manner_s"]):
        return []
    j = INDEX
    traits = []
    pitch = float(np.median(b.pitch))
    if pitch > _T["hunched_deg"] and not bent:
        traits.append("hunched")
    elif pitch < _T["lean_back_deg"]:
        traits.append("lean_back")
    head_pitch = float(np.median(b.pitch_of(b.p[:, j["head"]] - b.p[:, j["neck"]]) - b.pitch))
    if head_pitch > _T["head_down_deg"]:
        traits.append("head_down")
    elif head_pitch < _T["head_up_deg"]:
        traits.append("head_up")
    elbows = np.abs(b.local[:, [j["left_elbow"], j["right_elbow"]], 0])
    shoulders = np.abs(b.local[:, [j["left_shoulder"], j["right_shoulder"]], 0])
    if float(np.median(elbows - shoulders)) > _T["elbows_out_m"]:
        traits.append("elbows_out")
    knee = np.minimum(*(_angle(b, f"{sd}_hip", f"{sd}_knee", f"{sd}_ankle") for sd in SIDES))
    if float(np.median(knee)) < _T["bent_knee_deg"]:
        traits.append("bent_knees")
    if travelling.sum() >= b.frames(_T["min_manner_s"]):
        wrists = b.local[travelling][:, [j["left_wrist"], j["right_wrist"]], 2]
        swing = float(np.mean(np.percentile(wrists, 90, axis=0) - np.percentile(wrists, 10, axis=0)))
        if swing > _T["arm_swing_big_m"]:
            traits.append("big_arm_swing")
        elif swing < _T["arm_swing_small_m"]:
            traits.append("small_arm_swing")
    limbs = [j["left_wrist"], j["right_wrist"], j["left_ankle"], j["right_ankle"]]
    if float(np.mean(b.rel_speed[:, limbs])) > _T["energetic_speed"]:
        traits.append("energetic")
    return [Manner(0.0, b.t(b.n - 1), tuple(traits))] if traits else []


def detect(positions: np.ndarray, fps: float = 20.0) -> Description:
    """Measure what the body does in canonical positions (F, 22, 3) at ``fps``; see the module docstring."""
    p = _validate(positions, fps)
    b = _Body(p, fps)
    loco = _locomotion(b)
    travelling, running = np.zeros(b.n, bool), np.zeros(b.n, bool)
    for e in loco:
        travelling[int(round(e.start * fps)) : int(round(e.end * fps)) + 1] = True
        running[int(round(e.start * fps)) : int(round(e.end * fps)) + 1] |= e.gait != "walk"
    bends = _bends(b, travelling)
    events: list[Event] = [
        *_still(b),
        *loco,
        *_turns(b, travelling),
        *_airborne(b, running),
        *_lowering(b),
        *bends,
        *_arms(b),
        *_legs(b, travelling),
        *_dance(b, travelling),
        *_manner(b, travelling, bool(bends)),
    ]
    if not loco:
        events.append(InPlace(0.0, b.t(b.n - 1)))
    events.sort(key=lambda e: (e.start, e.end, e.kind))
    steps = np.linalg.norm(np.diff(p[:, 0, [0, 2]], axis=0), axis=-1)
    facts = Facts(
        frames=b.n,
        fps=float(fps),
        duration=(b.n - 1) / fps,
        height=round(b.stand, 3),
        path_length=float(steps.sum()),
        net_displacement=float(np.linalg.norm(p[-1, 0, [0, 2]] - p[0, 0, [0, 2]])),
        yaw_change=float(np.degrees(b.yaw[-1] - b.yaw[0])),
        mean_speed=float(steps.sum() / max((b.n - 1) / fps, 1e-9)),
        stationary=not loco,
    )
    return Description(facts, tuple(events))


def mirror_event(event: Event) -> Event:
    """The event a left/right mirror of the clip should produce (sides, curves and signed drift swapped)."""
    swap = {"left": "right", "right": "left", "curve-left": "curve-right", "curve-right": "curve-left"}
    values = asdict(event)
    for name in ("side", "direction", "path"):
        if name in values:
            values[name] = swap.get(values[name], values[name])
    if "drift" in values:
        values["drift"] = -values["drift"]
    return type(event)(**values)


# ----------------------------------------------------------------------------------------------------------------------
# Phrasing


_DOUBLE = {"step", "sidestep", "jog", "run", "sit", "hop", "trot", "jab", "spin", "get", "put", "cut", "squat"}
_THIRD_IRREGULAR = {"go": "goes", "do": "does", "have": "has", "be": "is"}


def _conjugate(verb: str, form: str) -> str:
    if form == "imperative":
        return verb
    if form == "third":
        if verb in _THIRD_IRREGULAR:
            return _THIRD_IRREGULAR[verb]
        if verb.endswith(("s", "sh", "ch", "x", "z")):
            return verb + "es"
        if verb.endswith("y") and verb[-2] not in "aeiou":
            return verb[:-1] + "ies"
        return verb + "s"
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb in _DOUBLE:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) and verb != "be":
        return verb[:-1] + "ing"
    return verb + "ing"


def _form(phrase: str, form: str, register: str) -> str:
    """``phrase`` is 'verb rest [& verb rest]' with {poss} for your/their; conjugate the verbs for ``form``."""
    poss = "your" if register == "spoken" else "their"
    out = []
    for part in phrase.split(" & "):
        verb, _, rest = part.partition(" ")
        out.append(_conjugate(verb, form) + (" " + rest if rest else ""))
    return " and ".join(out).replace("{poss}", poss)


def phrasing_split(text: str) -> str:
    """``train`` or ``heldout`` for a phrasing, from a digest of its wording with sides and numbers blanked.

    So the same wording is in the same split for every event, left and right alike (a mirror keeps splits).
    """
    key = re.sub(r"\d+", "#", re.sub(r"\bright\b", "left", text))
    return "heldout" if zlib.crc32(key.encode()) % 3 == 0 else "train"


def _tagged(items: list[str]) -> list[tuple[str, str]]:
    """(item, split) pairs; a list that would leave a split empty offers all of its items to both."""
    tags = [(x, phrasing_split(x)) for x in items]
    if len({t for _, t in tags}) < 2:
        return [(x, sp) for x in items for sp in SPLITS]
    return tags


def _about(angle: float) -> str:
    return f"about {int(round(angle / 15.0) * 15)} degrees"


def _distance(d: float) -> str:
    if d < 1.5:
        return "about a metre"
    return f"about {int(round(d))} metres"


_DIR_WORDS = {
    "forward": ["forward", "ahead", "straight ahead", "forwards"],
    "backward": ["backward", "backwards", "in reverse"],
    "left": ["to the left", "sideways to the left", "leftward"],
    "right": ["to the right", "sideways to the right", "rightward"],
}
_GAIT_VERBS = {
    "walk": ["walk"],
    "jog": ["jog", "run at an easy pace", "trot"],
    "run": ["run", "hurry", "go at a run"],
    "sprint": ["sprint", "dash", "run very fast", "race", "run at full speed"],
}
_TEMPO_WORDS = {"slow": ["slowly", "at a slow pace", "unhurriedly"], "fast": ["quickly", "briskly", "at a fast pace"]}


def _locomotion_phrases(e: Locomotion) -> list[str]:
    dirs = _DIR_WORDS[e.direction]
    out = []
    verbs = list(_GAIT_VERBS[e.gait])
    if e.gait == "walk" and e.direction in ("left", "right"):
        out += [
            f"sidestep to the {e.direction}",
            f"step sideways to the {e.direction}",
            f"shuffle sideways to the {e.direction}",
            f"walk sideways to the {e.direction}",
        ]
    if e.direction == "forward" and abs(e.drift) >= _T["diagonal_deg"]:
        side = "left" if e.drift > 0 else "right"
        out += [
            f"{verbs[0]} diagonally to the {side}",
            f"{verbs[0]} forward and to the {side}",
            f"{verbs[0]} ahead, veering {side}",
            f"head off diagonally {side}",
        ]
    if e.gait == "walk" and e.direction == "backward":
        out += ["step back", "back up", "walk backwards", "move backward", "retreat backwards"]
    if e.gait == "walk" and e.tempo == "slow" and e.direction == "forward":
        out += ["stroll forward", "amble along", "stroll", "amble forward", "walk slowly"]
    if e.gait == "walk" and e.tempo == "fast" and e.direction == "forward":
        out += ["walk briskly", "stride forward", "walk at a brisk pace"]
    for manner, words in (
        ("shuffle", ["shuffle", "shuffle along"]),
        ("march", ["march", "march forward"]),
        ("trudge", ["trudge", "trudge along"]),
        ("tiptoe", ["tiptoe", "walk on tiptoe"]),
        ("stomp", ["stomp", "stomp along"]),
    ):
        if manner in e.manners and e.gait == "walk":
            out += [w if " " in w else f"{w} {dirs[0]}" for w in words]
    for v in verbs:
        for d in dirs[:2]:
            out.append(f"{v} {d}")
    if e.tempo in _TEMPO_WORDS:
        out += [f"{verbs[0]} {dirs[0]} {t}" for t in _TEMPO_WORDS[e.tempo]]
    if e.gait != "walk" or e.tempo != "slow":
        out.append(f"move {dirs[0]}")
    if e.distance >= 1.5:
        out += [f"{verbs[0]} {dirs[0]} for {_distance(e.distance)}", f"cover {_distance(e.distance)} {dirs[0]}"]
    if e.path.startswith("curve"):
        side = e.path.split("-")[1]
        out += [f"{verbs[0]} in a curve to the {side}", f"{verbs[0]} along a path curving to the {side}"]
    elif e.path == "circle":
        out += [f"{verbs[0]} in a circle", f"{verbs[0]} around in a circle"]
    return out


def _turn_phrases(e: Turn) -> list[str]:
    s, about = e.side, _about(e.angle)
    out = [
        f"turn {s}",
        f"turn to the {s}",
        f"turn {s} {about}",
        f"turn {about} to the {s}",
        f"rotate {about} to the {s}",
        f"make a turn to the {s}",
        f"change direction to the {s}",
        f"swing around to the {s}",
    ]
    if 65 <= e.angle <= 115:
        out += [f"make a quarter turn to the {s}", f"turn ninety degrees {s}", f"make a ninety-degree turn to the {s}"]
    if 150 <= e.angle <= 210:
        out += ["turn around", f"turn all the way around to the {s}", f"do a half turn to the {s}", "about-face"]
    if e.in_place:
        out += [f"turn {s} on the spot", f"pivot to the {s}"]
    return out


def _spin_phrases(e: Spin) -> list[str]:
    s, about = e.side, _about(e.angle)
    return [
        f"spin around to the {s}",
        f"spin {about} to the {s}",
        f"twirl to the {s}",
        "spin around",
        "twirl around",
        f"pirouette to the {s}",
        "do a full turn",
        f"turn all the way around {about} to the {s}",
    ]


def _hand(side: str) -> list[str]:
    if side == "both":
        return ["both hands", "both arms", "both of {poss} hands"]
    return [f"{{poss}} {side} hand", f"{{poss}} {side} arm", f"the {side} hand"]


def _with_hand(side: str) -> list[str]:
    return (
        ["with both hands", "with both arms"]
        if side == "both"
        else [f"with {{poss}} {side} hand", f"with the {side} hand"]
    )


def _arm_raise_phrases(e: ArmRaise) -> list[str]:
    where = {
        "shoulder": ["to shoulder height", "to shoulder level"],
        "head": ["to head height", "up to the head"],
        "above_head": ["above {poss} head", "over {poss} head", "high above {poss} head", "up high"],
    }[e.level]
    out = []
    for h in _hand(e.side):
        out += [f"raise {h} {where[0]}", f"lift {h} {where[-1]}"]
        if e.level == "above_head":
            out += [f"put {h} up", f"raise {h}", f"stretch {h} up"]
    if e.level == "above_head":
        out.append("reach up with both hands" if e.side == "both" else f"reach up with the {e.side} hand")
    return out


def _wave_phrases(e: Wave) -> list[str]:
    out = []
    for h in _hand(e.side):
        out += [f"wave {h}", f"wave {h} back and forth", f"wave {h} from side to side"]
    out += [f"wave {w}" for w in _with_hand(e.side)]
    out += [f"give a wave {_with_hand(e.side)[0]}", f"wave {_with_hand(e.side)[0]} again and again"]
    if e.tempo in _TEMPO_WORDS:
        out += [f"wave {_hand(e.side)[0]} {t}" for t in _TEMPO_WORDS[e.tempo]]
    return out


_ARM_PHRASES = {
    "beckon": lambda e: (
        [f"beckon {w}" for w in _with_hand(e.side)]
        + [f"wave someone over {_with_hand(e.side)[0]}", f"call someone closer {_with_hand(e.side)[0]}", "beckon"]
    ),
    "salute": lambda e: [
        f"salute {_with_hand(e.side)[0]}",
        "salute",
        "give a salute",
        f"raise {_hand(e.side)[0]} to {{poss}} brow in a salute",
    ],
    "punch": lambda e: (
        [f"punch {w}" for w in _with_hand(e.side)]
        + [
            f"throw a punch {_with_hand(e.side)[0]}",
            f"jab {_with_hand(e.side)[0]}",
            "punch forward",
            f"strike forward {_with_hand(e.side)[0]}",
            "throw a jab",
        ]
        + (["punch several times", "throw a few punches", "jab repeatedly"] if e.count > 1 else [])
    ),
    "point": lambda e: (
        [f"point {w}" for w in _with_hand(e.side)]
        + [
            f"point {_with_hand(e.side)[0]} at something",
            "point at something",
            f"hold out {_hand(e.side)[0]}",
            f"extend {_hand(e.side)[0]} & point",
        ]
    ),
    "slash": lambda e: (
        [f"slash {w}" for w in _with_hand(e.side)]
        + ["make a slashing motion", f"swing {_hand(e.side)[0]} fast", "slash through the air", "cut the air"]
        + (["slash downward", "strike downward", f"swing {_hand(e.side)[0]} down hard"] if e.downward else [])
        + (["slash diagonally", "cut diagonally through the air"] if e.diagonal else [])
    ),
    "kick": lambda e: [
        f"kick with {{poss}} {e.side} leg",
        f"kick with the {e.side} foot",
        "kick",
        "kick forward",
        f"throw a kick with the {e.side} leg",
        "kick high",
        f"kick out {{poss}} {e.side} leg",
    ],
    "leg_raise": lambda e: [
        f"raise {{poss}} {e.side} leg",
        f"lift {{poss}} {e.side} leg",
        f"lift the {e.side} knee high",
        f"stand on the other leg with the {e.side} leg raised",
        f"raise the {e.side} leg",
    ],
    "step_in_place": lambda e: [
        "step in place",
        "march on the spot",
        "tread in place",
        "walk on the spot",
        "step from foot to foot",
    ],
    "still": lambda e: [
        "stand still",
        "stand motionless",
        "stay still",
        "remain standing still",
        "hold still",
        "stand without moving",
    ],
    "in_place": lambda e: [
        "stay in place",
        "stay on the spot",
        "remain in one place",
        "keep to one spot",
        "stay where {poss} feet are",
    ],
    "dance": lambda e: ["dance", "dance energetically", "move to a rhythm", "bust some dance moves", "dance around"],
    "bow": lambda e: [
        "bow",
        "take a bow",
        "bow forward",
        "bend forward in a bow",
        "bow & straighten up",
        "give a bow",
    ],
    "bend": lambda e: ["bend forward", "lean forward", "bend over", "bend down forward", "stoop forward"],
}


def _airborne_phrases(e: Airborne) -> list[str]:
    words = {
        "jump": ["jump", "jump up", "jump into the air", "spring up", "leap up"],
        "hop": ["hop", "hop up", "do a small hop", "make a little jump"],
        "leap": ["leap", "leap forward", "jump forward", "take a leap", "bound forward"],
    }[e.style]
    if e.style == "jump" and e.height >= 0.3:
        words += ["jump high", "jump high into the air"]
    return words


def _lower_phrases(e: Lower) -> list[str]:
    return {
        "crouch": ["crouch", "crouch down", "squat", "squat down", "duck", "duck down", "get low"],
        "sit": ["sit down", "sit", "take a seat", "squat down", "lower into a sitting position"],
        "lie": ["lie down", "lie on the ground", "lie flat", "get down on the floor"],
    }[e.pose]


_MANNER_PHRASES = {
    "hunched": ["hunch forward", "stoop forward", "keep {poss} back hunched", "stay hunched over", "lean forward",
                "hold {poss} upper body bent forward"],
    "lean_back": ["lean back", "lean {poss} upper body back", "keep {poss} chest out",
                  "hold {poss} upper body tilted back", "stand tall & lean back"],
    "head_down": ["keep {poss} head down", "look down", "hang {poss} head", "look at the ground",
                  "keep {poss} eyes on the ground"],
    "head_up": ["keep {poss} head up", "look up", "hold {poss} head high", "keep {poss} chin up",
                "tilt {poss} head back"],
    "elbows_out": ["keep {poss} elbows out", "hold {poss} arms out from {poss} body",
                   "keep {poss} arms away from {poss} sides", "hold {poss} elbows wide"],
    "bent_knees": ["keep {poss} knees bent", "move with bent knees", "keep {poss} knees flexed",
                   "stay on bent knees"],
    "big_arm_swing": ["swing {poss} arms widely", "pump {poss} arms", "swing {poss} arms a lot",
                      "move {poss} arms in big swings"],
    "small_arm_swing": ["move {poss} arms very little", "swing {poss} arms only a little",
                        "keep {poss} arm swing small", "let {poss} arms swing only slightly"],
    "energetic": ["move energetically", "move vigorously", "move with lots of energy", "put a lot of energy into it"],
}  # fmt: skip


def _manner_phrases(e: Manner) -> list[str]:
    """One trait's phrase, or two traits' joined (``&``: both verbs conjugated)."""
    out = [x for t in e.traits for x in _MANNER_PHRASES[t]]
    for i, first in enumerate(e.traits):
        for second in e.traits[i + 1 :]:
            out += [f"{a} & {b}" for a, b in zip(_MANNER_PHRASES[first], _MANNER_PHRASES[second])]
    return out


def event_phrases(event: Event) -> list[tuple[str, str]]:
    """(verb phrase, split) candidates for one event; verb first, ``{poss}`` for your/their."""
    k = event.kind
    if k == "locomotion":
        items = _locomotion_phrases(event)
    elif k == "turn":
        items = _turn_phrases(event)
    elif k == "spin":
        items = _spin_phrases(event)
    elif k == "airborne":
        items = _airborne_phrases(event)
    elif k == "lower":
        items = _lower_phrases(event)
    elif k == "arm_raise":
        items = _arm_raise_phrases(event)
    elif k == "wave":
        items = _wave_phrases(event)
    elif k == "manner":
        items = _manner_phrases(event)
    else:
        items = _ARM_PHRASES[k](event)
    return _tagged(list(dict.fromkeys(items)))


_SUBJECTS = [
    "a person",
    "someone",
    "the person",
    "a figure",
    "the character",
    "a man or woman",
    "the actor",
    "a human",
    "the subject",
    "an individual",
]
_FRAMES = {
    "descriptive": {
        1: [
            "{S} {a}.",
            "{S} {a}.",
            "Here {s} {a}.",
            "In this clip {s} {a}.",
            "{S} can be seen {ga}.",
            "We see {s} {ga}.",
            "The motion shows {s} {ga}.",
            "{Ga}, that is what {s} does.",
        ],
        2: [
            "{S} {a}, then {b}.",
            "{S} {a} and then {b}.",
            "First {s} {a}; after that {s2} {b}.",
            "{S} {a}, and afterwards {b}.",
            "{S} {a} before {gb}.",
            "After {ga}, {s} {b}.",
            "{S} {a}; next, {s2} {b}.",
            "{S} starts by {ga} and then {b}.",
        ],
        "while": [
            "{S} {a} while {gb}.",
            "{S} {a} and {b} at the same time.",
            "While {ga}, {s} {b}.",
            "{S} {a}, {gb} meanwhile.",
            "{S} {a}, {gb} as well.",
        ],
    },
    "spoken": {
        1: [
            "{ia}",
            "{ia}",
            "please {ia}",
            "can you {ia}?",
            "okay, {ia}",
            "I want you to {ia}",
            "now {ia}",
            "go on and {ia}",
            "just {ia}",
            "could you {ia} for me?",
        ],
        2: [
            "{ia} and then {ib}",
            "{ia}, then {ib}",
            "first {ia}, then {ib}",
            "{ia} and after that {ib}",
            "okay, {ia}, and then {ib}",
            "{ia}, and once you're done, {ib}",
            "start by {ga}, then {ib}",
            "please {ia} and then {ib}",
        ],
        "while": [
            "{ia} while {gb}",
            "{ia} and {ib} at the same time",
            "while {ga}, {ib}",
            "{ia} and {ib} together",
            "{ia}, {gb} as you go",
        ],
    },
}


def _frame_choices(register: str, key) -> list[tuple[str, str]]:
    """(frame, split): a fixed list, so every third frame (index 2, 5, ...) is held out."""
    frames = list(dict.fromkeys(_FRAMES[register][key]))
    return [(f, "heldout" if i % 3 == 2 else "train") for i, f in enumerate(frames)]


_WEIGHT = {
    "locomotion": 3.0,
    "turn": 3.0,
    "spin": 3.0,
    "airborne": 3.5,
    "wave": 3.0,
    "punch": 3.5,
    "kick": 3.5,
    "slash": 3.5,
    "bow": 3.5,
    "dance": 2.5,
    "arm_raise": 2.0,
    "lower": 2.5,
    "bend": 1.5,
    "beckon": 2.0,
    "salute": 1.5,
    "point": 1.5,
    "leg_raise": 1.5,
    "step_in_place": 1.5,
    "still": 1.0,
    "in_place": 0.5,
    "manner": 2.0,
}
_BRIEF = {"airborne", "punch", "kick", "slash", "bow"}  # short by nature: their salience does not grow with time


def _salience(e: Event) -> float:
    weight = _WEIGHT[e.kind] * (0.5 if e.kind == "turn" and e.angle < 60 else 1.0)  # a glance aside
    return weight * (1.0 + (2.0 if e.kind in _BRIEF else min(e.duration, 3.0)))


def salient(description: Description, limit: int = 4) -> list[Event]:
    """The events worth a caption, in time order: one per (kind, side, direction) -- the longest -- up to ``limit``."""
    best: dict[tuple, Event] = {}
    for e in description.events:
        key = (e.kind, getattr(e, "side", None), getattr(e, "direction", None), getattr(e, "gait", None))
        if key not in best or e.duration > best[key].duration:
            best[key] = e
    events = list(best.values())
    # an arm raise is implied by a wave of the same side; stillness only when nothing else happens
    waved = {e.side for e in events if e.kind == "wave"}
    events = [e for e in events if not (e.kind == "arm_raise" and e.side in waved)]
    # staying in place or still only when nothing else happens
    events = [e for e in events if e.kind != "in_place"] or events
    if len(events) > 1:
        events = [e for e in events if e.kind != "still"] or events
    events.sort(key=lambda e: -_salience(e))
    return sorted(events[:limit], key=_order)


def _order(e: Event) -> tuple:
    """Time order, the clip-long manner last (so it reads "walks forward while keeping their head down")."""
    return (e.kind == "manner", e.start, e.end)


@dataclass(frozen=True)
class Caption:
    text: str
    register: str
    events: tuple[Event, ...]  # the detected events this caption states


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _phrase(rng: random.Random, event: Event, split: str | None) -> str:
    options = [p for p, sp in event_phrases(event) if split is None or sp == split]
    return rng.choice(options)


def generate(
    description: Description, n: int = 5, register: str = "descriptive", seed: int = 0, split: str | None = "train"
) -> list[Caption]:
    """``n`` distinct captions (fewer if the events allow fewer) of one register, drawn with ``seed``.

    ``split`` picks the phrasings: ``train``, ``heldout`` (never in train) or None (all).
    """
    _check(register, split)
    events = salient(description)
    rng = random.Random(seed)
    out: dict[str, Caption] = {}
    for _ in range(n * 20):
        if len(out) >= n:
            break
        chosen = _choose_events(rng, events)
        text = _compose(rng, chosen, register, split)
        out.setdefault(text, Caption(text, register, tuple(chosen)))
    return list(out.values())


def _choose_events(rng: random.Random, events: list[Event]) -> list[Event]:
    """A time-ordered subset of one to three events (all of them half of the time); the manner never alone when
    the body does something else."""
    if len(events) <= 1 or rng.random() < 0.5:
        return events[:3]
    k = rng.randint(1, min(3, len(events)))
    chosen = rng.sample(events, k)
    if all(e.kind == "manner" for e in chosen):
        chosen.append(next(e for e in events if e.kind != "manner"))
    return sorted(chosen, key=_order)


def _compose(rng: random.Random, events: list[Event], register: str, split: str | None) -> str:
    """One sentence: a frame for the first one or two events, further events appended with then / while."""
    form = "imperative" if register == "spoken" else "third"
    clauses = [
        (_form(p, form, register), _form(p, "gerund", register)) for p in (_phrase(rng, e, split) for e in events)
    ]
    links = ["while" if _overlap(a, b) >= 0.5 else 2 for a, b in zip(events, events[1:])]
    subj = rng.choice(_SUBJECTS)
    (a, ga), rest = clauses[0], clauses[1:]
    slots = {
        "S": _cap(subj),
        "s": subj,
        "s2": "this person" if subj == "the person" else "the person",
        "a": a,
        "ga": ga,
        "Ga": _cap(ga),
        "ia": a,
    }
    if rest:
        slots |= {"b": rest[0][0], "gb": rest[0][1], "ib": rest[0][0]}
    frames = [f for f, s in _frame_choices(register, links[0] if links else 1) if split is None or s == split]
    text = rng.choice(frames).format(**slots)
    for (c, _), link in zip(rest[1:], links[1:]):
        end = "." if text.endswith(".") else "?" if text.endswith("?") else ""
        then = rng.choice([", and then", ", and after that", ", and finally" if c == rest[-1][0] else ", then"])
        text = text.rstrip(".?") + (f", and also {c}" if link == "while" else f"{then} {c}") + end
    return _cap(text) if register == "descriptive" else text


def verb_phrases(
    description: Description,
    n: int = 4,
    register: str = "descriptive",
    seed: int = 0,
    split: str | None = "train",
    exclude: tuple[str, ...] = (),
) -> list[Caption]:
    """``n`` distinct predicates without a subject or sentence frame (fewer if the events allow fewer), for joining
    to another caption of the same clip: one or two salient events not of a kind in ``exclude``, third person for
    ``descriptive`` ("turns left about 90 degrees, then raises their right hand"), imperative for ``spoken``
    ("turn left while raising your right hand"). Empty when no event is left."""
    _check(register, split)
    events = [e for e in salient(description) if e.kind not in exclude]
    rng = random.Random(seed)
    form = "imperative" if register == "spoken" else "third"
    out: dict[str, Caption] = {}
    for _ in range(n * 20 if events else 0):
        if len(out) >= n:
            break
        chosen = _choose_events(rng, events)[:2]
        phrases = [_phrase(rng, e, split) for e in chosen]
        text = _form(phrases[0], form, register)
        if len(chosen) == 2:
            overlap = _overlap(*chosen) >= 0.5
            second = _form(phrases[1], "gerund" if overlap else form, register)
            text += f" while {second}" if overlap else rng.choice([f", then {second}", f" and then {second}"])
        out.setdefault(text, Caption(text, register, tuple(chosen)))
    return list(out.values())


def _check(register: str, split: str | None) -> None:
    if register not in REGISTERS:
        raise ValueError(f"unknown register {register!r}; registers: {', '.join(REGISTERS)}")
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")


def caption_clip(
    positions: np.ndarray,
    fps: float = 20.0,
    n: int = 5,
    register: str = "descriptive",
    seed: int = 0,
    split: str | None = "train",
) -> tuple[Description, list[Caption]]:
    """Detect and caption in one call."""
    description = detect(positions, fps)
    return description, generate(description, n, register, seed, split)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motion.kinematic", description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path, help="a BVH file (any rig motion/ recognises)")
    parser.add_argument("--n", type=int, default=5, help="captions per register")
    parser.add_argument("--register", choices=(*REGISTERS, "both"), default="both")
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="train", help="phrasing split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mirror", action="store_true", help="describe the left/right mirror of the clip")
    args = parser.parse_args(argv)
    from motion.bvh import BvhError
    from motion.canonical import load_canonical
    from motion.mirror import mirror_positions
    from motion.rigs import RigError

    try:
        canon = load_canonical(args.clip)
    except (BvhError, RigError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    positions = mirror_positions(canon.positions) if args.mirror else canon.positions
    try:
        description = detect(positions, canon.fps)
    except ValueError as err:
        print(f"error: {args.clip}: {err}", file=sys.stderr)
        return 2
    f = description.facts
    print(
        f"{args.clip.name}: {f.duration:.2f} s, path {f.path_length:.2f} m, net {f.net_displacement:.2f} m, "
        f"yaw change {f.yaw_change:+.0f} deg, standing pelvis height {f.height:.2f} m"
    )
    print("events:")
    for e in description.events:
        attrs = ", ".join(f"{k}={v}" for k, v in e.as_dict().items() if k not in ("kind", "start", "end"))
        print(f"  {e.start:6.2f}-{e.end:6.2f} s  {e.kind:<13} {attrs}")
    split = None if args.split == "all" else args.split
    for register in REGISTERS if args.register == "both" else (args.register,):
        print(f"{register} captions:")
        for c in generate(description, args.n, register, args.seed, split):
            print(f"  {c.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
