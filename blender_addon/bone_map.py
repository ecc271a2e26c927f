"""Which bone of your armature follows which joint of a clip.

Rigs are described by the JSON maps of ``motion/rigs/`` (copied into the extension
at build time) plus the add-on's own target presets in ``rigs/``: each maps a
canonical joint ("pelvis", "left_elbow", ...) to a bone name or a list of
alternatives. Names match case-insensitively, ignoring a namespace ("mixamorig:")
and Rigify's ORG-/DEF- prefixes. A clip and a rig with the same bone names map
one to one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

RIGS = Path(__file__).parent / "rigs"
MIN_JOINTS = 8  # fewer recognised joints than this is not a match


class BoneMapError(ValueError):
    """The clip's or the armature's bones could not be mapped; the message says what to do."""


@cache
def presets() -> dict[str, dict[str, tuple[str, ...]]]:
    """Preset name -> canonical joint -> bone names (alternatives), from ``rigs/*.json``."""
    out = {}
    for path in sorted(RIGS.glob("*.json")):
        joints = json.loads(path.read_text(encoding="utf-8"))["joints"]
        named = {j: (e,) if isinstance(e, str) else tuple(e) for j, e in joints.items() if isinstance(e, str | list)}
        out[path.stem] = named
    return out


def plain(name: str) -> str:
    name = name.rsplit(":", 1)[-1]
    for prefix in ("ORG-", "DEF-"):
        name = name.removeprefix(prefix)
    return name.lower()


def bind(preset: str, bones: list[str]) -> dict[str, str]:
    """Canonical joint -> bone of ``bones``, for the joints of ``preset`` that are present."""
    lookup: dict[str, str] = {}
    for bone in sorted(bones, key=lambda b: plain(b) != b.rsplit(":", 1)[-1].lower()):  # ORG-/DEF- copies last
        lookup.setdefault(plain(bone), bone)
    found = {}
    for joint, names in presets()[preset].items():
        bone = next((lookup[plain(n)] for n in names if plain(n) in lookup), None)
        if bone is not None:
            found[joint] = bone
    return found


def detect(bones: list[str]) -> tuple[str, dict[str, str]]:
    """The preset that recognises most of ``bones``, and its binding."""
    scored = sorted(((len(bind(name, bones)), name) for name in presets()), reverse=True)
    if not scored or scored[0][0] < MIN_JOINTS:
        raise BoneMapError(
            f"no rig preset recognises these bones ({', '.join(bones[:6])}...): pick a preset or map the bones by hand"
        )
    return scored[0][1], bind(scored[0][1], bones)


def resolve(source: list[str], target: list[str], preset: str = "AUTO", pairs: dict[str, str] | None = None):
    """Source bone -> target bone, and the source bone that carries the root motion (the pelvis).

    ``pairs`` (canonical joint -> target bone, edited in the panel) overrides the preset.
    """
    _, src = detect(source)
    if not pairs and preset == "AUTO" and set(source) <= set(target):
        return {name: name for name in source}, src.get("pelvis", source[0])
    if pairs:
        tgt = {joint: bone for joint, bone in pairs.items() if bone in target}
    elif preset == "AUTO":
        tgt = detect(target)[1]
    else:
        tgt = bind(preset, target)
    mapping = {src[joint]: tgt[joint] for joint in src if joint in tgt}
    if "pelvis" not in tgt or len(mapping) < MIN_JOINTS:
        raise BoneMapError(
            f"only {len(mapping)} joints map onto this armature{'' if 'pelvis' in tgt else ' (no pelvis)'}: "
            "choose its rig preset or fill the bone map"
        )
    return mapping, src["pelvis"]
