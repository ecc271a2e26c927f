"""The words a library knows about each clip, as one plain string the sentence graph embeds, torch-free.

A clip record carries its :class:`~motion.sources.ClipMetadata`; :func:`describe` makes one string of
it: its sidecar description, its content and style labels in words, the words of its path, its tags and a
sentence the kinematic captioner says of its motion.
The server embeds that string with the bundle's ``sentence`` graph at ingest and ranks it beside the
learned Eq. 8 similarity (``server.fusion``). A mirrored copy moves the other way: its metadata has left
and right swapped.

A clip with a content label also has an *action* string, the label and every way the caption grammar says it
(:func:`action_text`: "call. calls someone over, beckons someone to come over, ..."); its metadata vector is
the normalised mean of the two embeddings (:func:`metadata_vectors`, ``ACTION_SHARE``), so what a query asks
the body to do weighs as much as all its other words: on one string, style and side words outranked the action
("plodding along after a long day" found tired bows before any walk).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath

import numpy as np

from motion.kinematic import detect, generate
from motion.sources import ClipMetadata, path_words
from preprocess.captions import CaptionError, action_phrases

# the action embedding's share of a clip's metadata vector; chosen by ``python -m bench.fusion`` on the validation
# queries of eval/queries.jsonl at the shipped fusion setting (``action_shares`` in bench/results/fusion-action.json:
# top-5 100 %, top-1 93.9 %, tied with 0.35; 93.9 % and 84.8 % without the action)
ACTION_SHARE = 0.5

_SIDES = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
_SIDE_WORD = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")


def folders(relative_folder: str | PurePath) -> list[str]:
    """Every folder a clip lies in, relative to the library's root, outermost first (``a/b`` -> a, a/b): the
    ``folder`` filter matches any of them, so filtering by a folder takes its subfolders too."""
    parts = [p for p in PurePath(relative_folder).parts if p not in ("", ".")]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def label_words(*labels: str) -> str:
    """Labels as words (``wave-left-hand``, ``tired`` -> "wave left hand tired")."""
    return " ".join(path_words(PurePath(label)) for label in labels if label)


def describe(m: ClipMetadata, motion: str = "") -> str:
    """The metadata string of a clip: its description, its labels in words, the words of its path, its tags;
    and, for a clip that says nothing of its motion (no description, no labels), ``motion``, a sentence of what
    its body does (:func:`motion_caption`). Chosen by ``python -m bench.fusion``: on a library of numbered takes
    (``--no-words``, bench/results/fusion-no-words.json) fusing it beats the learned side alone; on the labelled
    library adding it to every clip cost one validation query at top 5, so labelled clips keep their labels."""
    return metadata_text(m.description, label_words(m.content, m.style), m.words, " ".join(m.tags),
                         "" if says_its_motion(m.description, m.content) else motion)  # fmt: skip


def says_its_motion(description: str | None, content: str | None) -> bool:
    """Whether a clip's own words say what it does: a description or a content label. :func:`describe` adds
    the kinematic captioner's sentence to the others' metadata; the server fuses a library mostly of those
    at ``server.fusion.WORDLESS`` (``Library.wordless``)."""
    return bool(description or content)


def motion_caption(positions: np.ndarray, fps: float = 20.0) -> str:
    """One descriptive sentence of what the body does in canonical positions (``motion.kinematic``: every phrase
    tied to a measured event), so a clip that carries no words of its own is still found by them; "" when the
    motion is too short or degenerate to describe."""
    try:
        captions = generate(detect(positions, fps), n=1, register="descriptive", seed=0, split=None)
    except ValueError:
        return ""
    return captions[0].text if captions else ""


def action_text(m: ClipMetadata) -> str:
    """A clip's action alone, without its style, description or names: its content label in words and, for a
    label the caption grammar knows, every phrase it has for it; "" for a clip without a content label."""
    if not m.content:
        return ""
    try:
        phrases = ", ".join(action_phrases(m.content))
    except CaptionError:
        phrases = ""
    return metadata_text(label_words(m.content), phrases)


def blend(text: np.ndarray, action: np.ndarray, share: float = ACTION_SHARE) -> np.ndarray:
    """Unit rows of ``(1 - share) * text + share * action`` (both (N, dim) unit sentence embeddings)."""
    mixed = (1.0 - share) * text + share * action
    return (mixed / np.maximum(np.linalg.norm(mixed, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def metadata_vectors(encode: Callable[[list[str]], np.ndarray], text: str, action: str) -> tuple[np.ndarray, ...]:
    """The metadata vectors of a clip and of its mirror (left and right swapped): ``encode`` (unit sentence
    embeddings of a list of strings) of ``text``, blended with that of ``action`` (:func:`blend`) when there
    is one."""
    texts = [text, mirrored(text)] + ([action, mirrored(action)] if action else [])
    vectors = encode(texts)
    mixed = blend(vectors[:2], vectors[2:]) if action else vectors
    return mixed[0], mixed[1]


def metadata_text(*pieces: str) -> str:
    """One metadata string from its pieces (caption, labels, names, description, tags), blanks left out."""
    return ". ".join(p.strip().rstrip(".") for p in pieces if p and p.strip())


def mirrored(text: str) -> str:
    """The metadata of a mirrored copy: left and right swapped as whole words."""
    return _SIDE_WORD.sub(lambda m: _SIDES[m.group(0)], text)
