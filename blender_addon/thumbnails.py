"""Thumbnails of search results: one frame of each hit's preview (the server's GetPreview), as icons.

The server sends a PNG strip of square frames side by side; the middle frame becomes the icon of
a ``bpy.utils.previews`` collection, keyed by motion id and time range, so the results list shows
what each motion looks like before it is imported. Blender decodes the PNG itself (no Pillow in
Blender's Python); pixels go straight into the preview, nothing is written to the blend file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import bpy.utils.previews
import numpy as np

_COLLECTION = None


def collection():
    global _COLLECTION
    if _COLLECTION is None:
        _COLLECTION = bpy.utils.previews.new()
    return _COLLECTION


def key(motion_id: str, start: float, end: float) -> str:
    return f"{motion_id}~{start:.2f}~{end:.2f}"


def icon(item) -> int:
    """The icon id of a result's thumbnail, or 0 when it has none (yet)."""
    found = collection().get(key(item.motion_id, item.start_seconds, item.end_seconds))
    return found.icon_id if found is not None else 0


def store(name: str, strip_png: bytes) -> None:
    """Make the middle frame of a preview strip (square frames side by side) the thumbnail ``name``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "strip.png"
        path.write_bytes(strip_png)
        image = bpy.data.images.load(str(path), check_existing=False)
        try:
            width, height = image.size
            if not width or not height:
                raise ValueError("the preview strip is not a readable PNG")
            pixels = np.empty(width * height * 4, np.float32)
            image.pixels.foreach_get(pixels)
        finally:
            bpy.data.images.remove(image)
    rows = pixels.reshape(height, width, 4)
    middle = (width // height) // 2
    frame = rows[:, middle * height : (middle + 1) * height]
    thumbnails = collection()
    preview = thumbnails.get(name) or thumbnails.new(name)
    preview.image_size = (frame.shape[1], frame.shape[0])
    preview.image_pixels_float.foreach_set(np.ascontiguousarray(frame).ravel())


def unregister() -> None:
    global _COLLECTION
    if _COLLECTION is not None:
        bpy.utils.previews.remove(_COLLECTION)
        _COLLECTION = None
