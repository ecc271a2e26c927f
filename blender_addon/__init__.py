"""motionsearch for Blender: type or speak a query, pick a clip, import it onto your armature.

A thin client: every search and download is a gRPC call to a motionsearch server
(``python -m server.serve``); nothing heavy runs inside Blender. Modules:
``preferences`` (server address, token), ``properties`` (the panel's state),
``operators`` (connect, search, record, import), ``panel`` (the sidebar UI),
``bone_map`` (rig presets and name mapping), ``retarget`` (keyframes onto a rig),
``recorder`` (push-to-talk microphone capture), ``thumbnails`` (the results' preview icons).
"""

from . import operators, panel, preferences, properties, thumbnails

_MODULES = (preferences, properties, operators, panel)


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
    thumbnails.unregister()
