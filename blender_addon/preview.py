"""Render a Workbench still of a clip imported by the add-on, mid-clip: the quickest way to see a search result.

    .venv-blender/bin/python blender_addon/preview.py --zip blender_addon/dist/motionsearch-0.1.0.zip \\
        --query "wave with the left hand" --out docs/images/blender-import.png [--address 127.0.0.1:50051]

Runs in Blender's Python (``bpy``); needs a running server (``python -m server.serve``).
It installs the extension zip into a throw-away user folder, searches, imports the top
hit as a new armature at frame 1, gives each bone a cylinder (armatures do not render),
and renders the middle frame.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zip", type=Path, required=True, help="the extension zip (python blender_addon/build.py)")
    parser.add_argument("--query", required=True)
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--size", type=int, nargs=2, default=(960, 540))
    return parser.parse_args(argv)


def body_bones(rig) -> list:
    """The bones that make the body: not a root link far longer than any limb (Bandai Namco's joint_Root)."""
    heights = [b.head_local.z for b in rig.data.bones]
    span = max(heights) - min(heights)
    return [b for b in rig.data.bones if b.length < 0.6 * span]


def bone_meshes(bpy, rig) -> None:
    """A cylinder along every body bone and a sphere at its head, parented to the bone."""
    bones = body_bones(rig)
    radius = 0.15 * sorted(b.length for b in bones)[len(bones) // 2]
    for bone in bones:
        bpy.ops.mesh.primitive_cylinder_add(radius=radius, depth=bone.length, vertices=12)
        limb = bpy.context.active_object
        bpy.ops.mesh.primitive_uv_sphere_add(radius=radius * 1.4, segments=12, ring_count=8)
        joint = bpy.context.active_object
        for obj, y in ((limb, -bone.length / 2), (joint, -bone.length)):
            obj.parent, obj.parent_type, obj.parent_bone = rig, "BONE", bone.name
            obj.color = (0.9, 0.45, 0.1, 1.0)
            obj.location, obj.rotation_euler = (0.0, y, 0.0), (math.pi / 2, 0.0, 0.0)  # bone space, from the tail


def stage(bpy, rig, frame: int, size: tuple[int, int]) -> None:
    """Floor, camera and Workbench settings framing the armature at ``frame``."""
    from mathutils import Vector

    scene = bpy.context.scene
    scene.frame_set(frame)
    heads = [rig.matrix_world @ rig.pose.bones[b.name].head for b in body_bones(rig)]
    low = Vector([min(h[i] for h in heads) for i in range(3)])
    high = Vector([max(h[i] for h in heads) for i in range(3)])
    centre, height = (low + high) / 2, max(high.z - low.z, 0.5)
    bpy.ops.mesh.primitive_plane_add(size=height * 8, location=(centre.x, centre.y, low.z - 0.02))
    target = bpy.data.objects.new("target", None)
    scene.collection.objects.link(target)
    target.location = centre
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    scene.collection.objects.link(camera)
    camera.location = centre + Vector((height * 1.5, -height * 2.5, height * 0.6))  # the clips face -Y
    track = camera.constraints.new("TRACK_TO")
    track.target, track.track_axis, track.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    scene.camera = camera
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "OBJECT"
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100


def main(argv: list[str]) -> int:
    args = parse(argv)
    os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="motionsearch-blender-")
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.extensions.package_install_files(filepath=str(args.zip.resolve()), repo="user_default",
                                             enable_on_install=True)  # fmt: skip
    addon = bpy.context.preferences.addons.get("bl_ext.user_default.motionsearch")
    if addon is None:
        print(f"error: {args.zip} did not install as an extension", file=sys.stderr)
        return 1
    addon.preferences.address = args.address
    state = bpy.context.scene.motionsearch
    state.query, state.import_target = args.query, "NEW"
    bpy.context.scene.frame_set(1)
    try:
        bpy.ops.motionsearch.search()
        bpy.ops.motionsearch.import_motion()
    except RuntimeError as error:  # the operator's report: server down, no hits, ...
        print(f"error: {error}", file=sys.stderr)
        return 1
    hit = state.results[0]
    rig = bpy.context.active_object
    frames = rig.animation_data.action.frame_range
    middle = int((frames[0] + frames[1]) / 2)
    bone_meshes(bpy, rig)
    stage(bpy, rig, middle, tuple(args.size))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bpy.context.scene.render.filepath = str(args.out.resolve())
    bpy.ops.render.render(write_still=True)
    print(f"{args.out}: {hit.motion_id} ({hit.content}/{hit.style}, score {hit.score:.3f}) at frame {middle}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
