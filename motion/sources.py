"""Source folders of BVH clips and what is known about each clip (torch-free): the dataset build reads
the Bandai Namco layout with :func:`find_clips`, the server indexes any folder with :func:`folder_clips`.

**The Bandai Namco layout** (the Research Motion Dataset and ``data/demo``): a clip
``dataset-N_{content}_{style}_{id}.bvh`` has a label file ``{"content": i, "style": j}`` beside
it, indexing ``cfg/content_label.txt`` and ``cfg/style_label.txt`` of a folder above it.
:func:`find_clips` reads a whole dataset into :class:`Clip` records, checking that each file name
and its label file agree.

**Any folder** (:func:`folder_clips`): every ``*.bvh`` below it, recursively, on any rig the
motion layer maps. Each clip's :class:`ClipMetadata` comes from, later sources overriding
earlier ones field by field:

1. its path: the folder and file names below the root as words
   (``Locomotion/Basketball_Dribble_02.bvh`` -> ``locomotion basketball dribble``);
   a file in the Bandai layout gets its labels (content, style), a description saying them in plain
   English (:func:`label_caption`) and the dataset's licence;
2. a sidecar in its folder, ``motionsearch.csv`` (a header row) or ``motionsearch.json`` (a list
   of objects, or an object of file name -> object), with the columns ``file`` (the file name in
   that folder), ``description``, ``tags`` (separated by ``,`` or ``;`` in CSV, a list or a string
   in JSON), ``content``, ``style``, ``licence``;
3. ``NAME.json`` beside ``NAME.bvh`` with the same keys but ``file`` (a Bandai label file, whose
   values are numbers, is read as labels instead).

A sidecar or ``NAME.json`` that cannot be read is not fatal: :func:`folder_clips` returns it
among the problems (path -> reason) and the clips keep their path metadata. Clip ids are the
Bandai file stem, else the path below the root with ``/`` as ``.`` and every character an id may
not hold as ``_`` (``Locomotion.Basketball_Dribble_02``); ids that would collide, or be another
clip's mirror id, get a digest of the path appended.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from motion.mirror import MIRROR_PREFIX
from preprocess.captions import CaptionError, generate_captions

BANDAI_NAMCO = "Bandai Namco Research Motion Dataset, CC BY-NC 4.0 (github.com/BandaiNamcoResearchInc)"
SIDECARS = ("motionsearch.csv", "motionsearch.json")
FIELDS = ("description", "tags", "content", "style", "licence")
ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_ID = 128


@dataclass(frozen=True)
class Clip:
    """One clip of the Bandai Namco layout with its labels."""

    id: str  # file stem, e.g. dataset-2_wave-left-hand_elderly_017
    path: Path
    source: str  # dataset-1 or dataset-2
    content: str  # e.g. wave-left-hand
    style: str  # e.g. elderly


@dataclass(frozen=True)
class ClipMetadata:
    """What is known about a clip besides its motion: the words of its path, a description, tags, labels."""

    words: str = ""  # the folder and file names below the source root, as lower-case words
    description: str = ""
    tags: tuple[str, ...] = ()
    content: str = ""
    style: str = ""
    licence: str = ""
    source: str = ""  # the collection: "bandai-namco", the source folder's name, "upload"
    source_folder: str = ""  # the clip's folder below the source root, "/"-separated ("" at the root)

    @property
    def caption(self) -> str:
        """One line for display: the description, else the labels, else the path's words."""
        labels = f"{self.content.replace('-', ' ')} ({self.style})" if self.content and self.style else self.content
        return self.description or labels or self.words


@dataclass(frozen=True)
class SourceClip:
    """A BVH file of a source folder, its library id and its metadata."""

    path: Path
    id: str
    metadata: ClipMetadata = field(default_factory=ClipMetadata)


# --- the Bandai Namco layout ---------------------------------------------------------------------------------------


def _label_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [name.split("_", 1)[1] if name.startswith("dataset-") else name for name in names]


def _find_cfg(path: Path, source: str) -> Path | None:
    """The cfg folder with the label names: the dataset's own, or data/demo's cfg/dataset-N."""
    for parent in path.parents:
        for cfg in (parent / "cfg", parent / "cfg" / source):
            if (cfg / "content_label.txt").is_file():
                return cfg
    return None


class _Labels:
    """The label names of every cfg folder met so far."""

    def __init__(self) -> None:
        self.cache: dict[Path, tuple[list[str], list[str]]] = {}

    def clip(self, path: Path) -> Clip | None:
        """``path`` as a :class:`Clip` when it is in the Bandai layout (checked against its label file), else None."""
        fields = path.stem.split("_")
        if len(fields) != 4 or not re.fullmatch(r"dataset-\d+", fields[0]):
            return None
        source, content, style, _ = fields
        cfg = _find_cfg(path, source)
        if cfg is None:
            return None
        if cfg not in self.cache:
            self.cache[cfg] = (_label_names(cfg / "content_label.txt"), _label_names(cfg / "style_label.txt"))
        contents, styles = self.cache[cfg]
        label_file = path.with_suffix(".json")
        if label_file.is_file():
            label = json.loads(label_file.read_text(encoding="utf-8"))
            if (contents[label["content"]], styles[label["style"]]) != (content, style):
                raise ValueError(f"{label_file}: labels {label} disagree with the file name {path.name}")
        return Clip(path.stem, path, source, content, style)


def label_caption(clip: Clip) -> str:
    """A sentence saying a Bandai Namco clip's labels in plain English (the caption grammar's, one per clip:
    its labels are terse, "byebye", "chimpira"), or "" for labels the grammar does not know."""
    try:
        return generate_captions(clip.content, clip.style, "descriptive", n=1, key=clip.id)[0]
    except CaptionError:
        return ""


def find_clips(folder: str | Path) -> list[Clip]:
    """Every labelled clip under ``folder`` (the Bandai Namco layout, every file in it), sorted by id."""
    folder = Path(folder)
    labels, clips = _Labels(), []
    for path in sorted(folder.rglob("*.bvh")):
        clip = labels.clip(path)
        if clip is None:
            raise ValueError(f"{path}: not in the Bandai Namco layout (dataset-N_content_style_id.bvh, cfg/ above)")
        clips.append(clip)
    if not clips:
        raise FileNotFoundError(f"no BVH clips under {folder}")
    return clips


# --- any folder --------------------------------------------------------------------------------------------------


def path_words(relative: Path) -> str:
    """The folder and file names of a relative path as lower-case words, numbers and repeats left out:
    ``Locomotion/Basketball_Dribble_02.bvh`` -> ``locomotion basketball dribble``."""
    words: list[str] = []
    for part in (*relative.parent.parts, relative.stem):
        for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part):  # also splits camelCase
            word = word.lower()
            if not word.isdigit() and word not in words:
                words.append(word)
    return " ".join(words)


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"[,;]", value)
    if not isinstance(value, list | tuple):
        raise ValueError(f"tags must be a list or a string, got {type(value).__name__}")
    return tuple(dict.fromkeys(str(t).strip() for t in value if str(t).strip()))


def _fields(entry: dict, where: str) -> dict:
    """The metadata fields of one sidecar row or ``NAME.json``, checked."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object of {', '.join(FIELDS)}, got {type(entry).__name__}")
    out = {}
    for key in FIELDS:
        value = entry.get(key)
        if value is None or value == "":
            continue
        if key == "tags":
            out[key] = _tags(value)
        elif isinstance(value, str):
            out[key] = value.strip()
        else:
            raise ValueError(f"{where}: {key} must be text, got {value!r}")
    return out


def read_sidecar(path: Path) -> dict[str, dict]:
    """file name -> metadata fields, from a ``motionsearch.csv`` or ``motionsearch.json``; ValueError if malformed."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "file" not in rows[0]:
            raise ValueError(f"{path}: the header has no 'file' column (columns: file, {', '.join(FIELDS)})")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not JSON ({error})") from None
        if isinstance(data, dict):
            data = [{"file": name, **entry} if isinstance(entry, dict) else entry for name, entry in data.items()]
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of objects or an object of file name -> object")
        rows = data
    out = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("file"), str) or not row["file"].strip():
            raise ValueError(f"{path}: entry {n} has no file name")
        out[row["file"].strip()] = _fields(row, f"{path}, {row['file']}")
    return out


def clip_id(relative: Path) -> str:
    """A library id from a path below the source root (see the module docstring)."""
    text = ID_CHARS.sub("_", relative.with_suffix("").as_posix().replace("/", ".")).strip("_.-") or "clip"
    return text if len(text) <= MAX_ID else text[: MAX_ID - 9] + "-" + _digest(relative)


def _digest(relative: Path) -> str:
    return hashlib.sha256(relative.as_posix().encode()).hexdigest()[:8]


def folder_clips(root: str | Path, source: str | None = None) -> tuple[list[SourceClip], dict[str, str]]:
    """Every BVH file under ``root`` with its id and metadata, sorted by path, and the metadata files that could
    not be read (path -> reason). ``source``: the collection name of non-Bandai clips (default the root's name)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    source = source or root.resolve().name
    labels, problems = _Labels(), {}
    sidecars: dict[Path, dict[str, dict]] = {}
    clips: list[SourceClip] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file()):
        relative = path.relative_to(root)
        folder = relative.parent.as_posix() if relative.parent != Path(".") else ""
        try:
            bandai = labels.clip(path)
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            problems[str(path.with_suffix(".json"))] = f"unreadable Bandai Namco labels: {error}"
            bandai = None
        if bandai is not None:
            meta = ClipMetadata(path_words(relative), label_caption(bandai), content=bandai.content,
                                style=bandai.style, licence=BANDAI_NAMCO, source="bandai-namco",
                                source_folder=folder)  # fmt: skip
        else:
            meta = ClipMetadata(path_words(relative), source=source, source_folder=folder)
        if path.parent not in sidecars:
            sidecars[path.parent] = _sidecars(path.parent, problems)
        meta = replace(meta, **sidecars[path.parent].get(path.name, {}))
        own = path.with_suffix(".json")
        if bandai is None and own.is_file():
            try:
                meta = replace(meta, **_fields(json.loads(own.read_text(encoding="utf-8")), str(own)))
            except (OSError, ValueError) as error:
                problems[str(own)] = str(error)
        clips.append(SourceClip(path, bandai.id if bandai else clip_id(relative), meta))
    return _unique(clips), problems


def _sidecars(folder: Path, problems: dict[str, str]) -> dict[str, dict]:
    entries: dict[str, dict] = {}
    for name in SIDECARS:
        path = folder / name
        if path.is_file():
            try:
                for file, fields in read_sidecar(path).items():
                    entries[file] = entries.get(file, {}) | fields
            except (OSError, ValueError, csv.Error) as error:
                problems[str(path)] = str(error)
    return entries


def _unique(clips: list[SourceClip]) -> list[SourceClip]:
    """The clips with ids made unique: neither equal to another's id nor to another's mirror id."""
    taken: set[str] = set()
    out = []
    for clip in clips:
        new = clip.id
        if new in taken or MIRROR_PREFIX + new in taken or new.removeprefix(MIRROR_PREFIX) in taken:
            new = f"{clip.id[: MAX_ID - 9]}-{_digest(clip.path)}"
        taken.add(new)
        out.append(replace(clip, id=new) if new != clip.id else clip)
    return out
