"""The panel's state, stored on the scene: the query, filters, results, import options and bone map."""

from __future__ import annotations

import bpy

from . import bone_map


class MotionSearchResult(bpy.types.PropertyGroup):
    motion_id: bpy.props.StringProperty()
    caption: bpy.props.StringProperty()
    content: bpy.props.StringProperty()
    style: bpy.props.StringProperty()
    seconds: bpy.props.FloatProperty()
    fps: bpy.props.FloatProperty()
    score: bpy.props.FloatProperty()
    rank: bpy.props.IntProperty()
    start_seconds: bpy.props.FloatProperty()  # the part of the motion that matched (a long take's best window)
    end_seconds: bpy.props.FloatProperty()


class MotionSearchBonePair(bpy.types.PropertyGroup):
    # ``name`` (inherited) is the canonical joint, e.g. "left_elbow".
    target: bpy.props.StringProperty(name="Bone", description="Bone of your armature that follows this joint")


def _preset_items(self, context):
    items = [("AUTO", "Auto-detect", "Recognise the armature by its bone names")]
    items += [(name, name.replace("_", " ").title(), f"Bone names of the {name} rig") for name in bone_map.presets()]
    return items


class MotionSearchState(bpy.types.PropertyGroup):
    query: bpy.props.StringProperty(name="Query", description="Describe the motion, e.g. 'wave with the left hand'")
    audio_path: bpy.props.StringProperty(name="Audio file", subtype="FILE_PATH")
    top_k: bpy.props.IntProperty(name="Results", default=10, min=1, max=100)
    contents: bpy.props.StringProperty(name="Content", description="Only these content labels (comma-separated)")
    styles: bpy.props.StringProperty(name="Style", description="Only these style labels (comma-separated)")
    min_seconds: bpy.props.FloatProperty(name="Min s", default=0.0, min=0.0, description="Shortest duration (0 = any)")
    max_seconds: bpy.props.FloatProperty(name="Max s", default=0.0, min=0.0, description="Longest duration (0 = any)")
    include_mirrors: bpy.props.BoolProperty(name="Mirrored copies", default=False)

    results: bpy.props.CollectionProperty(type=MotionSearchResult)
    result_index: bpy.props.IntProperty(name="Result", default=0)
    status: bpy.props.StringProperty(name="Status", default="Not connected")
    busy: bpy.props.BoolProperty(default=False)
    recording: bpy.props.BoolProperty(default=False)

    import_target: bpy.props.EnumProperty(
        name="Import",
        items=[
            ("ACTIVE", "Onto active armature", "Retarget onto the selected armature"),
            ("NEW", "As new armature", "Create an armature with the clip's own skeleton"),
        ],  # fmt: skip
        default="ACTIVE",
    )
    match_scene_fps: bpy.props.BoolProperty(
        name="Scene frame rate", default=True, description="Resample the clip to the scene's frame rate on the server"
    )
    in_place: bpy.props.BoolProperty(name="In place", default=False, description="Remove the root's horizontal travel")
    mirror: bpy.props.BoolProperty(name="Mirror", default=False, description="Swap left and right")
    preset: bpy.props.EnumProperty(name="Rig", items=_preset_items, description="Bone names of your armature")
    bone_pairs: bpy.props.CollectionProperty(type=MotionSearchBonePair)
    library_name: bpy.props.StringProperty(
        name="Name", description="Library id of the added action (default: its name)"
    )
    library_tags: bpy.props.StringProperty(name="Tags", description="Words to find it by, e.g. 'kick, karate'")


CLASSES = (MotionSearchResult, MotionSearchBonePair, MotionSearchState)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.motionsearch = bpy.props.PointerProperty(type=MotionSearchState)


def unregister() -> None:
    del bpy.types.Scene.motionsearch
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
