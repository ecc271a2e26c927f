"""Add-on preferences: where the server is and how to authenticate."""

from __future__ import annotations

import bpy


class MotionSearchPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    address: bpy.props.StringProperty(
        name="Server", default="127.0.0.1:50051", description="host:port of a motionsearch server (server.serve)"
    )
    token: bpy.props.StringProperty(
        name="Token", default="", subtype="PASSWORD", description="Bearer token, when the server was started with one"
    )
    timeout: bpy.props.FloatProperty(
        name="Timeout (s)", default=30.0, min=1.0, max=600.0, description="Deadline for each call to the server"
    )

    def draw(self, context) -> None:
        layout = self.layout
        layout.prop(self, "address")
        layout.prop(self, "token")
        layout.prop(self, "timeout")


def get(context) -> MotionSearchPreferences:
    return context.preferences.addons[__package__].preferences


def register() -> None:
    bpy.utils.register_class(MotionSearchPreferences)


def unregister() -> None:
    bpy.utils.unregister_class(MotionSearchPreferences)
