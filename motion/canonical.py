"""Any humanoid BVH -> canonical joint positions (metres, Y up, facing +Z).

Steps: forward kinematics on the file's own rig, rig map onto the 22
canonical joints, units to metres, up axis to +Y, resampling to the target
fps, then the first frame is placed with the pelvis over the origin, facing
+Z, and the lowest foot point of the clip on the floor (y = 0).

Units and the up axis come from, in order: the caller, the rig map, then
detection. Up is the axis the pelvis -> head vector points along in the first
frame. Units come from the length of legs plus spine (about 1.4 m for an
adult, pose-independent): 0.4-4 reads as metres, 25-100 as inches, 100-400
as centimetres; anything else must be declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motion.bvh import BvhError, BvhMotion, read_bvh
from motion.kinematics import forward_kinematics, yaw_matrix
from motion.resample import TARGET_FPS, resample_positions
from motion.rigs import RigError, RigMap, resolve_rig, separate_coincident
from motion.skeleton import FEET, HIPS, INDEX, SHOULDERS

UNIT_SCALE = {"m": 1.0, "cm": 0.01, "inch": 0.0254}
_LENGTH_CHAIN = ("pelvis", "spine1", "spine2", "spine3", "neck", "head")
_LEG_CHAIN = ("left_hip", "left_knee", "left_ankle")


@dataclass
class CanonicalMotion:
    """Joint positions of one clip on the canonical skeleton."""

    positions: np.ndarray  # (F, 22, 3) metres, Y up, frame 0 at the origin facing +Z
    fps: float
    source: str
    rig: str
    units: str
    up: str

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def duration(self) -> float:
        return (self.n_frames - 1) / self.fps


def chain_length(positions: np.ndarray) -> float:
    """Legs-plus-spine length of the first frame, in the positions' units."""
    total = 0.0
    for chain in (_LENGTH_CHAIN, _LEG_CHAIN):
        pts = positions[0, [INDEX[n] for n in chain]]
        total += float(np.linalg.norm(np.diff(pts, axis=0), axis=-1).sum())
    return total


def detect_up(positions: np.ndarray) -> str:
    """'y' or 'z': the axis the body's pelvis -> head vector follows in frame 0."""
    v = positions[0, INDEX["head"]] - positions[0, INDEX["pelvis"]]
    axis = int(np.argmax(np.abs(v)))
    if axis == 0 or v[axis] < 0 or abs(v[axis]) < 0.7 * np.linalg.norm(v):
        raise RigError(
            f"cannot detect the up axis: pelvis->head is {np.round(v, 3).tolist()} in frame 0;"
            " declare it (up='y' or 'z')"
        )
    return "yz"[axis - 1]


def detect_units(positions: np.ndarray) -> str:
    length = chain_length(positions)
    if 0.4 <= length <= 4:
        return "m"
    if 25 <= length < 100:
        return "inch"
    if 100 <= length <= 400:
        return "cm"
    raise RigError(f"cannot detect units: legs plus spine measure {length:.3g} file units; declare units (m, cm, inch)")


def to_y_up(positions: np.ndarray, up: str) -> np.ndarray:
    if up == "y":
        return positions
    x, y, z = positions[..., 0], positions[..., 1], positions[..., 2]
    return np.stack([x, z, -y], axis=-1)  # Z-up, right-handed -> Y-up


def facing_angle(positions: np.ndarray) -> np.ndarray:
    """Yaw (radians, about +Y) of the body's forward direction per frame; 0 faces +Z."""
    across = positions[:, HIPS[1]] - positions[:, HIPS[0]] + positions[:, SHOULDERS[1]] - positions[:, SHOULDERS[0]]
    forward = np.cross(np.array([0.0, 1.0, 0.0]), across)
    return np.arctan2(forward[:, 0], forward[:, 2])


def place(positions: np.ndarray) -> np.ndarray:
    """Floor at y=0 (lowest foot point), pelvis over the origin and facing +Z at frame 0."""
    out = positions.copy()
    out[..., 1] -= out[:, list(FEET), 1].min()
    out[..., [0, 2]] -= out[0, INDEX["pelvis"], [0, 2]]
    turn = yaw_matrix(-facing_angle(out[:1])[0])
    return out @ turn.T


def canonicalize(
    motion: BvhMotion,
    rig: str | Path | RigMap | None = None,
    units: str | None = None,
    up: str | None = None,
    fps: float = TARGET_FPS,
) -> CanonicalMotion:
    """Map a parsed BVH onto the canonical skeleton (see the module docstring)."""
    bound = resolve_rig(motion.skeleton, rig)
    world, _ = forward_kinematics(motion)
    if not np.isfinite(world).all():
        raise BvhError(motion.source, "joint positions overflow: the file's offsets or values are too large")
    bound = separate_coincident(bound, bound.canonical_positions(world[:1])[0])
    positions = bound.canonical_positions(world)
    up = up or bound.rig.up or detect_up(positions)
    positions = to_y_up(positions, up)
    units = units or bound.rig.units or detect_units(positions)
    if units not in UNIT_SCALE:
        raise RigError(f"unknown units {units!r}: use one of {', '.join(UNIT_SCALE)}")
    positions = resample_positions(positions * UNIT_SCALE[units], motion.fps, fps)
    return CanonicalMotion(place(positions), fps, motion.source, bound.rig.name, units, up)


def load_canonical(path: str | Path, **kwargs) -> CanonicalMotion:
    """Read a BVH file and canonicalize it; keyword arguments as for :func:`canonicalize`."""
    return canonicalize(read_bvh(path), **kwargs)
