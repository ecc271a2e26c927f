"""The motion library the server searches: BVH clips, their metadata and their embeddings in the index.

Ingest reads a BVH file (any humanoid rig the motion layer maps), encodes the clip and its
mirror with the motion encoder (the centre crop of at most 196 frames at 20 fps, exactly as
the model is evaluated) and upserts both into the index. It is idempotent by content hash:
a file whose sha256 is already indexed is reported unchanged, not encoded again. A folder
ingest is resumable: every clip is committed to the index as it is encoded, so a crash
keeps what was done and the next run skips it. Uploaded files are kept under
``FOLDER/files/ID.bvh``; clips of a dataset folder are referenced where they are.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dataset.files import write_atomic
from motion.bvh import BvhError, read_bvh, write_bvh
from motion.canonical import canonicalize
from motion.features import motion_features
from motion.mirror import mirror_bvh, mirror_positions
from motion.resample import MAX_FRAMES, crop_bvh, in_place_bvh, resample_bvh
from motion.rigs import RigMap
from server.encoders import Encoders
from server.index import MotionIndex, MotionRecord

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MIRROR_PREFIX = "M"  # the dataset's convention: "M" + clip id
BANDAI_NAMCO = "Bandai Namco Research Motion Dataset, CC BY-NC 4.0 (github.com/BandaiNamcoResearchInc)"


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
    content: str = ""
    style: str = ""
    source: str = ""
    licence: str = ""
    caption: str = ""
    rig: RigMap | None = None
    keep: bool = False  # copy the file into the library (uploads), else reference it in place
    replace: bool = False  # an upload that may replace the clip of the same id


@dataclass
class IngestReport:
    added: list[dict] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Library:
    def __init__(self, folder: Path, index: MotionIndex, encoders: Encoders) -> None:
        self.folder = Path(folder)
        (self.folder / "files").mkdir(parents=True, exist_ok=True)
        self.index = index
        self.encoders = encoders
        self._by_sha = {r.payload["sha256"]: r.payload["id"] for r in self._all() if not r.payload["mirror"]}

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

    def embed(self, path: Path, rig: RigMap | None = None) -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
        """Facts about a BVH file and the (tokens, weights) of the clip and of its mirror."""
        try:
            bvh = read_bvh(path)
            canon = canonicalize(bvh, rig=rig)
            embeddings = []
            for positions in (canon.positions, mirror_positions(canon.positions)):
                features = motion_features(positions, canon.fps)
                start = max(0, (len(features) - MAX_FRAMES) // 2)
                embeddings.append(self.encoders.encode_motion(features[start : start + MAX_FRAMES]))
        except BvhError as error:  # its reason, with the file's name but not the folder it sits in
            raise LibraryError(f"{path.name}: {error.reason}") from None
        except ValueError as error:  # a rig no map fits, too few frames, values that overflow
            raise LibraryError(f"{path.name}: {error}") from None
        facts = {"fps": float(bvh.fps), "frames": int(bvh.n_frames), "seconds": float(bvh.n_frames / bvh.fps),
                 "up": canon.up}  # fmt: skip
        return facts, embeddings

    def add(self, clip: ClipInfo) -> dict | None:
        """Index one clip and its mirror; None when the same content is already indexed."""
        check_id(clip.id)
        sha = sha256_of(clip.path)
        if sha in self._by_sha:
            return None
        why = self.conflict(clip, sha)
        if why:
            raise IdTaken(f"{clip.path.name}: {why}")
        old = self.index.get(clip.id)
        facts, (own, mirrored) = self.embed(clip.path, clip.rig)
        path = clip.path
        if clip.keep:
            path = self.folder / "files" / f"{clip.id}.bvh"
            write_atomic(path, clip.path.read_bytes())
        payload = {"id": clip.id, "name": clip.path.stem, "content": clip.content, "style": clip.style,
                   "source": clip.source, "licence": clip.licence, "caption": clip.caption, "path": str(path.resolve()),
                   "sha256": sha, "mirror": False, **facts}  # fmt: skip
        mirror_id = MIRROR_PREFIX + clip.id
        mirror_payload = payload | {"id": mirror_id, "mirror": True, "name": f"{clip.path.stem} (mirrored)"}
        self.index.upsert([MotionRecord(clip.id, *own, payload), MotionRecord(mirror_id, *mirrored, mirror_payload)])
        if old is not None:  # replaced: its old content is no longer indexed
            self._by_sha.pop(old.payload["sha256"], None)
        self._by_sha[sha] = clip.id
        return payload

    def conflict(self, clip: ClipInfo, sha: str | None = None) -> str | None:
        """Why an upload (``clip.keep``) may not take its id, or None: uploads never take over another clip's id
        or a mirror's id (its own or its mirror's), unless ``clip.replace`` names an existing clip to replace.
        Content already indexed is no conflict (it is reported unchanged)."""
        if not clip.keep or (sha or sha256_of(clip.path)) in self._by_sha:
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
                report.failed[clip.path.name] = str(error)
                continue
            if added is None:
                report.unchanged.append(clip.path.name)
            else:
                report.added.append(added)
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
            stored = self.folder / "files" / f"{clip_id}.bvh"
            if stored.exists():
                stored.unlink()
        return removed, missing

    # reading

    def record(self, motion_id: str) -> MotionRecord:
        record = self.index.get(check_id(motion_id))
        if record is None:
            raise UnknownMotion(motion_id)
        return record

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
