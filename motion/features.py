"""HumanML3D-style motion features from canonical joint positions.

One row per frame transition (F positions give F-1 rows), 263 values:

    block          size    meaning
    root_rot_vel    1      change of facing yaw to the next frame (radians)
    root_lin_vel    2      pelvis velocity in the facing frame, x and z (m/frame)
    root_y          1      pelvis height above the floor (m)
    ric            63      joints 1..21 relative to the pelvis, in the facing frame, y absolute (m)
    rot6d         126      joints 1..21 local rotation, first two matrix columns
    local_vel      66      joints 0..21 velocity in the facing frame (m/frame)
    foot_contact    4      left ankle, left foot, right ankle, right foot (0 or 1)

The facing frame turns the world about +Y so the body faces +Z. Local
rotations come from the positions (swing-only inverse kinematics from the
T-pose in ``motion.skeleton.REST_DIRECTIONS``), so the features depend only on
joint positions and are the same for any rig. A foot joint is in contact when
it moves slower than ``CONTACT_SPEED`` and is lower than ``CONTACT_HEIGHT``.
"""

from __future__ import annotations

import numpy as np

from motion.canonical import facing_angle
from motion.kinematics import rotation_between, yaw_matrix
from motion.skeleton import FEET, N_JOINTS, PARENTS, REST_DIRECTIONS

CONTACT_SPEED = 0.9  # m/s; HumanML3D's 0.002 m^2/frame^2 threshold at 20 fps
CONTACT_HEIGHT = 0.15  # m above the floor

_SIZES = {
    "root_rot_vel": 1,
    "root_lin_vel": 2,
    "root_y": 1,
    "ric": (N_JOINTS - 1) * 3,
    "rot6d": (N_JOINTS - 1) * 6,
    "local_vel": N_JOINTS * 3,
    "foot_contact": 4,
}
LAYOUT: dict[str, slice] = {}
_start = 0
for _name, _size in _SIZES.items():
    LAYOUT[_name] = slice(_start, _start + _size)
    _start += _size
FEATURE_DIM = _start  # 263


def local_rotations(positions: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """(F, 22, 3, 3) rotation of each joint's bone relative to its parent bone.

    The pelvis entry is the facing rotation (the root's 'bone').
    """
    n_frames = positions.shape[0]
    world = np.empty((n_frames, N_JOINTS, 3, 3))
    world[:, 0] = yaw_matrix(yaw)
    for j in range(1, N_JOINTS):
        bone = positions[:, j] - positions[:, PARENTS[j]]
        rest = np.broadcast_to(REST_DIRECTIONS[j], bone.shape)
        world[:, j] = rotation_between(rest, bone).as_matrix()
    local = world.copy()
    for j in range(1, N_JOINTS):
        local[:, j] = np.swapaxes(world[:, PARENTS[j]], -1, -2) @ world[:, j]
    return local


def motion_features(positions: np.ndarray, fps: float) -> np.ndarray:
    """(F, 22, 3) canonical positions -> (F-1, 263) float32 features."""
    if positions.ndim != 3 or positions.shape[1:] != (N_JOINTS, 3):
        raise ValueError(f"expected (frames, {N_JOINTS}, 3) positions, got {positions.shape}")
    if positions.shape[0] < 2:
        raise ValueError("a motion needs at least 2 frames for features")
    yaw = facing_angle(positions)
    unturn = yaw_matrix(-yaw[:-1])  # world -> facing frame, per transition
    root = positions[:, 0]
    velocity = positions[1:] - positions[:-1]

    rel = positions[:-1].copy()
    rel[..., [0, 2]] -= root[:-1, None, [0, 2]]
    ric = np.einsum("fij,fkj->fki", unturn, rel)[:, 1:]
    rot = local_rotations(positions[:-1], yaw[:-1])[:, 1:]
    rot6d = np.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1)
    local_vel = np.einsum("fij,fkj->fki", unturn, velocity)
    feet = list(FEET)
    speed = np.linalg.norm(velocity[:, feet], axis=-1) * fps
    contact = (speed < CONTACT_SPEED) & (positions[:-1, feet, 1] < CONTACT_HEIGHT)

    out = np.empty((positions.shape[0] - 1, FEATURE_DIM), dtype=np.float64)
    out[:, LAYOUT["root_rot_vel"]] = np.angle(np.exp(1j * np.diff(yaw)))[:, None]
    out[:, LAYOUT["root_lin_vel"]] = np.einsum("fij,fj->fi", unturn, velocity[:, 0])[:, [0, 2]]
    out[:, LAYOUT["root_y"]] = root[:-1, 1:2]
    out[:, LAYOUT["ric"]] = ric.reshape(len(out), -1)
    out[:, LAYOUT["rot6d"]] = rot6d.reshape(len(out), -1)
    out[:, LAYOUT["local_vel"]] = local_vel.reshape(len(out), -1)
    out[:, LAYOUT["foot_contact"]] = contact
    return out.astype(np.float32)
