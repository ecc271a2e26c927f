"""The dataset build: source BVH folder -> a versioned multimodal dataset folder.

Stages run in order; each writes its outputs atomically (temporary file,
then rename), skips outputs that already exist, and records its time in
``build.json``. An interrupted build run again resumes where it stopped.

    motion     joints/{item}.npy (F, 22, 3) float32 and features/{item}.npy (F-1, 263)
               for every clip and its mirror (item id "M" + clip id)
    splits     splits/{train,val,test,unseen}.txt (clip and mirror ids) and
               stats/feature_mean_std.npz fitted on the training items only
    captions   annotations.json: TMR-style, both registers per item

Later stages (speech, video) add their own outputs beside these.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dataset.annotations import Annotation, AnnotationEntry, write_annotations
from dataset.captions import REGISTERS, generate_captions
from dataset.files import save_npy, write_atomic
from dataset.labels import Clip, find_clips
from dataset.splits import SPLITS, assign_splits, mirror_id, source_id
from motion.bvh import BvhError, read_bvh
from motion.canonical import canonicalize
from motion.features import motion_features
from motion.mirror import mirror_label, mirror_positions
from motion.normalize import FeatureStats
from motion.rigs import RigError

VERSION = 1
CAPTIONS_PER_ITEM = 8  # per register, drawn per item from every caption the grammar has for its labels


@dataclass
class Build:
    """One build: where from, where to, and what is known so far."""

    source: Path
    out: Path
    seed: int = 0
    limit: int | None = None
    clips: list[Clip] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.clips = find_clips(self.source)[: self.limit] if self.limit else find_clips(self.source)

    @property
    def items(self) -> list[tuple[str, Clip, bool]]:
        """(item id, source clip, mirrored) for every clip and its mirror."""
        return [(i, c, m) for c in self.clips for i, m in ((c.id, False), (mirror_id(c.id), True))]

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def log(self) -> dict:
        path = self.path("build.json")
        return json.loads(path.read_text()) if path.exists() else {"version": VERSION, "stages": {}}

    def record(self, stage: str, seconds: float, **info) -> None:
        log = self.log()
        log.update(source=str(self.source), seed=self.seed, limit=self.limit, git_commit=_git_commit())
        previous = log["stages"].get(stage, {})
        total = previous.get("seconds_total", 0.0) + seconds
        log["stages"][stage] = {"seconds_last_run": round(seconds, 2), "seconds_total": round(total, 2), **info}
        write_atomic(self.path("build.json"), json.dumps(log, indent=2).encode())

    def content(self, item: str) -> str:
        clip = self.clip(item)
        return mirror_label(clip.content) if item != clip.id else clip.content

    def clip(self, item: str) -> Clip:
        return self._by_id[source_id(item)]

    @cached_property
    def _by_id(self) -> dict[str, Clip]:
        return {c.id: c for c in self.clips}


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def stage_motion(build: Build) -> dict:
    failures = {}
    todo = [c for c in build.clips if not build.path("features", mirror_id(c.id) + ".npy").exists()]
    for clip in tqdm(todo, desc="motion", unit="clip"):
        try:
            canon = canonicalize(read_bvh(clip.path))
        except (BvhError, RigError) as err:
            failures[clip.id] = str(err)
            continue
        for item, positions in ((clip.id, canon.positions), (mirror_id(clip.id), mirror_positions(canon.positions))):
            save_npy(build.path("joints", item + ".npy"), positions.astype(np.float32))
            save_npy(build.path("features", item + ".npy"), motion_features(positions, canon.fps))
    if failures:
        raise RuntimeError(f"{len(failures)} clips failed: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    return {"items": len(build.items), "fps": 20}


def stage_splits(build: Build) -> dict:
    splits = assign_splits(build.clips)
    counts = {}
    for name in SPLITS:
        ids = sorted(i for i, c, _ in build.items if splits[c.id] == name)
        write_atomic(build.path("splits", f"{name}.txt"), "".join(f"{i}\n" for i in ids).encode())
        counts[name] = len(ids)
    train = [i for i, c, _ in build.items if splits[c.id] == "train"]
    features = (np.load(build.path("features", i + ".npy")) for i in tqdm(train, desc="stats", unit="item"))
    stats = FeatureStats.fit(features)
    build.path("stats").mkdir(exist_ok=True)
    stats.save(build.path("stats", "feature_mean_std.npz"))
    return {"items_per_split": counts}


def stage_captions(build: Build) -> dict:
    entries = {}
    for item, clip, mirrored in tqdm(build.items, desc="captions", unit="item"):
        n_frames = np.load(build.path("joints", item + ".npy"), mmap_mode="r").shape[0]
        content = build.content(item)
        texts = [
            Annotation(text, register)
            for register in REGISTERS
            for text in generate_captions(content, clip.style, register, CAPTIONS_PER_ITEM, build.seed, key=item)
        ]
        entries[item] = AnnotationEntry(
            path=clip.path.relative_to(build.source).as_posix(),
            duration=round((n_frames - 1) / 20, 3),
            content=content,
            style=clip.style,
            mirror=mirrored,
            annotations=texts,
        )
    write_annotations(build.path("annotations.json"), entries)
    return {"items": len(entries), "captions": sum(len(e.annotations) for e in entries.values())}


STAGES: dict[str, Callable[[Build], dict]] = {
    "motion": stage_motion,
    "splits": stage_splits,
    "captions": stage_captions,
}


def run(build: Build, stages: list[str] | None = None) -> None:
    for name in stages or list(STAGES):
        start = time.perf_counter()
        info = STAGES[name](build)
        seconds = time.perf_counter() - start
        build.record(name, seconds, **info)
        print(f"stage {name}: {seconds:.1f} s {info}")
