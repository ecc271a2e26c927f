"""The words a library knows about each clip, as one plain string the sentence graph embeds, torch-free.

A clip record carries its metadata as text (``ClipInfo.metadata``); whoever reads a folder decides what
goes in: for a Bandai Namco clip its caption, its content and style labels in words and its file-name
words; for any other clip its path words, its sidecar description and its tags. The server embeds that
string with the bundle's ``sentence`` graph at ingest and ranks it beside the learned Eq. 8 similarity
(``server.fusion``). A mirrored copy moves the other way: its metadata has left and right swapped.
"""

from __future__ import annotations

import re
from pathlib import PurePath

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SIDES = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
_SIDE_WORD = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")


def words(name: str) -> list[str]:
    """Lower-case words of a file or folder name: split at anything not a letter and at camelCase humps,
    numbers dropped (``Basketball_Dribble_02`` -> basketball, dribble; ``walkTurnLeft`` -> walk, turn, left)."""
    out = []
    for part in re.split(r"[^A-Za-z]+", _CAMEL.sub(" ", name)):
        if part:
            out.append(part.lower())
    return out


def path_words(relative: str | PurePath) -> str:
    """The words of a path relative to its library's root, folders first, each word once
    (``Locomotion/Basketball_Dribble_02.bvh`` -> "locomotion basketball dribble")."""
    path = PurePath(relative)
    seen: list[str] = []
    for part in [*path.parent.parts, path.stem]:
        seen += [w for w in words(part) if w not in seen]
    return " ".join(seen)


def folders(relative_folder: str | PurePath) -> list[str]:
    """Every folder a clip lies in, relative to the library's root, outermost first (``a/b`` -> a, a/b): the
    ``folder`` filter matches any of them, so filtering by a folder takes its subfolders too."""
    parts = [p for p in PurePath(relative_folder).parts if p not in ("", ".")]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def label_words(*labels: str) -> str:
    """Labels as words (``wave-left-hand``, ``tired`` -> "wave left hand tired")."""
    return " ".join(" ".join(words(label)) for label in labels if label)


def metadata_text(*pieces: str) -> str:
    """One metadata string from its pieces (caption, labels, names, description, tags), blanks left out."""
    return ". ".join(p.strip().rstrip(".") for p in pieces if p and p.strip())


def mirrored(text: str) -> str:
    """The metadata of a mirrored copy: left and right swapped as whole words."""
    return _SIDE_WORD.sub(lambda m: _SIDES[m.group(0)], text)
