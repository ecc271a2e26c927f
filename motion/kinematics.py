"""Forward kinematics and small rotation helpers, vectorised over frames.

Rotations are scipy ``Rotation`` objects or (..., 3, 3) matrices; quaternions
are scalar-last (x, y, z, w) as in scipy.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motion.bvh import BvhMotion


def forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions (F, J, 3) and world rotation matrices (F, J, 3, 3).

    Units are the file's; axes are the file's world axes.
    """
    sk = motion.skeleton
    n_frames = motion.n_frames
    translation, rotation = motion.local_pose()
    local = rotation.as_matrix().reshape(n_frames, sk.n_joints, 3, 3)
    world_rot = np.empty_like(local)
    world_pos = np.empty_like(translation)
    for j, parent in enumerate(sk.parents):  # parents precede children in file order
        if parent < 0:
            world_rot[:, j] = local[:, j]
            world_pos[:, j] = translation[:, j]
        else:
            world_rot[:, j] = world_rot[:, parent] @ local[:, j]
            world_pos[:, j] = world_pos[:, parent] + np.einsum("fij,fj->fi", world_rot[:, parent], translation[:, j])
    return world_pos, world_rot


def local_pose(parents: list[int] | tuple[int, ...], world_pos: np.ndarray, world_rot: np.ndarray) -> tuple[
    np.ndarray, np.ndarray
]:  # fmt: skip
    """The inverse of :func:`forward_kinematics`: local translations (F, J, 3) and rotation matrices (F, J, 3, 3)
    of joints at ``world_pos`` (F, J, 3) turned by ``world_rot`` (F, J, 3, 3), ``parents[j]`` (-1: a root)."""
    local_t = np.array(world_pos, dtype=np.float64)
    local_r = np.array(world_rot, dtype=np.float64)
    for j, parent in enumerate(parents):
        if parent >= 0:
            inv = np.swapaxes(world_rot[:, parent], -1, -2)
            local_t[:, j] = np.einsum("fij,fj->fi", inv, world_pos[:, j] - world_pos[:, parent])
            local_r[:, j] = inv @ world_rot[:, j]
    return local_t, local_r


def rotation_between(u: np.ndarray, v: np.ndarray) -> Rotation:
    """The smallest rotation turning direction ``u`` into ``v`` (both (N, 3)).

    Antiparallel pairs turn by 180 degrees about an axis orthogonal to ``u``.
    """
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    axis = np.cross(u, v)
    w = 1.0 + np.sum(u * v, axis=-1)
    opposite = w < 1e-8
    if np.any(opposite):
        uo = u[opposite]
        helper = np.where(np.abs(uo[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        ortho = np.cross(uo, helper)
        axis[opposite] = ortho / np.linalg.norm(ortho, axis=-1, keepdims=True)
        w[opposite] = 0.0
    return Rotation.from_quat(np.concatenate([axis, w[:, None]], axis=-1))  # normalised by scipy


def yaw_matrix(angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about +Y by ``angle`` radians."""
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, zero, s, zero, one, zero, -s, zero, c], axis=-1).reshape(*np.shape(angle), 3, 3)
