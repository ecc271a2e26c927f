"""Runs inside Blender's Python (bpy from PyPI, its own venv), driven by tests/test_blender_addon.py.

    python tests/blender/scenario.py ARGS.json

Installs the extension zip the standard way, then against a live server: connect,
search by text and by an audio file, import the top hit onto (a) an armature
identical to the clip's skeleton and (b) the same skeleton renamed to Mixamo
bone names, and records world joint positions; finally searches against a dead
address. Everything observed goes to ``out/result.json`` for the test to check.
"""

import json
import sys
from pathlib import Path

import bpy

args = json.loads(Path(sys.argv[1]).read_text())
out = Path(args["out"])
result: dict = {}

# 1. Install by the standard extension path and check the bundled wheels work inside Blender.
bpy.ops.extensions.package_install_files(filepath=args["zip"], repo="user_default", enable_on_install=True)
if "bl_ext.user_default.motionsearch" not in bpy.context.preferences.addons:
    sys.exit("the extension did not install (see Blender's messages above)")
import grpc  # noqa: E402  (installed by the extension)

result["grpc_version"] = grpc.__version__
addon = "bl_ext.user_default.motionsearch"
result["registered"] = addon in bpy.context.preferences.addons and hasattr(bpy.types.Scene, "motionsearch")
prefs = bpy.context.preferences.addons[addon].preferences
prefs.address, prefs.timeout = args["address"], 30.0
s = bpy.context.scene.motionsearch

# 2. Connect, search by text, then by an audio file.
bpy.ops.motionsearch.connect()
result["connect_status"] = s.status
s.query = args["query"]
bpy.ops.motionsearch.search()
result["text_hits"] = [(r.motion_id, r.content, r.score) for r in s.results]
bpy.ops.motionsearch.load_thumbnails()  # (the UI starts this itself after a search, on the worker thread)
thumbs = sys.modules["bl_ext.user_default.motionsearch"].thumbnails
result["thumbnails"] = []
for r in s.results:
    preview = thumbs.collection().get(thumbs.key(r.motion_id, r.start_seconds, r.end_seconds))
    pixels = list(preview.image_pixels_float) if preview else []
    result["thumbnails"].append(
        {
            "exists": preview is not None,
            "size": list(preview.image_size) if preview else [0, 0],
            "spread": (max(pixels) - min(pixels)) if pixels else 0.0,
        }
    )
s.audio_path = args["audio"]
bpy.ops.motionsearch.search_audio_file()
result["audio_hits"] = [(r.motion_id, r.content, r.score) for r in s.results]
top = result["text_hits"][0][0]

# 3. The clip's own skeleton as a rig without animation (the "identical rig"), and a renamed copy.
module = sys.modules[addon]
client = module.operators.Client(args["address"])
bvh = out / "top.bvh"
bvh.write_bytes(client.get_motion(top))


def bare_rig(name: str):
    bpy.ops.import_anim.bvh(filepath=str(bvh))
    rig = bpy.context.active_object
    rig.animation_data_clear()
    rig.name = name
    for bone in rig.pose.bones:
        bone.matrix_basis.identity()
    return rig


def positions(rig, frames: list[int]) -> dict:
    found = {}
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        found[frame] = {b.name: list(rig.matrix_world @ b.head) for b in rig.pose.bones}
    return found


def import_onto(rig) -> str:
    bpy.ops.object.select_all(action="DESELECT")
    rig.select_set(True)
    bpy.context.view_layer.objects.active = rig
    s.import_target, s.match_scene_fps, s.result_index = "ACTIVE", False, 0
    bpy.context.scene.frame_set(1)  # the clip's first frame lands here
    bpy.ops.motionsearch.import_motion(motion_id=top)
    return s.status


identical = bare_rig("identical")
result["identical_status"] = import_onto(identical)
frames = list(range(1, int(identical.animation_data.action.frame_range[1]) + 1, 7))
result["frames"] = frames
result["identical"] = positions(identical, frames)

mapping = json.loads(Path(args["rename"]).read_text())  # Bandai name -> Mixamo name
renamed = bare_rig("renamed")
for bone in renamed.data.bones:
    bone.name = mapping.get(bone.name, bone.name)
renamed.location.x += 200.0  # beside the other one: world positions shift by this
result["renamed_status"] = import_onto(renamed)
result["renamed"] = positions(renamed, frames)
result["renamed_offset"] = [200.0, 0.0, 0.0]

# 4. Find similar to the active action: the identical rig, now driven by the top clip, finds that clip first;
#    the renamed (Mixamo) rig's action goes through its bone map. Then add the renamed rig's action to the library.
bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 30, 1.0  # the clip's rate: the action plays as stored
s.include_mirrors, s.top_k = False, 5
for name in ("identical", "renamed"):
    bpy.ops.object.select_all(action="DESELECT")
    rig = bpy.data.objects[name]
    rig.select_set(True)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.motionsearch.search_action()
    result[f"similar_{name}"] = [r.motion_id for r in s.results]
s.library_name, s.library_tags = "my-blender-take", "karate kick"
bpy.ops.motionsearch.add_action()
result["add_status"] = s.status
bpy.ops.motionsearch.search_action()
result["similar_after_add"] = [r.motion_id for r in s.results]
result["deleted"] = client.delete(["my-blender-take"]).deleted  # the session's shared library stays as it was

# 5. A dead server gives a readable report, not a traceback.
prefs.address, prefs.timeout = args["dead_address"], 3.0
try:
    bpy.ops.motionsearch.search()
    result["down_error"] = None
except RuntimeError as error:
    result["down_error"] = str(error)
result["down_status"] = s.status

(out / "result.json").write_text(json.dumps(result))
