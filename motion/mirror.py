"""Mirroring (left <-> right) as a data augmentation, with its label swap rule.

A mirror reflects the world through the plane x = 0 (the body's sagittal
plane once canonical) and swaps left and right joints. The same rule is
written four ways, and tests check they agree:

- ``mirror_positions``: on canonical joint positions;
- ``mirror_features``: on the 263-d features, without the positions;
- ``mirror_bvh``: on a BVH file's own rig, so a mirrored clip can be written;
- ``mirror_label`` / ``swap_sides``: labels and captions swap the words
  left and right (``walk-left`` -> ``walk-right``, ``wave-left-hand`` ->
  ``wave-right-hand``) and clockwise/counterclockwise; styles do not change.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.spatial.transform import Rotation

from motion.bvh import BvhMotion
from motion.features import LAYOUT
from motion.kinematics import forward_kinematics, rotation_between
from motion.rigs import mirror_partners
from motion.skeleton import MIRROR

MIRROR_PREFIX = "M"  # a mirrored clip's id: "M" + the clip's id (the dataset's items and the server's motions)
_M = np.diag([-1.0, 1.0, 1.0])
_X_SIGN = np.array([-1, 1, 1], dtype=np.float32)
_ROT6D_SIGN = np.array([1, -1, -1, -1, 1, 1], dtype=np.float32)  # [-M c0, M c1]: M R M on two columns


def mirror_positions(positions: np.ndarray) -> np.ndarray:
    """(F, 22, 3) canonical positions of the mirrored motion."""
    return positions[:, MIRROR] * np.array([-1.0, 1.0, 1.0])


def mirror_features(features: np.ndarray) -> np.ndarray:
    """Features of the mirrored motion, computed from the features alone."""
    f = features.copy()
    n = len(f)
    body = MIRROR[1:] - 1  # the mirror permutation over joints 1..21
    f[:, LAYOUT["root_rot_vel"]] *= -1
    f[:, LAYOUT["root_lin_vel"].start] *= -1
    f[:, LAYOUT["ric"]] = (features[:, LAYOUT["ric"]].reshape(n, -1, 3)[:, body] * _X_SIGN).reshape(n, -1)
    f[:, LAYOUT["rot6d"]] = (features[:, LAYOUT["rot6d"]].reshape(n, -1, 6)[:, body] * _ROT6D_SIGN).reshape(n, -1)
    f[:, LAYOUT["local_vel"]] = (features[:, LAYOUT["local_vel"]].reshape(n, -1, 3)[:, MIRROR] * _X_SIGN).reshape(n, -1)
    f[:, LAYOUT["foot_contact"]] = features[:, LAYOUT["foot_contact"]][:, [2, 3, 0, 1]]
    return f


_SIDE_WORDS = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise",
               "anticlockwise": "clockwise"}  # fmt: skip
_SIDE_RE = re.compile(r"(?i)(?<![a-z])(counterclockwise|anticlockwise|clockwise|left|right)(?![a-z])")


def swap_sides(text: str) -> str:
    """Swap left/right (and clockwise/counterclockwise) words, keeping their case."""

    def repl(m: re.Match) -> str:
        word = m.group(0)
        out = _SIDE_WORDS[word.lower()]
        return out.upper() if word.isupper() else out.capitalize() if word[0].isupper() else out

    return _SIDE_RE.sub(repl, text)


def mirror_label(content: str) -> str:
    """The content label of a mirrored clip (``walk-turn-left`` -> ``walk-turn-right``)."""
    return swap_sides(content)


def _align(targets: list[np.ndarray], sources: list[np.ndarray]) -> np.ndarray | None:
    """Rotation matrix taking ``sources`` onto ``targets`` (least squares); None if there is nothing to align."""
    pairs = [(a, b) for a, b in zip(targets, sources) if np.linalg.norm(a) > 1e-9 and np.linalg.norm(b) > 1e-9]
    if not pairs:
        return None
    a, b = (np.array(x) for x in zip(*pairs))
    if len(pairs) == 1:
        return rotation_between(b, a).as_matrix()[0]
    return Rotation.align_vectors(a, b)[0].as_matrix()


def mirror_bvh(motion: BvhMotion) -> BvhMotion:
    """The mirrored motion on the same rig and channels.

    Each joint j hands its world rotation G to its partner j' as M G M K_j,
    where K_j is the fixed rotation taking the partner's child offsets onto
    the mirrored own child offsets, so world joint positions mirror exactly
    (whatever the rig's local axes); translations follow the same rule.
    """
    sk = motion.skeleton
    partner = mirror_partners(sk)
    for j, parent in enumerate(sk.parents):
        if parent >= 0 and sk.parents[partner[j]] != partner[parent]:
            raise ValueError(
                f"cannot mirror {motion.source or 'this motion'}: {sk.names[j]} and its counterpart "
                f"{sk.names[partner[j]]} hang from joints that are not counterparts"
            )
    n_joints = sk.n_joints
    translation, _ = motion.local_pose()
    _, world = forward_kinematics(motion)

    fix = np.empty((n_joints, 3, 3))
    for j, parent in enumerate(sk.parents):
        kids = sk.children(j)
        targets = [_M @ sk.offsets[c] for c in kids] or [_M @ sk.end_sites[j]]
        sources = [sk.offsets[partner[c]] for c in kids] or [sk.end_sites[partner[j]]]
        aligned = _align(targets, sources)
        fix[j] = aligned if aligned is not None else (fix[parent] if parent >= 0 else np.eye(3))

    new_world = np.empty_like(world)
    new_translation = np.empty_like(translation)
    for j, parent in enumerate(sk.parents):
        new_world[:, partner[j]] = _M @ world[:, j] @ _M @ fix[j]
        step = translation[:, j] @ _M.T  # M t
        new_translation[:, partner[j]] = step if parent < 0 else step @ fix[parent]  # K^T M t
    local = new_world.copy()
    for j, parent in enumerate(sk.parents):
        if parent >= 0:
            local[:, j] = np.swapaxes(new_world[:, parent], -1, -2) @ new_world[:, j]
    return motion.with_local_pose(new_translation, Rotation.from_matrix(local.reshape(-1, 3, 3)))
