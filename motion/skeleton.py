"""The canonical 22-joint skeleton every motion is mapped onto.

It is the SMPL / HumanML3D kinematic tree. Left is +X when the body faces +Z
(Y up), so a mirror is x -> -x plus the left/right swap in ``MIRROR``.
"""

from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
N_JOINTS = len(JOINTS)
INDEX = {name: i for i, name in enumerate(JOINTS)}

# Direction of each bone (parent -> joint) in the rest pose: a T-pose facing +Z.
# Local rotations in the features are measured from these directions.
REST_DIRECTIONS = np.array(
    [
        [0, 0, 0],  # pelvis (root, no bone)
        [1, 0, 0], [-1, 0, 0], [0, 1, 0],  # hips, spine1
        [0, -1, 0], [0, -1, 0], [0, 1, 0],  # knees, spine2
        [0, -1, 0], [0, -1, 0], [0, 1, 0],  # ankles, spine3
        [0, 0, 1], [0, 0, 1], [0, 1, 0],  # feet (toes forward), neck
        [1, 0, 0], [-1, 0, 0], [0, 1, 0],  # collars, head
        [1, 0, 0], [-1, 0, 0],  # shoulders
        [1, 0, 0], [-1, 0, 0],  # elbows
        [1, 0, 0], [-1, 0, 0],  # wrists
    ],
    dtype=np.float64,
)  # fmt: skip


def _mirror_permutation() -> np.ndarray:
    perm = np.arange(N_JOINTS)
    for i, name in enumerate(JOINTS):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a):
                perm[i] = INDEX[b + name[len(a) :]]
    return perm


MIRROR = _mirror_permutation()  # joint i of a mirrored motion is joint MIRROR[i] of the original
FEET = (INDEX["left_ankle"], INDEX["left_foot"], INDEX["right_ankle"], INDEX["right_foot"])
HIPS = (INDEX["left_hip"], INDEX["right_hip"])
SHOULDERS = (INDEX["left_shoulder"], INDEX["right_shoulder"])
