"""Canonical joint positions -> a BVH motion on the canonical skeleton (joint names as the ``smpl`` rig map reads).

Each joint turns with the swing from its rest direction (``REST_DIRECTIONS``, a T-pose facing +Z) to its
main outgoing bone (the incoming one at the ends of chains); the pelvis also carries the facing yaw. As in
the Bandai Namco files, every joint has position channels too, so the positions come back exactly (a
branching joint's children cannot all be reached by one rotation). Units are metres, Y up.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motion.bvh import BvhMotion, Skeleton
from motion.canonical import facing_angle
from motion.kinematics import local_pose, rotation_between, yaw_matrix
from motion.skeleton import INDEX, JOINTS, N_JOINTS, PARENTS, REST_DIRECTIONS

CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
# the bone that orients each joint: to this child (None: the joint's own incoming bone)
_MAIN_CHILD = {"pelvis": "spine1", "spine3": "neck"}


def _depth_first() -> list[int]:
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for c in range(N_JOINTS):
            if PARENTS[c] == j:
                visit(c)

    visit(0)
    return order


def positions_bvh(positions: np.ndarray, fps: float, source: str = "") -> BvhMotion:
    """A BVH motion whose joints are at ``positions`` (F, 22, 3) metres, Y up, at ``fps``."""
    p = np.asarray(positions, np.float64)
    if p.ndim != 3 or p.shape[1:] != (N_JOINTS, 3) or not len(p):
        raise ValueError(f"expected (frames, {N_JOINTS}, 3) positions, got {p.shape}")
    n = len(p)
    world = np.empty((n, N_JOINTS, 3, 3))
    for j, name in enumerate(JOINTS):
        children = [c for c in range(N_JOINTS) if PARENTS[c] == j]
        if name == "pelvis":
            world[:, j] = yaw_matrix(facing_angle(p))
            continue
        child = INDEX[_MAIN_CHILD[name]] if name in _MAIN_CHILD else (children[0] if len(children) == 1 else None)
        start, end = (j, child) if child is not None else (PARENTS[j], j)
        rest = REST_DIRECTIONS[end]
        bone = p[:, end] - p[:, start]
        world[:, j] = rotation_between(np.broadcast_to(rest, bone.shape), bone).as_matrix()
    order = _depth_first()
    parents = tuple(order.index(PARENTS[j]) if PARENTS[j] >= 0 else -1 for j in order)
    local_t, local_r = local_pose(parents, p[:, order], world[:, order])
    skeleton = Skeleton(
        names=tuple(JOINTS[j] for j in order),
        parents=parents,
        offsets=local_t[0].copy(),
        channels=tuple(CHANNELS for _ in order),
        end_sites=np.array([0.05 * REST_DIRECTIONS[j] if j not in PARENTS else np.zeros(3) for j in order]),
    )
    template = BvhMotion(skeleton, 1.0 / fps, np.zeros((n, skeleton.n_channels)), source)
    return template.with_local_pose(local_t, Rotation.from_matrix(local_r.reshape(-1, 3, 3)))
