"""The words a library knows about each clip, as one plain string the sentence graph embeds, torch-free.

A clip record carries its :class:`~motion.sources.ClipMetadata`; :func:`describe` makes one string of
it: its sidecar description, its content and style labels in words, the words of its path, its tags and a
sentence the kinematic captioner says of its motion.
The server embeds that string with the bundle's ``sentence`` graph at ingest and ranks it beside the
learned Eq. 8 similarity (``server.fusion``). A mirrored copy moves the other way: its metadata has left
and right swapped.

A clip with a content label also has an *action*: its label in words, every way the caption grammar says
it and the grammar's synonyms for it (:func:`action_words`: "call", "beckons someone to come over", "come
here", "summon", ...). Its embedding is the normalised mean of theirs (:func:`action_vectors`: a centroid,
so each phrase counts as a phrase, where one long string of them all was a blur), and a clip's metadata vector
blends it with its words' (:func:`metadata_vectors`, ``ACTION_SHARE``), so what a query asks the body to do
outweighs its other words: on one string, style and side words outranked the action ("plodding along after
a long day" found tired bows before any walk), and a word the label phrases lack ("boogie", "uppercut") found
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import PurePath

import numpy as np

from motion.kinematic import Description, detect, generate
from motion.sources import ClipMetadata, path_words
from preprocess.captions import CaptionError, action_phrases, synonyms

# the action embedding's share of a clip's metadata vector; chosen by ``python -m bench.fusion`` on the validation
# queries of eval/queries.jsonl at the shipped fusion setting (``action_shares`` in bench/results/fusion-synonyms.json:
# top-5 / top-1 97.3 / 94.5 %, the best of the sweep; 94.5 / 89.0 % at 0.5, 83.6 / 72.6 % without the action)
ACTION_SHARE = 0.8
# the same for a clip without words of its own, whose action is what the kinematic captioner says of its body in
# MOTION_CAPTIONS sentences; chosen by ``python -m bench.fusion --no-words`` (``action_shares`` in
# bench/results/fusion-no-words-captions.json: validation top-5 / top-1 79.5 / 56.2 %, 74.0 / 45.2 % without it)
MOTION_SHARE = 0.8
MOTION_CAPTIONS = 8

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
    its body does (the first of :func:`motion_captions`). Chosen by ``python -m bench.fusion``: on a library of
    numbered takes (``--no-words``, bench/results/fusion-no-words.json) fusing it beats the learned side alone;
    on the labelled library adding it to every clip cost one validation query at top 5, so labelled clips keep
    their labels."""
    return metadata_text(m.description, label_words(m.content, m.style), m.words, " ".join(m.tags),
                         "" if says_its_motion(m.description, m.content) else motion)  # fmt: skip


def says_its_motion(description: str | None, content: str | None) -> bool:
    """Whether a clip's own words say what it does: a description or a content label. :func:`describe` adds
    the kinematic captioner's sentence to the others' metadata; the server fuses a library mostly of those
    at ``server.fusion.WORDLESS`` (``Library.wordless``)."""
    return bool(description or content)


def motion_captions(positions: np.ndarray, fps: float = 20.0, n: int = MOTION_CAPTIONS) -> tuple[str, ...]:
    """Up to ``n`` sentences of what the body does, descriptive first, then spoken (every phrasing the
    measured events license: "strolls" only for a slow walk); () when the motion is too short or degenerate.
    Without the clip's manner (hunched, head down, ...): with it, the wordless library's fused validation top-5
    fell from 79.5 to 76.7 % (``bench/results/fusion-no-words-manner.json``)."""
    try:
        measured = detect(positions, fps)
        description = Description(measured.facts, tuple(e for e in measured.events if e.kind != "manner"))
        return tuple(c.text for register, k in (("descriptive", n - n // 2), ("spoken", n // 2))
                     for c in generate(description, n=k, register=register, seed=0, split=None))  # fmt: skip
    except ValueError:
        return ()


def action_words(m: ClipMetadata, motion: Sequence[str] = ()) -> tuple[str, ...]:
    """A clip's action alone, without its style, description or names: for a content label the caption grammar
    knows, the label in words and every phrase and synonym the grammar has for it; for a clip whose own words
    do not say what it does (:func:`says_its_motion`), ``motion``, the kinematic captioner's sentences of its
    body (:func:`motion_captions`); () for any other clip (a label the grammar does not know, a description)."""
    if not m.content:
        return () if says_its_motion(m.description, m.content) else tuple(motion)
    try:
        return (label_words(m.content), *action_phrases(m.content), *synonyms(m.content))
    except CaptionError:  # a label of the library's own: its words are in the metadata string already, and alone
        return ()  # they would outweigh the rest of it ("take" over a take's "walk kick walk")


def action_vectors(encode: Callable[[list[str]], np.ndarray], words: Sequence[str]) -> tuple[np.ndarray, ...]:
    """The action embedding of :func:`action_words` and of its mirror (left and right swapped): the unit mean of
    ``encode`` (unit sentence embeddings of a list of strings) over the phrases."""
    vectors = encode([*words, *(mirrored(w) for w in words)])
    own, mirror = vectors[: len(words)].mean(axis=0), vectors[len(words) :].mean(axis=0)
    return tuple(v / max(float(np.linalg.norm(v)), 1e-12) for v in (own, mirror))


def blend(text: np.ndarray, action: np.ndarray, share: float = ACTION_SHARE) -> np.ndarray:
    """Unit rows of ``(1 - share) * text + share * action`` (both (N, dim) unit sentence embeddings)."""
    mixed = (1.0 - share) * text + share * action
    return (mixed / np.maximum(np.linalg.norm(mixed, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def metadata_vectors(encode: Callable[[list[str]], np.ndarray], text: str,
                     action: tuple[np.ndarray, ...] | None = None, share: float = ACTION_SHARE,
                     ) -> tuple[np.ndarray, ...]:  # fmt: skip
    """The metadata vectors of a clip and of its mirror: ``encode`` of ``text`` and of its mirror, blended with
    ``action`` (:func:`action_vectors`, own and mirror) at ``share`` when there is one."""
    vectors = encode([text, mirrored(text)])
    mixed = blend(vectors, np.stack(action), share) if action is not None else vectors
    return mixed[0], mixed[1]


def metadata_text(*pieces: str) -> str:
    """One metadata string from its pieces (caption, labels, names, description, tags), blanks left out."""
    return ". ".join(p.strip().rstrip(".") for p in pieces if p and p.strip())


def mirrored(text: str) -> str:
    """The metadata of a mirrored copy: left and right swapped as whole words."""
    return _SIDE_WORD.sub(lambda m: _SIDES[m.group(0)], text)
