"""Bake a clip's animation onto another armature: world-space rotation transfer with rest-pose correction.

For every mapped bone and frame, the source bone's rotation away from its own rest
pose (in world space) is applied to the target bone's rest pose; the pelvis also
follows the source pelvis's travel, scaled by the ratio of the two pelvis heights.
Rest poses may differ (T-pose onto A-pose, other bone rolls); with identical rigs
the target reproduces the source joint positions exactly. Unmapped target bones
keep their own pose.
"""

from __future__ import annotations

import bpy
from mathutils import Matrix, Quaternion, Vector


def _depth(bone) -> int:
    return len(bone.parent_recursive)


def bake(source, target, mapping: dict[str, str], pelvis: str, frames: range) -> int:
    """Keyframe ``target`` (armature object) to follow ``source`` over ``frames``; returns the keys set."""
    scene = bpy.context.scene
    by_target = {t: s for s, t in mapping.items()}
    bones = sorted(target.data.bones, key=_depth)  # parents before children
    tw = target.matrix_world
    tw_rot = tw.to_quaternion()
    tw_inv = tw.inverted()
    rest_src = {s: source.matrix_world @ source.data.bones[s].matrix_local for s in mapping}
    rest_tgt = {b.name: tw @ b.matrix_local for b in bones}
    rest_rel = {b.name: (b.parent.matrix_local.inverted() @ b.matrix_local) if b.parent else b.matrix_local
                for b in bones}  # fmt: skip

    # The pelvis and any mapped bone above it carry the root travel.
    carriers = {mapping[pelvis]} | {p.name for p in target.data.bones[mapping[pelvis]].parent_recursive
                                    if p.name in by_target}  # fmt: skip
    src_height = rest_src[pelvis].translation.z - source.matrix_world.translation.z
    tgt_height = rest_tgt[mapping[pelvis]].translation.z - tw.translation.z
    scale = tgt_height / src_height if abs(src_height) > 1e-6 and abs(tgt_height) > 1e-6 else 1.0

    delta_rest = {s: m.to_quaternion().inverted() for s, m in rest_src.items()}
    previous: dict[str, Quaternion] = {}
    keys = 0
    for frame in frames:
        scene.frame_set(frame)
        posed: dict[str, Matrix] = {}
        for bone in bones:
            name = bone.name
            pose_bone = target.pose.bones[name]
            parent = posed[bone.parent.name] if bone.parent else Matrix.Identity(4)
            src = by_target.get(name)
            if src is None:
                posed[name] = parent @ rest_rel[name] @ pose_bone.matrix_basis
                continue
            world = source.matrix_world @ source.pose.bones[src].matrix
            rotation = tw_rot.inverted() @ (world.to_quaternion() @ delta_rest[src]) @ rest_tgt[name].to_quaternion()
            if name in carriers:
                travel = world.translation - rest_src[src].translation
                location = tw_inv @ (rest_tgt[name].translation + scale * travel)
            else:
                location = (parent @ rest_rel[name]).translation
            matrix = Matrix.LocRotScale(location, rotation, Vector((1, 1, 1)))
            posed[name] = matrix
            basis = rest_rel[name].inverted() @ parent.inverted() @ matrix
            keys += _key(pose_bone, basis, frame, name in carriers, previous)
    return keys


def _key(pose_bone, basis: Matrix, frame: int, with_location: bool, previous: dict[str, Quaternion]) -> int:
    """Set and keyframe one bone's pose, keeping quaternion signs and Euler angles continuous."""
    location, quaternion, _ = basis.decompose()
    group = pose_bone.name
    keys = 0
    if with_location:
        pose_bone.location = location
        pose_bone.keyframe_insert("location", frame=frame, group=group)
        keys += 1
    last = previous.get(pose_bone.name)
    if last is not None:
        quaternion.make_compatible(last)
    previous[pose_bone.name] = quaternion
    mode = pose_bone.rotation_mode
    if mode == "QUATERNION":
        pose_bone.rotation_quaternion = quaternion
        pose_bone.keyframe_insert("rotation_quaternion", frame=frame, group=group)
    elif mode == "AXIS_ANGLE":
        axis, angle = quaternion.to_axis_angle()
        pose_bone.rotation_axis_angle = (angle, *axis)
        pose_bone.keyframe_insert("rotation_axis_angle", frame=frame, group=group)
    else:
        pose_bone.rotation_euler = quaternion.to_euler(mode, pose_bone.rotation_euler)
        pose_bone.keyframe_insert("rotation_euler", frame=frame, group=group)
    return keys + 1
