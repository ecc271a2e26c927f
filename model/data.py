"""Training and evaluation data: a built dataset folder plus its cached backbone features, as batches.

An *item* is a motion (a clip or its mirror). A training batch takes N items and, for each,
a random crop of at most ``max_frames`` motion frames, one random caption (either
register), one random utterance of it and the item's video, and marks as positives the
pairs that are the same item or share the (content, style) labels. Evaluation uses fixed
choices: the centre crop, the first caption and first utterance of a register, clean or
noisy audio. An evaluation picks the caption kind explicitly (``View.kind``, label captions by default); training
draws from every kind but the held-out kinematic queries (``AnnotationEntry.texts``).

For fine-tuning (``model.finetune``), :meth:`RetrievalData.augmented_batch` also gives each item's motion
as an augmented re-capture (``motion.augment``) of the same crop, its features recomputed from the
augmented joints (``joints/``) and normalised with the dataset's statistics. Only the modalities a
``RetrievalData`` is made with are loaded.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from dataset.annotations import LABEL, AnnotationEntry, load_annotations
from dataset.build import pose_file
from dataset.splits import read_split_files
from model.cache import FeatureStore
from motion.augment import AugmentConfig, augment
from motion.canonical import place
from motion.features import motion_features
from motion.normalize import FeatureStats
from motion.resample import TARGET_FPS


@dataclass
class View:
    """Which caption, utterance and crop an evaluation uses for every item."""

    register: str = "descriptive"
    noisy: bool = False
    kind: str = LABEL  # which captions (dataset.annotations.KINDS): the first of this kind and register


@dataclass
class RetrievalData:
    folder: Path
    split: str  # one split, or several joined with "+" (e.g. "test+unseen": the probe's whole library)
    modalities: list[str]
    max_frames: int = 196
    items: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        split_of = read_split_files(self.folder)
        if not split_of:
            raise FileNotFoundError(f"{self.folder} has no splits/: build it with python -m dataset build")
        self.items = sorted(i for i, s in split_of.items() if s in self.split.split("+"))
        if not self.items:
            raise ValueError(f"split {self.split!r} of {self.folder} is empty")

    @cached_property
    def annotations(self) -> dict[str, AnnotationEntry]:
        return load_annotations(self.folder / "annotations.json")

    @cached_property
    def stats(self) -> FeatureStats:
        return FeatureStats.load(self.folder / "stats" / "feature_mean_std.npz")

    @cached_property
    def utterances(self) -> dict[str, list[dict]]:
        rows: dict[str, list[dict]] = defaultdict(list)
        for line in (self.folder / "speech" / "manifest.jsonl").read_text().splitlines():
            row = json.loads(line)
            rows[row["item"]].append(row)
        return rows

    @cached_property
    def has_noisy_speech(self) -> bool:
        """Whether every item has a noisy rendering of its utterances (test and unseen splits do)."""
        return all(any(r.get("noisy") for r in self.utterances[i]) for i in self.items)

    @cached_property
    def stores(self) -> dict[str, FeatureStore]:
        return {m: FeatureStore(self.folder / "cache" / m) for m in self.modalities if m != "motion"}

    @cached_property
    def motions(self) -> dict[str, np.ndarray]:
        return {i: self.stats.normalize(np.load(self.folder / "features" / f"{i}.npy")) for i in self.items}

    def labels(self, item: str) -> tuple[str, str]:
        entry = self.annotations[item]
        return entry.content, entry.style

    def positives(self, items: list[str], texts: list[str] | None = None) -> torch.Tensor:
        """(N, N) bool: the same item, or the same (content, style).

        With ``texts`` (the caption each item drew, :meth:`augmented_batch`'s ``TEXTS``), ``[i, j]`` says
        whether item j's caption is true of item i's motion: a label caption of every motion with its
        labels, a kinematic or combined caption (what this clip's body does) of its own motion alone and
        of any whose item drew the same words, so it teaches the instance, not the label."""
        keys = [self.labels(i) for i in items]
        same = torch.tensor([[a == b for b in keys] for a in keys]) | torch.eye(len(items), dtype=torch.bool)
        if texts is None:
            return same
        says_labels = torch.tensor([self.caption_kinds[i].get(t, LABEL) == LABEL for i, t in zip(items, texts)])
        same_text = torch.tensor([[a == b for b in texts] for a in texts])
        return (same & says_labels[None, :]) | same_text

    @cached_property
    def caption_kinds(self) -> dict[str, dict[str, str]]:
        """item -> caption text -> its kind (``dataset.annotations.KINDS``)."""
        return {i: {a.text: a.kind for a in self.annotations[i].annotations} for i in self.items}

    @cached_property
    def joints(self) -> dict[str, np.ndarray]:
        """Canonical positions (F + 1, 22, 3) at 20 fps of every item (features row i is joints i -> i + 1)."""
        return {i: np.load(self.folder / "joints" / f"{i}.npy") for i in self.items}

    def crop_start(self, item: str, rng: random.Random | None) -> int:
        excess = len(self.motions[item]) - self.max_frames
        return 0 if excess <= 0 else rng.randrange(excess + 1) if rng else excess // 2

    def _crop(self, item: str, rng: random.Random | None) -> np.ndarray:
        start = self.crop_start(item, rng)
        return self.motions[item][start : start + self.max_frames]

    @cached_property
    def poses(self) -> dict[str, list[np.ndarray]]:
        """The dataset build's ``pose`` stage outputs (F + 1, 22, 3) of every item that has any, one per camera
        (``dataset.build.pose_file``): the item's motion rendered and rebuilt by BlazePose, as SearchVideo's
        pose path would see a video of it."""
        folder = self.folder / "pose"
        if not folder.is_dir():
            return {}
        views = defaultdict(list)
        for item in self.items:
            view = 0
            while (path := folder / pose_file(item, view)).exists():
                views[item].append(np.load(path))
                view += 1
        return dict(views)

    def augmented(self, item: str, start: int, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
        """Normalised features of an augmented re-capture of the crop at ``start`` (at most ``max_frames``,
        the centre of a longer result): for a ``config.real_pose`` share of the items that have one, the same
        crop of one of the build's BlazePose rebuilds (:attr:`poses`, a camera drawn at random), else a
        :func:`~motion.augment.augment` of it."""
        window = slice(start, start + self.max_frames + 1)
        if config.real_pose and item in self.poses and rng.random() < config.real_pose:
            views = self.poses[item]
            joints = place(views[rng.integers(len(views))][window].astype(np.float64))
        else:
            joints = augment(self.joints[item][window], rng, config)
        features = self.stats.normalize(motion_features(joints, TARGET_FPS))
        excess = len(features) - self.max_frames
        return features[excess // 2 : excess // 2 + self.max_frames] if excess > 0 else features

    def augmented_batch(self, items: list[str], rng: random.Random, np_rng: np.random.Generator,
                        config: AugmentConfig, share: float) -> dict:  # fmt: skip
        """:meth:`batch` plus ``clean``: every item's clean crop, while ``motion`` holds the same crop
        augmented for a ``share`` of the items (drawn per item), clean for the rest; and ``TEXTS``, the
        caption each item drew (for :meth:`positives`; not an input)."""
        starts = [self.crop_start(i, rng) for i in items]
        clean = [self.motions[i][s : s + self.max_frames] for i, s in zip(items, starts, strict=True)]
        student = [self.augmented(i, s, np_rng, config) if np_rng.random() < share else c
                   for i, s, c in zip(items, starts, clean, strict=True)]  # fmt: skip
        out = {"motion": pad(student, PAD_MULTIPLE["motion"]), "clean": pad(clean, PAD_MULTIPLE["motion"])}
        keys = [self.keys(item, rng, View()) for item in items]
        for modality in keys[0]:
            out[modality] = pad([self.stores[modality][k[modality]] for k in keys], PAD_MULTIPLE[modality])
        if "text" in keys[0]:
            out[TEXTS] = [k["text"] for k in keys]
        return out

    def keys(self, item: str, rng: random.Random | None, view: View) -> dict[str, str]:
        """Cache keys of one item's text, speech and video (random for training, fixed by ``view`` otherwise)."""
        entry = self.annotations[item]
        keys = {}
        if "text" in self.modalities:
            texts = entry.texts() if rng else entry.texts(view.register, (view.kind,))
            keys["text"] = rng.choice(texts) if rng else texts[0]
        if "speech" in self.modalities:
            keys["speech"] = self.utterance(item, rng, view)
        if "video" in self.modalities:
            keys["video"] = item
        return keys

    def utterance(self, item: str, rng: random.Random | None, view: View) -> str:
        """Cache key of one utterance of ``item``: random for training, else the view's first (clean or noisy)."""
        rows = self.utterances[item]
        row = rng.choice(rows) if rng else next(r for r in rows if r["register"] == view.register)
        if view.noisy and not rng and not row.get("noisy"):
            raise ValueError(f"{item}: noisy audio exists for test and unseen items only")
        return row["file"].removesuffix(".flac") + ("@noisy" if view.noisy and not rng else "")

    def batch(self, items: list[str], rng: random.Random | None = None, view: View | None = None) -> dict:
        """modality -> (padded float32 inputs, bool mask) for ``items`` in order."""
        view = view or View()
        sequences: dict[str, list[np.ndarray]] = {"motion": [self._crop(i, rng) for i in items]}
        for item in items:
            for modality, key in self.keys(item, rng, view).items():
                sequences.setdefault(modality, []).append(self.stores[modality][key])
        return {m: pad(seqs, PAD_MULTIPLE[m]) for m, seqs in sequences.items()}

    def batches(self, batch_size: int, rng: random.Random) -> list[list[str]]:
        """A shuffled epoch of item batches (the last short batch dropped)."""
        order = self.items[:]
        rng.shuffle(order)
        return [order[i : i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


TEXTS = "texts"  # augmented_batch's key of the drawn captions

# Padded lengths are rounded up to these (within every modality's maximum: 196 motion frames, 32 text
# tokens): few distinct shapes keep the CPU kernels' per-shape caches, and so memory, small.
PAD_MULTIPLE = {"motion": 4, "text": 8, "speech": 16, "video": 1}


def pad(sequences: list[np.ndarray], multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad to the longest sequence, rounded up to ``multiple``; returns the batch and its mask."""
    length = -(-max(len(s) for s in sequences) // multiple) * multiple
    x = np.zeros((len(sequences), length, sequences[0].shape[-1]), dtype=np.float32)
    mask = np.zeros((len(sequences), length), dtype=bool)
    for i, s in enumerate(sequences):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)
