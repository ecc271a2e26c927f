"""The source clips and their labels.

A Bandai Namco clip ``dataset-N_{content}_{style}_{id}.bvh`` has a label file
``{"content": i, "style": j}`` indexing ``cfg/content_label.txt`` and
``cfg/style_label.txt`` of its dataset folder. ``find_clips`` reads them all
into :class:`Clip` records, checking that the file name and the label file
agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Clip:
    """One source motion with its labels."""

    id: str  # file stem, e.g. dataset-2_wave-left-hand_elderly_017
    path: Path
    source: str  # dataset-1 or dataset-2
    content: str  # e.g. wave-left-hand
    style: str  # e.g. elderly


def _label_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [name.split("_", 1)[1] if name.startswith("dataset-") else name for name in names]


def find_clips(folder: str | Path) -> list[Clip]:
    """Every labelled BVH clip under ``folder`` (the Bandai Namco layout), sorted by id."""
    folder = Path(folder)
    clips = []
    label_cache: dict[Path, tuple[list[str], list[str]]] = {}
    for path in sorted(folder.rglob("*.bvh")):
        source, content, style, _ = path.stem.split("_")
        cfg = _find_cfg(path, source)
        if cfg not in label_cache:
            label_cache[cfg] = (_label_names(cfg / "content_label.txt"), _label_names(cfg / "style_label.txt"))
        contents, styles = label_cache[cfg]
        label_file = path.with_suffix(".json")
        if label_file.is_file():
            label = json.loads(label_file.read_text(encoding="utf-8"))
            if (contents[label["content"]], styles[label["style"]]) != (content, style):
                raise ValueError(f"{label_file}: labels {label} disagree with the file name {path.name}")
        clips.append(Clip(path.stem, path, source, content, style))
    if not clips:
        raise FileNotFoundError(f"no BVH clips under {folder}")
    return clips


def _find_cfg(path: Path, source: str) -> Path:
    """The cfg folder with the label names: the dataset's own, or data/demo's cfg/dataset-N."""
    for parent in path.parents:
        for cfg in (parent / "cfg", parent / "cfg" / source):
            if (cfg / "content_label.txt").is_file():
                return cfg
    raise FileNotFoundError(f"{path}: no cfg/content_label.txt above it")
