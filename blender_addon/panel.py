"""The sidebar panel in the 3D view (N panel, "motionsearch" tab): search, results, import, bone map."""

from __future__ import annotations

import bpy

from . import thumbnails
from .operators import state


class MOTIONSEARCH_UL_results(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_property, index=0, flt_flag=0):
        row = layout.row(align=True)
        thumbnail = thumbnails.icon(item)
        if thumbnail:
            row.label(text=item.caption or item.name, icon_value=thumbnail)
        else:
            row.label(text=item.caption or item.name, icon="ARMATURE_DATA")
        row.label(text=f"{item.content}/{item.style}")
        row.label(text=f"{item.seconds:.1f} s  {item.score:.2f}")


class _Panel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "motionsearch"


class MOTIONSEARCH_PT_search(_Panel, bpy.types.Panel):
    bl_label = "Motion Search"

    def draw(self, context) -> None:
        s = state(context)
        layout = self.layout
        row = layout.row()
        row.label(text=s.status, icon="ERROR" if s.status.startswith("Error") else "URL")
        row.operator("motionsearch.connect", text="", icon="FILE_REFRESH")

        col = layout.column(align=True)
        col.prop(s, "query", text="", icon="VIEWZOOM")
        row = col.row(align=True)
        row.enabled = not s.busy
        row.operator("motionsearch.search", icon="VIEWZOOM")
        row.operator("motionsearch.record", text="Stop and Search" if s.recording else "Speak",
                     icon="REC" if s.recording else "PLAY_SOUND", depress=s.recording)  # fmt: skip
        row = layout.row(align=True)
        row.prop(s, "audio_path", text="")
        row.operator("motionsearch.search_audio_file", text="", icon="SOUND")
        layout.operator("motionsearch.search_action", icon="ACTION")

        layout.template_list("MOTIONSEARCH_UL_results", "", s, "results", s, "result_index", rows=5)


class MOTIONSEARCH_PT_filters(_Panel, bpy.types.Panel):
    bl_label = "Filters"
    bl_parent_id = "MOTIONSEARCH_PT_search"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context) -> None:
        s, layout = state(context), self.layout
        layout.prop(s, "contents")
        layout.prop(s, "styles")
        row = layout.row(align=True)
        row.prop(s, "min_seconds")
        row.prop(s, "max_seconds")
        layout.prop(s, "top_k")
        layout.prop(s, "include_mirrors")


class MOTIONSEARCH_PT_import(_Panel, bpy.types.Panel):
    bl_label = "Import"
    bl_parent_id = "MOTIONSEARCH_PT_search"

    def draw(self, context) -> None:
        s, layout = state(context), self.layout
        layout.prop(s, "import_target", expand=True)
        if s.import_target == "ACTIVE":
            layout.prop(s, "preset")
        row = layout.row(align=True)
        row.prop(s, "match_scene_fps")
        row.prop(s, "in_place")
        row.prop(s, "mirror")
        row = layout.row()
        row.enabled = bool(s.results) and not s.busy
        row.scale_y = 1.4
        row.operator("motionsearch.import_motion", text=f"Import at Frame {context.scene.frame_current}", icon="IMPORT")


class MOTIONSEARCH_PT_bone_map(_Panel, bpy.types.Panel):
    bl_label = "Bone Map"
    bl_parent_id = "MOTIONSEARCH_PT_import"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context) -> None:
        s, layout = state(context), self.layout
        row = layout.row(align=True)
        row.operator("motionsearch.fill_bone_map", icon="BONE_DATA")
        row.operator("motionsearch.clear_bone_map", text="", icon="X")
        target = context.active_object
        for pair in s.bone_pairs:
            row = layout.row(align=True)
            row.label(text=pair.name.replace("_", " "))
            if target is not None and target.type == "ARMATURE":
                row.prop_search(pair, "target", target.data, "bones", text="")
            else:
                row.prop(pair, "target", text="")


class MOTIONSEARCH_PT_library(_Panel, bpy.types.Panel):
    bl_label = "Add to Library"
    bl_parent_id = "MOTIONSEARCH_PT_search"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context) -> None:
        s, layout = state(context), self.layout
        layout.prop(s, "library_name")
        layout.prop(s, "library_tags")
        row = layout.row()
        row.enabled = not s.busy
        row.operator("motionsearch.add_action", icon="ADD")


CLASSES = (MOTIONSEARCH_UL_results, MOTIONSEARCH_PT_search, MOTIONSEARCH_PT_filters, MOTIONSEARCH_PT_import,
           MOTIONSEARCH_PT_bone_map, MOTIONSEARCH_PT_library)  # fmt: skip


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
