"""The eight body parts as data, and the feature columns each part owns.

``body_parts.json`` lists the parts; ``part_columns()`` turns it into index
arrays into the 263-d feature vector (see ``motion.features``), so a model
slices ``features[..., columns]`` per part. Every column belongs to exactly
one part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from motion.features import LAYOUT
from motion.skeleton import INDEX


@dataclass(frozen=True)
class BodyPart:
    name: str
    joints: tuple[str, ...]
    columns: np.ndarray  # indices into the feature vector


def _joint_columns(joint: int) -> list[int]:
    cols = []
    if joint > 0:  # the pelvis has no ric / rot6d entry
        cols += range(LAYOUT["ric"].start + 3 * (joint - 1), LAYOUT["ric"].start + 3 * joint)
        cols += range(LAYOUT["rot6d"].start + 6 * (joint - 1), LAYOUT["rot6d"].start + 6 * joint)
    cols += range(LAYOUT["local_vel"].start + 3 * joint, LAYOUT["local_vel"].start + 3 * joint + 3)
    return cols


def body_parts() -> tuple[BodyPart, ...]:
    """The parts of ``body_parts.json`` with their feature columns, in file order."""
    table = json.loads((resources.files("motion") / "body_parts.json").read_text(encoding="utf-8"))
    parts = []
    for entry in table["parts"]:
        cols: list[int] = []
        for name in entry["joints"]:
            cols += _joint_columns(INDEX[name])
        for block in entry.get("extra", []):
            cols += range(LAYOUT[block].start, LAYOUT[block].stop)
        cols += [LAYOUT["foot_contact"].start + c for c in entry.get("contacts", [])]
        parts.append(BodyPart(entry["name"], tuple(entry["joints"]), np.array(sorted(cols))))
    return tuple(parts)
