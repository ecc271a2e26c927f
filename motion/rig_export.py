"""Canonical joint positions -> a BVH as another rig would export it (for testing rig transfer).

A canonical motion ((F, 22, 3) metres, Y up, facing +Z) is put on another body and written the way a
Mixamo, CMU (cgspeed) or iClone / Character Creator export looks, so that reading it back exercises the
rig detection, unit and up-axis handling of ``motion.canonical`` on realistic files:

* **names** from the rig's preset map (``motion/rigs/NAME.json``; the first accepted name, with a namespace
  prefix such as ``mixamorig:``); a canonical joint the preset places *between* two joints (CMU's spine2)
  gets no joint of its own;
* **extra joints** the rig has and the canonical skeleton lacks (:class:`Extra`): joints on a canonical bone,
  zero-length ones included (CMU's LHipJoint and LowerBack, iClone's CC_Base_Pelvis above the thighs, Neck1),
  leaves (fingers, HeadTop_End, toe ends), and a root above the pelvis (iClone's CC_Base_BoneRoot);
* **another body** (:func:`reproportion`): a nominal stature and per-segment factors (legs, hips, spine,
  shoulders, arms), joint directions kept, the pelvis path scaled with the legs;
* **the rig's conventions**: units, up axis (Z up turns the rest pose too), Euler order, a different place
  and facing in the world, and its frame rate (positions interpolated linearly, then fitted with the rig's
  fixed bones: frames between the input's differ from a linear interpolation of the input by the bones'
  shortening, up to a few centimetres at the hands and feet in fast moves);
* **rotation channels only**, positions on the root (and on the pelvis under an extra root), as exporters
  write: the bones have the rest pose's fixed lengths. The rest pose is a T-pose whose torso (the pelvis's and
  the chest's children) is the body's own; a joint with one child turns by the swing from its rest bone to the
  current one, one with several by the best rigid fit (Kabsch) of their rest offsets, so on a rigid body every
  joint comes back at its position.

``RIGS`` holds the three exports the rig-transfer evaluation uses (``python -m model.rig_transfer``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
from scipy.spatial.transform import Rotation

from motion.augment import HEIGHT_CHAIN, HEIGHT_PER_CHAIN, SEGMENTS
from motion.body import scale_bones
from motion.bvh import BvhMotion, Skeleton
from motion.canonical import UNIT_SCALE
from motion.kinematics import local_pose, rotation_between, yaw_matrix
from motion.resample import resample_positions
from motion.skeleton import FEET, INDEX, JOINTS, N_JOINTS, PARENTS, REST_DIRECTIONS

# Body segments (motion.augment.SEGMENTS) and the nominal stature per legs-plus-spine chain are the
# augmentations' own (motion.augment.HEIGHT_PER_CHAIN), so a "1.75 m" rig body is what training calls 1.75 m.
STATURE_PER_CHAIN = HEIGHT_PER_CHAIN
REFERENCE_STATURE = 1.75  # m: extra joints' offsets are given for this body and scale with the stature
# Joints with several children: their rest offsets are the body's own, in this frame (up: to the first joint,
# across: from the second joint of the pair to the first).
_TORSO_FRAMES = {"pelvis": ("spine1", ("left_hip", "right_hip")), "spine3": ("neck", ("left_collar", "right_collar"))}
Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, y, z) -> (x, -z, y)


@dataclass(frozen=True)
class Extra:
    """A joint the rig has and the canonical skeleton lacks (names without the namespace prefix).

    ``between=(a, b, t)``: on the canonical bone from joint a to joint b, a fraction t along it; the canonical
    joints in ``adopts`` hang below it (LHipJoint adopts left_hip). ``offset``: a leaf (or a chain of leaves)
    that follows its parent, at this rest offset (metres for a ``REFERENCE_STATURE`` body, Y up, T-pose)."""

    name: str
    parent: str  # a canonical joint or an earlier extra
    between: tuple[str, str, float] | None = None
    adopts: tuple[str, ...] = ()
    offset: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class RigExport:
    """How one rig's files look: the preset that reads them, its conventions and its body."""

    rig: str  # the preset map (motion/rigs/RIG.json) that names the joints and should detect the file
    prefix: str = ""  # namespace before every joint name
    units: str = "cm"
    up: str = "y"
    fps: float = 30.0
    rotation_order: str = "ZXY"  # BVH channel order of the rotations
    stature: float | None = 1.75  # nominal height of the body (m, see STATURE_PER_CHAIN); None: the clip's own
    proportions: dict[str, float] = field(default_factory=dict)  # SEGMENTS name -> bone length factor
    extras: tuple[Extra, ...] = ()
    root: str | None = None  # a joint at the world origin above the pelvis (then the pelvis has positions too)
    yaw_degrees: float = 0.0  # the body turned about the vertical and moved on the floor (x, z metres)
    offset: tuple[float, float] = (0.0, 0.0)

    def joint_names(self) -> dict[str, str]:
        """Canonical joint -> joint name in the file (canonical joints the preset interpolates are absent)."""
        preset = json.loads((resources.files("motion") / "rigs" / f"{self.rig}.json").read_text(encoding="utf-8"))
        names = {}
        for canonical, entry in preset["joints"].items():
            if isinstance(entry, str | list):
                names[canonical] = self.prefix + (entry if isinstance(entry, str) else entry[0])
        return names


def _fingers(prefix: str, side: str) -> tuple[Extra, ...]:
    """Mixamo's thumb and index finger chains (four joints each) below a hand, in the T-pose."""
    sign = 1.0 if side == "Left" else -1.0
    out = []
    for finger, first in (("Thumb", (0.025, -0.01, 0.03)), ("Index", (0.09, 0.0, 0.025))):
        parent = f"{side.lower()}_wrist"
        for k in range(1, 5):
            x, y, z = first if k == 1 else (0.03, 0.0, 0.0)
            out.append(Extra(f"{prefix}{side}Hand{finger}{k}", parent, offset=(sign * x, y, z)))
            parent = out[-1].name
    return tuple(out)


RIGS: dict[str, RigExport] = {
    "mixamo": RigExport(
        rig="mixamo",
        prefix="mixamorig:",
        units="cm",
        up="y",
        fps=30.0,
        rotation_order="ZXY",
        stature=1.95,
        proportions={"legs": 1.06, "arms": 1.04, "shoulders": 0.95},
        extras=(
            Extra("mixamorig:HeadTop_End", "head", offset=(0.0, 0.18, 0.0)),
            Extra("mixamorig:LeftToe_End", "left_foot", offset=(0.0, 0.0, 0.08)),
            Extra("mixamorig:RightToe_End", "right_foot", offset=(0.0, 0.0, 0.08)),
            *_fingers("mixamorig:", "Left"),
            *_fingers("mixamorig:", "Right"),
        ),
        yaw_degrees=90.0,
        offset=(1.5, -2.0),
    ),
    "cmu": RigExport(
        rig="cmu",
        units="inch",
        up="y",
        fps=120.0,
        rotation_order="ZYX",
        stature=1.75,
        proportions={"hips": 1.25, "arms": 0.94, "shoulders": 1.1, "spine": 1.05},
        extras=(
            Extra("LHipJoint", "pelvis", between=("pelvis", "left_hip", 0.0), adopts=("left_hip",)),
            Extra("RHipJoint", "pelvis", between=("pelvis", "right_hip", 0.0), adopts=("right_hip",)),
            Extra("LowerBack", "pelvis", between=("pelvis", "spine1", 0.0), adopts=("spine1",)),
            Extra("Neck1", "neck", between=("neck", "head", 0.5), adopts=("head",)),
            Extra("LeftFingerBase", "left_wrist", offset=(0.04, 0.0, 0.0)),
            Extra("LeftHandIndex1", "LeftFingerBase", offset=(0.05, 0.0, 0.0)),
            Extra("LThumb", "left_wrist", offset=(0.03, 0.0, 0.03)),
            Extra("RightFingerBase", "right_wrist", offset=(-0.04, 0.0, 0.0)),
            Extra("RightHandIndex1", "RightFingerBase", offset=(-0.05, 0.0, 0.0)),
            Extra("RThumb", "right_wrist", offset=(-0.03, 0.0, 0.03)),
        ),
        yaw_degrees=-135.0,
        offset=(-0.7, 3.0),
    ),
    "iclone": RigExport(
        rig="iclone",
        units="cm",
        up="z",
        fps=60.0,
        rotation_order="XYZ",
        stature=1.55,
        proportions={"legs": 0.96, "spine": 1.04, "arms": 0.97, "hips": 0.9},
        root="CC_Base_BoneRoot",
        extras=(
            Extra("CC_Base_Pelvis", "pelvis", between=("pelvis", "pelvis", 0.0), adopts=("left_hip", "right_hip")),
            Extra("CC_Base_NeckTwist02", "neck", between=("neck", "head", 0.5), adopts=("head",)),
            Extra("CC_Base_L_UpperarmTwist01", "left_shoulder", offset=(0.1, 0.0, 0.0)),
            Extra("CC_Base_R_UpperarmTwist01", "right_shoulder", offset=(-0.1, 0.0, 0.0)),
            Extra("CC_Base_FacialBone", "head", offset=(0.0, 0.05, 0.02)),
            Extra("CC_Base_L_ToeBaseShareBone", "left_foot", offset=(0.0, 0.0, 0.02)),
            Extra("CC_Base_R_ToeBaseShareBone", "right_foot", offset=(0.0, 0.0, 0.02)),
        ),
        yaw_degrees=200.0,
        offset=(0.4, 0.9),
    ),
}


def bone_factors(proportions: dict[str, float]) -> np.ndarray:
    """(22,) length factor of every bone (named by its child joint; entry 0 unused) from segment factors."""
    unknown = sorted(set(proportions) - set(SEGMENTS))
    if unknown:
        raise ValueError(f"unknown body segment(s) {unknown}; use {', '.join(SEGMENTS)}")
    factors = np.ones(N_JOINTS)
    for segment, factor in proportions.items():
        factors[[INDEX[n] for n in SEGMENTS[segment]]] = factor
    return factors


def reproportion(positions: np.ndarray, stature: float | None, proportions: dict[str, float] | None = None
                 ) -> np.ndarray:  # fmt: skip
    """The motion on another body: bones scaled by ``proportions`` (``SEGMENTS``) and then all alike so that
    the body is ``stature`` m tall (nominal, legs plus spine times ``STATURE_PER_CHAIN``; None: as tall as
    the proportions leave it). Bone directions are kept; the pelvis path (its height, and its way from frame 0)
    scales with the legs; the lowest foot point of the clip is on the floor."""
    p = np.asarray(positions, np.float64)
    factors = bone_factors(proportions or {})
    lengths = np.linalg.norm(p[0, 1:] - p[0, list(PARENTS[1:])], axis=-1)
    chain = sum(factors[INDEX[n]] * lengths[INDEX[n] - 1] for n in HEIGHT_CHAIN)
    if stature is not None:
        factors *= stature / (STATURE_PER_CHAIN * chain)
    out = scale_bones(p, factors)
    out[..., 1] -= out[:, list(FEET), 1].min()
    return out


@dataclass
class _Joint:
    name: str
    parent: int  # index in the rig's joint list, -1 for the root
    at: tuple[int, int, float] | None  # position: canonical a + t (b - a); None for a leaf extra or the root
    offset: np.ndarray | None = None  # a leaf extra's rest offset (metres, scaled to the body)


def _tree(spec: RigExport, scale: float) -> list[_Joint]:
    """The rig's joints, parents first: canonical joints it names, its extras, its root."""
    names = spec.joint_names()
    extras = {e.name: e for e in spec.extras}
    adopted = {c: e.name for e in spec.extras for c in e.adopts}
    joints: list[_Joint] = []
    index: dict[str, int] = {}

    def add(name: str, parent: str | None, at, offset=None) -> None:
        index[name] = len(joints)
        joints.append(_Joint(name, index[parent] if parent else -1, at, offset))

    if spec.root:
        add(spec.root, None, None)
    rig_of = {}  # canonical joint -> the rig joint standing for it (the nearest named ancestor for absent ones)

    def visit(c: int) -> None:
        canonical = JOINTS[c]
        parent = adopted.get(canonical) or (rig_of[PARENTS[c]] if PARENTS[c] >= 0 else spec.root)
        if canonical in names:
            add(names[canonical], parent, (c, c, 0.0))
            rig_of[c] = names[canonical]
        else:
            rig_of[c] = parent
        for e in spec.extras:  # extras on this joint, and the chains below them
            if e.parent == canonical:
                visit_extra(e)
        for child in range(N_JOINTS):
            if PARENTS[child] == c:
                visit(child)

    def visit_extra(e: Extra) -> None:
        parent = rig_of.get(INDEX[e.parent]) if e.parent in INDEX else e.parent
        if e.between:
            a, b, t = e.between
            add(e.name, parent, (INDEX[a], INDEX[b], t))
        else:
            add(e.name, parent, None, np.asarray(e.offset, np.float64) * scale)
        for other in spec.extras:
            if other.parent == e.name:
                visit_extra(other)

    visit(0)
    missing = sorted(set(extras) - set(index))
    if missing:
        raise ValueError(f"{spec.rig}: extra joint(s) {missing} hang below nothing the rig has")
    return joints


def _frames(up: np.ndarray, across: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations whose columns are x (across, made orthogonal), y (up), z = x cross y."""
    y = up / np.linalg.norm(up, axis=-1, keepdims=True)
    x = across - np.sum(across * y, axis=-1, keepdims=True) * y
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _rest_pose(body: np.ndarray) -> np.ndarray:
    """(22, 3) canonical joints in the rig's rest pose: a T-pose (``REST_DIRECTIONS``) with the body's bone
    lengths, the pelvis's and the chest's children where the body has them (its mean geometry in their frame)."""
    lengths = np.linalg.norm(body[:, 1:] - body[:, list(PARENTS[1:])], axis=-1).mean(0)
    rest = np.zeros((N_JOINTS, 3))
    rest[0] = (0.0, float(body[:, 0, 1].mean()), 0.0)
    local = {}
    for name, (up, (a, b)) in _TORSO_FRAMES.items():
        j = INDEX[name]
        frame = _frames(body[:, INDEX[up]] - body[:, j], body[:, INDEX[a]] - body[:, INDEX[b]])
        for c in (c for c in range(N_JOINTS) if PARENTS[c] == j):
            local[c] = np.einsum("fji,fj->fi", frame, body[:, c] - body[:, j]).mean(0)
    for j in range(1, N_JOINTS):
        rest[j] = rest[PARENTS[j]] + (local[j] if j in local else lengths[j - 1] * REST_DIRECTIONS[j])
    return rest


def _kabsch(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """(F, 3, 3) rotations that best turn the vectors ``rest`` (n, 3) into ``current`` (F, n, 3)."""
    u, _, vt = np.linalg.svd(np.einsum("ni,fnj->fij", rest, current))
    d = np.sign(np.linalg.det(np.swapaxes(vt, 1, 2) @ np.swapaxes(u, 1, 2)))
    fix = np.ones((len(d), 3))
    fix[:, 2] = d
    return np.swapaxes(vt, 1, 2) @ (fix[:, :, None] * np.swapaxes(u, 1, 2))


def export_rig(positions: np.ndarray, fps: float, spec: RigExport, source: str = "") -> BvhMotion:
    """The motion ``positions`` (F, 22, 3: metres, Y up) at ``fps`` as ``spec``'s rig exports it (see the module
    docstring); write it with ``motion.write_bvh``."""
    p = np.asarray(positions, np.float64)
    if p.ndim != 3 or p.shape[1:] != (N_JOINTS, 3) or len(p) < 2:
        raise ValueError(f"expected (frames >= 2, {N_JOINTS}, 3) positions, got {p.shape}")
    if spec.up not in ("y", "z") or spec.units not in UNIT_SCALE:
        raise ValueError(f"up must be 'y' or 'z' and units one of {', '.join(UNIT_SCALE)}; got {spec.up!r}, "
                         f"{spec.units!r}")  # fmt: skip
    body = reproportion(p, spec.stature, spec.proportions)
    body = body @ yaw_matrix(np.radians(spec.yaw_degrees)).T + [spec.offset[0], 0.0, spec.offset[1]]
    canonical_rest = _rest_pose(body)  # from the input's frames: in-between ones have shortened bones
    body = resample_positions(body, fps, spec.fps)
    scale = (spec.stature or REFERENCE_STATURE) / REFERENCE_STATURE
    joints = _tree(spec, scale)
    n, count = len(body), len(joints)
    rest = np.zeros((count, 3))
    world = np.full((n, count, 3), np.nan)  # positions of every joint but the leaf extras
    for k, joint in enumerate(joints):
        if joint.at is not None:
            a, b, t = joint.at
            rest[k] = canonical_rest[a] + t * (canonical_rest[b] - canonical_rest[a])
            world[:, k] = body[:, a] + t * (body[:, b] - body[:, a])
        elif joint.offset is not None:
            rest[k] = rest[joint.parent] + joint.offset
        else:  # the extra root, on the floor at the origin
            world[:, k] = 0.0
    children = [[c for c, j in enumerate(joints) if j.parent == k] for k in range(count)]
    tol = 1e-6 * scale
    rotation = np.empty((n, count, 3, 3))
    for k, joint in enumerate(joints):
        parent_rotation = rotation[:, joint.parent] if joint.parent >= 0 else np.broadcast_to(np.eye(3), (n, 3, 3))
        targets, stack = [], [c for c in children[k] if joints[c].offset is None]
        while stack:  # the nearest joints below at another place (through zero-length bones)
            c = stack.pop()
            if np.linalg.norm(rest[c] - rest[k]) > tol:
                targets.append(c)
            else:
                stack.extend(d for d in children[c] if joints[d].offset is None)
        incoming = rest[k] - rest[joint.parent] if joint.parent >= 0 else np.zeros(3)
        if joint.at is None:
            rotation[:, k] = parent_rotation  # the extra root, and leaves that follow their parent
        elif len(targets) >= 2:
            rotation[:, k] = _kabsch(rest[targets] - rest[k], world[:, targets] - world[:, k : k + 1])
        elif targets:
            c = targets[0]
            rotation[:, k] = _swing(rest[c] - rest[k], world[:, c] - world[:, k])
        elif np.linalg.norm(incoming) > tol:
            rotation[:, k] = _swing(incoming, world[:, k] - world[:, joint.parent])
        else:
            rotation[:, k] = parent_rotation
    parents = [j.parent for j in joints]
    local_t, local_r = local_pose(parents, np.nan_to_num(world), rotation)
    moving = {0} | ({1} if spec.root else set())  # position channels: the root, and the pelvis (added next) below one
    offsets = np.array([rest[k] - rest[j.parent] if j.parent >= 0 else rest[k] for k, j in enumerate(joints)])
    for k in range(count):
        if k not in moving:
            local_t[:, k] = offsets[k]
    end_sites = np.array([(0.3 * offsets[k] if np.linalg.norm(offsets[k]) > tol else (0.0, 0.05, 0.0))
                          if not children[k] else (0.0, 0.0, 0.0) for k in range(count)])  # fmt: skip
    if spec.up == "z":
        q = Y_TO_Z_UP
        local_t, offsets, end_sites = local_t @ q.T, offsets @ q.T, end_sites @ q.T
        local_r = q @ local_r @ q.T
    to_units = 1.0 / UNIT_SCALE[spec.units]
    rotations = tuple(f"{axis}rotation" for axis in spec.rotation_order)
    positions_channels = ("Xposition", "Yposition", "Zposition")
    skeleton = Skeleton(
        names=tuple(j.name for j in joints),
        parents=tuple(parents),
        offsets=offsets * to_units,
        channels=tuple(positions_channels + rotations if k in moving else rotations for k in range(count)),
        end_sites=end_sites * to_units,
    )
    template = BvhMotion(skeleton, 1.0 / spec.fps, np.zeros((n, skeleton.n_channels)), source)
    return template.with_local_pose(local_t * to_units, Rotation.from_matrix(local_r.reshape(-1, 3, 3)))


def _swing(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    return rotation_between(np.broadcast_to(rest, current.shape), current).as_matrix()
