"""The motion library the server searches: BVH clips, their metadata and their embeddings in the index.

Ingest reads a BVH file (any humanoid rig the motion layer maps), encodes the clip and its
mirror on the reference body (``motion.body``: the same movement ranks the same whoever performed it)
with the motion encoder and upserts both into the index. A clip that fits the model's
window (the bundle's ``max_frames``, 196 frames at 20 fps: 9.8 s) is one window, encoded whole;
a longer take is encoded as overlapping windows of that length, a quarter window (2.45 s) apart,
the last aligned to its end (``motion.resample.crop_windows``), each with its time range, so a
search finds the moment of a take and ``bvh`` can cut it out (docs/server.md says why a quarter).
It is idempotent by content hash: a file whose sha256 is already indexed is reported unchanged,
not encoded again. A folder ingest is resumable: every clip is committed to the index as it is
encoded, so a crash keeps what was done and the next run skips it; :meth:`Library.sync` also
removes the clips of a folder whose files are gone, and re-encodes a file whose content changed.
A clip that cannot be read is reported with its reason, never raised. Uploaded files are kept
under ``FOLDER/files/ID.bvh``; clips of a source folder are referenced where they are. Each
clip's payload holds its :class:`~motion.sources.ClipMetadata` (labels, description, tags, the
words of its path, its source folder) beside the facts of its motion and a sentence saying what the
body does (``motion_caption``: the kinematic captioner, ``motion.kinematic``). Previews
(``server.preview``) are rendered on first request and cached under ``FOLDER/previews/``.

A clip's metadata is also one plain string (:func:`server.metadata.describe`: description, labels,
path words, tags): when the bundle has a sentence graph it is embedded at ingest (the mirror's with
left and right swapped) and stored with every window as the motion's metadata vector, which text
searches rank beside the learned similarity. Tags and the clip's folders are stored for filtering.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.files import sha256_file, write_atomic
from motion.body import reference_features
from motion.bvh import BvhError, read_bvh, write_bvh
from motion.canonical import canonicalize
from motion.mirror import MIRROR_PREFIX, mirror_bvh, mirror_positions
from motion.resample import TARGET_FPS, crop_bvh, crop_windows, in_place_bvh, resample_bvh
from motion.rigs import RigMap
from motion.sources import ClipMetadata
from server.encoders import Encoders
from server.index import MotionIndex, MotionRecord
from server.metadata import (
    ACTION_SHARE,
    MOTION_SHARE,
    action_vectors,
    action_words,
    describe,
    folders,
    metadata_vectors,
    mirrored,
    motion_captions,
    says_its_motion,
)
from server.preview import Preview, render_preview

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
WINDOW_STRIDE = 4  # a long take's windows start a quarter window apart (2.45 s); see the module docstring


class LibraryError(ValueError):
    """A request the library cannot serve, in words: a bad id, an unreadable BVH, bad options."""


class IdTaken(LibraryError):
    """An upload whose id is taken by other content."""


class UnknownMotion(KeyError):
    """An id that is not in the library."""


def check_id(motion_id: str) -> str:
    """``motion_id`` if it is a valid id (never a path), else :class:`LibraryError`."""
    if not ID_PATTERN.fullmatch(motion_id or "") or ".." in motion_id:
        raise LibraryError(f"invalid motion id {motion_id[:80]!r}: letters, digits, '-', '_', '.', at most 128")
    return motion_id


@dataclass
class ClipInfo:
    """A BVH file to ingest and what is known about it."""

    path: Path
    id: str
    metadata: ClipMetadata = field(default_factory=ClipMetadata)
    rig: RigMap | None = None
    keep: bool = False  # copy the file into the library (uploads), else reference it in place
    replace: bool = False  # an upload that may replace the clip of the same id

    @property
    def label(self) -> str:
        """How a report names the clip: an upload by its file name, a clip of a folder by its path."""
        return self.path.name if self.keep else str(self.path)


@dataclass
class IngestReport:
    added: list[dict] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # file -> why it could not be indexed
    removed: list[str] = field(default_factory=list)  # ids of clips whose files are gone (a folder sync)

    def to_dict(self) -> dict:
        return {"added": [p["id"] for p in self.added], "unchanged": self.unchanged, "failed": self.failed,
                "removed": self.removed}  # fmt: skip


def _described(m: ClipMetadata) -> dict:
    """The payload fields of a clip's metadata."""
    return {"content": m.content, "style": m.style, "source": m.source, "licence": m.licence, "caption": m.caption,
            "description": m.description, "tags": list(m.tags), "words": m.words,
            "source_folder": m.source_folder}  # fmt: skip


class Library:
    def __init__(self, folder: Path, index: MotionIndex, encoders: Encoders) -> None:
        self.folder = Path(folder)
        (self.folder / "files").mkdir(parents=True, exist_ok=True)
        self.previews = self.folder / "previews"
        self.previews.mkdir(exist_ok=True)
        self.index = index
        self.encoders = encoders
        clips = [r.payload for r in self._all() if not r.payload["mirror"]]
        self._by_sha = {p["sha256"]: p["id"] for p in clips}
        self._described = {p["id"] for p in clips if p.get("metadata")}  # clips with a metadata vector
        self._wordless = {p["id"] for p in clips if p["id"] in self._described  # metadata: the motion caption alone
                          and not says_its_motion(p.get("description"), p.get("content"))}  # fmt: skip
        self._actions: dict[tuple[str, ...], tuple[np.ndarray, ...]] = {}  # action vectors by action words

    def _action(self, m: ClipMetadata, motion: list[str]) -> tuple[np.ndarray, ...] | None:
        """The action vectors of a clip (``server.metadata.action_vectors``): of its label, embedded once per
        label, or of ``motion``, what its body does, for a clip whose words do not say it."""
        words = action_words(m, motion)
        if not words:
            return None
        if not m.content:
            return action_vectors(self.encoders.encode_sentences, words)
        if words not in self._actions:
            self._actions[words] = action_vectors(self.encoders.encode_sentences, words)
        return self._actions[words]

    @property
    def has_metadata(self) -> bool:
        """Whether any clip carries metadata that text searches can rank (needs the bundle's sentence graph)."""
        return bool(self._described) and bool(self.index.meta_dim)

    @property
    def wordless(self) -> bool:
        """Whether most clips with metadata have no words of their own for what they do (no description, no
        content label: numbered takes), so their metadata is the kinematic captioner's sentence: text searches
        then fuse it at ``server.fusion.WORDLESS``."""
        return 2 * len(self._wordless) > len(self._described)

    def __len__(self) -> int:
        return len(self.index)

    def _all(self) -> Iterable[MotionRecord]:
        offset, page = 0, 1000
        while True:
            records, total = self.index.list(offset, page, None)
            yield from records
            offset += page
            if offset >= total:
                return

    # ingest

    @staticmethod
    def _canonical(path: Path, rig: RigMap | None) -> tuple[dict, np.ndarray]:
        """Facts about a BVH file and its canonical joint positions at 20 fps."""
        try:
            bvh = read_bvh(path)
            canon = canonicalize(bvh, rig=rig)
        except BvhError as error:  # its reason, with the file's name but not the folder it sits in
            raise LibraryError(f"{path.name}: {error.reason}") from None
        except ValueError as error:  # a rig no map fits (RigError), too few frames, values that overflow
            raise LibraryError(f"{path.name}: {error}") from None
        except OSError as error:
            raise LibraryError(f"{path.name}: {error.strerror or 'cannot be read'}") from None
        facts = {"fps": float(bvh.fps), "frames": int(bvh.n_frames), "seconds": float(bvh.n_frames / bvh.fps),
                 "up": canon.up}  # fmt: skip
        return facts, canon.positions

    def embed(self, path: Path, rig: RigMap | None = None) -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
        """Facts about a BVH file and the (tokens, weights) of the clip and of its mirror (a query: the centre
        window of a long one, as the model is evaluated)."""
        facts, positions = self._canonical(path, rig)
        own, mirrored = self._features(path, positions)
        return facts, [self.encoders.encode_motion(own), self.encoders.encode_motion(mirrored)]

    @staticmethod
    def _features(path: Path, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model features of a clip and of its mirror, on the reference body (``motion.body``: whoever
        performed it, on whatever rig); a :class:`LibraryError` for too short a motion."""
        try:
            return reference_features(positions)
        except ValueError as error:
            raise LibraryError(f"{path.name}: {error}") from None

    def embed_windows(self, path: Path, rig: RigMap | None = None) -> tuple[dict, list[dict], list, list]:
        """Facts about a BVH file, its windows' time ranges (``start_seconds``, ``end_seconds``), and the
        (tokens, weights) of each window of the clip and of its mirror."""
        facts, positions = self._canonical(path, rig)
        own, mirrored = self._features(path, positions)
        facts["motion_captions"] = list(motion_captions(positions))
        facts["motion_caption"] = next(iter(facts["motion_captions"]), "")
        size = self.encoders.bundle.preprocessing.motion.max_frames
        windows = crop_windows(len(own), size, size // WINDOW_STRIDE)
        # feature row r spans frames r..r+1 at 20 fps; the last window runs to the end of the file
        spans = [{"start_seconds": start / TARGET_FPS,
                  "end_seconds": stop / TARGET_FPS if stop < len(own) else facts["seconds"]}
                 for start, stop in windows]  # fmt: skip
        encode = self.encoders.encode_motion
        return facts, spans, [encode(own[a:b]) for a, b in windows], [encode(mirrored[a:b]) for a, b in windows]

    def add(self, clip: ClipInfo) -> dict | None:
        """Index one clip and its mirror (each window of a long one); None when the same content is already
        indexed."""
        check_id(clip.id)
        try:
            sha = sha256_file(clip.path)
        except OSError as error:
            raise LibraryError(f"cannot read {clip.path.name}: {error.strerror or error}") from None
        if sha in self._by_sha:
            if self._by_sha[sha] == clip.id and not clip.keep:  # a source folder's sidecar edited since
                self._refresh(clip)
            return None
        why = self.conflict(clip, sha)
        if why:
            raise IdTaken(f"{clip.path.name}: {why}")
        facts, spans, own, mirrored_windows = self.embed_windows(clip.path, clip.rig)
        path = clip.path
        if clip.keep:
            path = self.folder / "files" / f"{clip.id}.bvh"
            write_atomic(path, clip.path.read_bytes())
        text = describe(clip.metadata, facts["motion_caption"])
        payload = {"id": clip.id, "name": clip.path.stem, **_described(clip.metadata), "path": str(path.resolve()),
                   "sha256": sha, "mirror": False, "metadata": text, "folders": folders(clip.metadata.source_folder),
                   **facts}  # fmt: skip
        if clip.rig is not None:  # previews read the file again
            payload["rig"] = dataclasses.asdict(clip.rig) | {"requires": list(clip.rig.requires)}
        mirror_id = MIRROR_PREFIX + clip.id
        mirror_payload = payload | {"id": mirror_id, "mirror": True, "name": f"{clip.path.stem} (mirrored)",
                                    "metadata": mirrored(text),
                                    "motion_caption": mirrored(facts["motion_caption"]),
                                    "motion_captions": [mirrored(c) for c in facts["motion_captions"]]}  # fmt: skip
        meta = (None, None)
        if text and self.index.meta_dim and self.encoders.sentence_dim:
            share = ACTION_SHARE if clip.metadata.content else MOTION_SHARE
            action = self._action(clip.metadata, facts["motion_captions"])
            meta = metadata_vectors(self.encoders.encode_sentences, text, action, share)
        replaced = self.index.get(clip.id)  # the same id with other content: a changed file
        records = []
        for window, (span, a, b) in enumerate(zip(spans, own, mirrored_windows)):
            records += [MotionRecord(clip.id, *a, payload | span, window, meta[0]),
                        MotionRecord(mirror_id, *b, mirror_payload | span, window, meta[1])]  # fmt: skip
        self.index.upsert(records)
        if replaced is not None:
            self._by_sha.pop(replaced.payload["sha256"], None)
        self._by_sha[sha] = clip.id
        self._wordless.discard(clip.id)
        if meta[0] is not None:
            self._described.add(clip.id)
            if not says_its_motion(clip.metadata.description, clip.metadata.content):
                self._wordless.add(clip.id)
        return payload

    def _refresh(self, clip: ClipInfo) -> None:
        """Store ``clip``'s metadata with its unchanged motion when it differs from what is stored (a sidecar
        or NAME.json edited since): in place for a one-window clip in an index without metadata vectors, else by
        indexing the clip again (its windows and its metadata vectors are encoded anew)."""
        records = [self.index.get(clip.id), self.index.get(MIRROR_PREFIX + clip.id)]
        if None in records:
            return
        text = describe(clip.metadata, records[0].payload.get("motion_caption", ""))
        fields = _described(clip.metadata) | {"metadata": text}
        if all(records[0].payload.get(k) == v for k, v in fields.items()):
            return
        if records[0].payload["end_seconds"] < records[0].payload["seconds"] or self.index.meta_dim:
            self._by_sha.pop(records[0].payload["sha256"], None)  # all its windows and metadata vectors anew
            self.add(clip)
            return
        self.index.upsert([MotionRecord(r.id, r.tokens, r.weights, r.payload | fields) for r in records])

    def conflict(self, clip: ClipInfo, sha: str | None = None) -> str | None:
        """Why an upload (``clip.keep``) may not take its id, or None: uploads never take over another clip's id
        or a mirror's id (its own or its mirror's), unless ``clip.replace`` names an existing clip to replace.
        Content already indexed is no conflict (it is reported unchanged)."""
        if not clip.keep or (sha or sha256_file(clip.path)) in self._by_sha:
            return None
        own, mirror = self.index.get(clip.id), self.index.get(MIRROR_PREFIX + clip.id)
        if own is not None and own.payload["mirror"]:
            return f"{clip.id} is the id of a mirrored clip; mirrors cannot be uploaded"
        if mirror is not None and not mirror.payload["mirror"]:
            return f"its mirror's id {mirror.payload['id']} is taken by another clip"
        if own is not None and not clip.replace:
            return f"the library has other content under the id {clip.id} (set replace to replace it)"
        return None

    def ingest(self, clips: list[ClipInfo], progress: bool = True) -> IngestReport:
        report = IngestReport()
        for clip in tqdm(clips, desc="indexing motions", unit="clip", disable=not progress):
            try:
                added = self.add(clip)
            except LibraryError as error:
                report.failed[clip.label] = str(error)
                continue
            if added is None:
                report.unchanged.append(clip.label)
            else:
                report.added.append(added)
        return report

    def sync(self, clips: list[ClipInfo], root: Path, progress: bool = True) -> IngestReport:
        """Make the library's clips from the folder ``root`` be ``clips``: those whose files are gone (or no longer
        listed) are removed, new and changed files indexed, unchanged ones skipped by content hash. Each clip is
        committed as it is encoded, so an interrupted sync resumes where it stopped."""
        root, wanted = Path(root).resolve(), {c.id for c in clips}
        stale = [r.payload["id"] for r in self._all()
                 if not r.payload["mirror"] and r.payload["id"] not in wanted
                 and Path(r.payload["path"]).is_relative_to(root)
                 and not Path(r.payload["path"]).is_relative_to(self.folder.resolve())]  # fmt: skip
        self.delete(stale)
        report = self.ingest(clips, progress)
        report.removed = stale
        return report

    def delete(self, ids: list[str]) -> tuple[int, list[str]]:
        """Remove clips (and their mirrors) by id; returns the number removed and the ids not found."""
        removed, missing = 0, []
        for motion_id in ids:  # all are checked before any is deleted
            check_id(motion_id)
        for motion_id in ids:
            record = self.index.get(motion_id)
            if record is None:
                missing.append(motion_id)
                continue
            clip_id = motion_id.removeprefix(MIRROR_PREFIX) if record.payload["mirror"] else motion_id
            removed += self.index.delete([clip_id, MIRROR_PREFIX + clip_id])
            self._by_sha.pop(record.payload["sha256"], None)
            self._described.discard(clip_id)
            self._wordless.discard(clip_id)
            stored = self.folder / "files" / f"{clip_id}.bvh"
            if stored.exists():
                stored.unlink()
            for preview in (*self.previews.glob(f"{clip_id}~*"), *self.previews.glob(f"{MIRROR_PREFIX}{clip_id}~*")):
                preview.unlink(missing_ok=True)
        return removed, missing

    # reading

    def record(self, motion_id: str) -> MotionRecord:
        record = self.index.get(check_id(motion_id))
        if record is None:
            raise UnknownMotion(motion_id)
        return record

    def preview(self, motion_id: str, start: float = 0.0, end: float = 0.0) -> Preview:
        """A small rendering of a motion (the time range [start, end) s of it; 0, 0: the whole clip), from the
        cache under ``FOLDER/previews`` when it was rendered before (keyed by id, content hash and range)."""
        payload = self.record(motion_id).payload
        seconds = payload["seconds"]
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < 0 or (end and end <= start):
            raise LibraryError(f"bad preview range [{start}, {end}) s")
        if start >= seconds:
            raise LibraryError(f"{motion_id}: the preview range starts at {start:g} s, after its {seconds:.2f} s")
        end = min(end or seconds, seconds)
        key = f"{motion_id}~{payload['sha256'][:16]}~{round(start * 1000)}-{round(end * 1000)}"
        cached = Preview.load(self.previews, key, start, end)
        if cached is not None:
            return cached
        path = Path(payload["path"])
        if not path.exists():
            raise LibraryError(f"{motion_id}: its file {path.name} is no longer where the library indexed it")
        rig = RigMap.from_dict(payload["rig"]) if payload.get("rig") else None
        _, positions = self._canonical(path, rig)
        if payload["mirror"]:
            positions = mirror_positions(positions)
        first = min(round(start * TARGET_FPS), len(positions) - 1)
        positions = positions[first : max(round(end * TARGET_FPS) + 1, first + 1)]
        preview = render_preview(positions, TARGET_FPS, start, end)
        preview.save(self.previews, key, write_atomic)
        return preview

    def bvh(self, motion_id: str, fps: float = 0.0, start: float = 0.0, end: float = 0.0, in_place: bool = False,
            mirror: bool = False) -> bytes:  # fmt: skip
        """The BVH text of a motion: the stored bytes when no option is set (mirrored ids are mirrored)."""
        payload = self.record(motion_id).payload
        mirror = mirror != payload["mirror"]
        path = Path(payload["path"])
        if not path.exists():
            raise LibraryError(f"{motion_id}: its file {path.name} is no longer where the library indexed it")
        if not (fps or start or end or in_place or mirror):
            return path.read_bytes()
        if fps < 0 or start < 0 or end < 0 or (end and end <= start):
            raise LibraryError(f"bad options: fps {fps}, range [{start}, {end}) s")
        motion = read_bvh(path)
        try:
            if start or end:
                stop = motion.n_frames if not end else min(motion.n_frames, round(end * motion.fps))
                motion = crop_bvh(motion, round(start * motion.fps), stop)
            if mirror:
                motion = mirror_bvh(motion)
            if in_place:
                motion = in_place_bvh(motion, payload.get("up", "y"))
            if fps:
                motion = resample_bvh(motion, fps)
        except ValueError as error:
            raise LibraryError(f"{motion_id}: {error}") from None
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.bvh"
            write_bvh(out, motion)
            return out.read_bytes()
