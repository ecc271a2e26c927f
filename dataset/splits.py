"""Deterministic train / val / test splits and the unseen-action probe.

Policy (``splits.json``): clips whose content is in ``unseen_actions`` form
the *unseen* probe and appear in no other split. The rest are stratified by
(source, content, style): each group's clips are shuffled with a seed derived
from the group's name, the groups are laid end to end in a seeded order, and
each clip of that sequence goes to the split furthest behind its share so far
(largest deficit). Any run of n clips, so every group, gets each split's share
to within about one clip, and one-clip groups spread over the splits instead
of all landing in train.
A mirrored item (id prefixed with ``M``) always shares its source clip's
split, so a clip and its mirror never straddle train and test.
The cross-source protocol (``model.cross_source``) moves every item of one source to a ``heldout`` split.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from itertools import groupby
from pathlib import Path

from motion.mirror import MIRROR_PREFIX, mirror_label
from motion.sources import Clip

SPLITS = ("train", "val", "test", "unseen")
# A whole source held out of train/val/test (``python -m model.cross_source``); a dataset build never writes it.
HELDOUT = "heldout"


@dataclass(frozen=True)
class SplitConfig:
    seed: int
    fractions: dict[str, float]
    unseen_actions: tuple[str, ...]

    @classmethod
    def load(cls) -> SplitConfig:
        data = json.loads((resources.files("dataset") / "splits.json").read_text(encoding="utf-8"))
        config = cls(data["seed"], data["fractions"], tuple(data["unseen_actions"]))
        if abs(sum(config.fractions.values()) - 1) > 1e-9 or set(config.fractions) != {"train", "val", "test"}:
            raise ValueError(f"splits.json: fractions must be train/val/test summing to 1, got {config.fractions}")
        if any(mirror_label(c) != c for c in config.unseen_actions):
            raise ValueError("splits.json: an unseen action must be its own mirror, or mirroring would leak it")
        return config


def _stable_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def assign_splits(clips: Iterable[Clip], config: SplitConfig | None = None) -> dict[str, str]:
    """Map every clip id to one of ``SPLITS``."""
    config = config or SplitConfig.load()
    result: dict[str, str] = {}
    seen = []
    for clip in clips:
        if clip.content in config.unseen_actions:
            result[clip.id] = "unseen"
        else:
            seen.append(clip)
    key = lambda c: (c.source, c.content, c.style)  # noqa: E731
    groups = []
    for group, members in groupby(sorted(seen, key=lambda c: (key(c), c.id)), key=key):
        members = list(members)
        random.Random(_stable_seed(config.seed, *group)).shuffle(members)
        groups.append(members)
    random.Random(_stable_seed(config.seed)).shuffle(groups)
    assigned = dict.fromkeys(config.fractions, 0)
    for k, clip in enumerate(c for members in groups for c in members):
        split = max(config.fractions, key=lambda s: config.fractions[s] * (k + 1) - assigned[s])
        assigned[split] += 1
        result[clip.id] = split
    return result


def mirror_id(clip_id: str) -> str:
    return MIRROR_PREFIX + clip_id


def source_id(item_id: str) -> str:
    """The source clip of an item id (a mirrored item's id without its prefix)."""
    return item_id[len(MIRROR_PREFIX) :] if item_id.startswith(MIRROR_PREFIX + "dataset-") else item_id


def read_split_files(out: str | Path) -> dict[str, str]:
    """item id -> split name, as a dataset build's splits stage (or ``model.cross_source``) wrote them under
    ``out/splits``."""
    files = {name: Path(out, "splits", f"{name}.txt") for name in (*SPLITS, HELDOUT)}
    return {i: name for name, path in files.items() if path.exists() for i in path.read_text().split()}


def split_of(item_id: str, splits: dict[str, str]) -> str:
    return splits[source_id(item_id)]


def data_hash(folder: Path) -> str:
    """A short hash of what defines a built dataset: splits, annotations, speech manifest, cache manifest
    (``model.train`` records it with each run; a release and its bundle keep it)."""
    h = hashlib.sha256()
    for rel in ("splits/train.txt", "splits/val.txt", "splits/test.txt", "splits/unseen.txt", "annotations.json",
                "speech/manifest.jsonl", "cache/manifest.json"):  # fmt: skip
        path = folder / rel
        h.update(rel.encode())
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()[:16]
