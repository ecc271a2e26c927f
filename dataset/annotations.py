"""``annotations.json``: the captions of every dataset item, in the TMR layout.

    {"dataset-2_walk_normal_001": {
        "path": "Bandai-Namco-Research-Motiondataset-2/data/dataset-2_walk_normal_001.bvh",
        "duration": 4.05, "content": "walk", "style": "normal", "mirror": false,
        "annotations": [{"text": "a person walks forward", "register": "descriptive", "kind": "label"}, ...]},
     "Mdataset-2_walk_normal_001": {...}}

``path`` is relative to the source dataset folder; mirrored items ("M" + id)
share their source's path and carry their mirrored content label. Each
annotation's ``kind`` says where it comes from (``dataset.captions``): ``label``
(the label grammar), ``kinematic`` (what the body measurably does),
``combined`` (both in one sentence) or ``kinematic-heldout`` (kinematic, in
phrasings held out from training: evaluation queries of test and unseen items
only). Files written before kinds existed hold label captions only and load as
such.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common.files import write_atomic

LABEL, KINEMATIC, COMBINED, KINEMATIC_HELDOUT = "label", "kinematic", "combined", "kinematic-heldout"
KINDS = (LABEL, KINEMATIC, COMBINED, KINEMATIC_HELDOUT)
TRAINING_KINDS = (LABEL, KINEMATIC, COMBINED)  # everything but the held-out evaluation queries


@dataclass(frozen=True)
class Annotation:
    text: str
    register: str  # "descriptive" or "spoken" (preprocess.captions.REGISTERS)
    kind: str = LABEL  # one of KINDS


@dataclass
class AnnotationEntry:
    path: str
    duration: float  # seconds at the canonical 20 fps
    content: str
    style: str
    mirror: bool
    annotations: list[Annotation] = field(default_factory=list)

    def texts(self, register: str | None = None, kinds: tuple[str, ...] = TRAINING_KINDS) -> list[str]:
        """Caption texts in file order, of one register (None: both) and of ``kinds`` (by default every kind but
        the held-out evaluation queries, so training never sees them)."""
        return [a.text for a in self.annotations if (register is None or a.register == register) and a.kind in kinds]


def write_annotations(path: Path, entries: dict[str, AnnotationEntry]) -> None:
    data = {item: asdict(entry) for item, entry in sorted(entries.items())}
    write_atomic(Path(path), json.dumps(data, indent=1, ensure_ascii=False).encode())


def load_annotations(path: str | Path) -> dict[str, AnnotationEntry]:
    """Read an ``annotations.json`` back into typed entries."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        item: AnnotationEntry(**{**entry, "annotations": [Annotation(**a) for a in entry["annotations"]]})
        for item, entry in data.items()
    }
