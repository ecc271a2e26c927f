"""Captions from labels: a small grammar turns (content, style) into sentences.

Two registers mirror the paper's caption sets: ``descriptive`` is third
person ("a tired person walks forward", the *Original* set) and ``spoken`` is
imperative or conversational ("can you walk forward like you're exhausted?",
the *Oral* set). The grammar lives in ``captions.json``: templates per
register, several actions per content (imperative, third person and gerund
forms), and per style the subjects, manner phrases, front adverbs and spoken
phrases that express it. Every expansion of the grammar is a candidate;
:func:`generate_captions` draws ``n`` distinct ones with a seed, so a caption
set is deterministic and the same for the same labels.

Mirrored clips are captioned from their mirrored label (``wave-left-hand``
becomes ``wave-right-hand``, see ``motion.mirror.mirror_label``).
"""

from __future__ import annotations

import itertools
import json
import random
from functools import cache
from pathlib import Path

REGISTERS = ("descriptive", "spoken")
GRAMMAR_PATH = Path(__file__).with_name("captions.json")


class CaptionError(KeyError):
    """A label or register the grammar does not know."""

    def __str__(self) -> str:
        return str(self.args[0])


@cache
def grammar() -> dict:
    return json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))


def contents() -> list[str]:
    return sorted(grammar()["contents"])


def styles() -> list[str]:
    return sorted(grammar()["styles"])


def _content(content: str) -> dict:
    """The grammar's entry for a content label; a ``CaptionError`` for a content it does not know."""
    entry = grammar()["contents"].get(content)
    if entry is None:
        raise CaptionError(f"unknown content label {content!r}")
    return entry


def action_phrases(content: str) -> tuple[str, ...]:
    """Every way the grammar says ``content``'s action, third person ("call" -> "calls someone over", "beckons
    someone to come over", ...); a ``CaptionError`` for a content it does not know."""
    return tuple(forms[1] for forms in _content(content)["actions"])


def synonyms(content: str) -> tuple[str, ...]:
    """Other words people search for ``content``'s action with ("walk" -> "stroll", "amble", ...): never in a
    caption (they carry no style and some no direction), folded into a clip's action vector by the server
    (``server.metadata.action_words``); a ``CaptionError`` for a content the grammar does not know."""
    return tuple(_content(content)["synonyms"])


@cache
def all_captions(content: str, style: str, register: str) -> tuple[str, ...]:
    """Every caption the grammar can say for these labels, sorted."""
    g = grammar()
    if register not in REGISTERS:
        raise CaptionError(f"unknown register {register!r}; registers: {', '.join(REGISTERS)}")
    if content not in g["contents"]:
        raise CaptionError(f"no captions for content {content!r}; known: {', '.join(contents())}")
    if style not in g["styles"]:
        raise CaptionError(f"no captions for style {style!r}; known: {', '.join(styles())}")
    actions = g["contents"][content]["actions"]
    s = g["styles"][style]
    slots = {
        "imperative": [a[0] for a in actions],
        "third": [a[1] for a in actions],
        "gerund": [a[2] for a in actions],
        "subject": s["subjects"],
        "neutral": g["neutral_subjects"],
        "manner": s["manners"],
        "front": s["fronts"],
        "spoken": s["spoken"],
    }
    out = set()
    for template in g["templates"][register]:
        names = [name for name in slots if "{" + name + "}" in template]
        for values in itertools.product(*(slots[name] for name in names)):
            fills = dict(zip(names, values, strict=True))
            if style != "normal" and "neutral" in fills and not (fills.get("manner") or fills.get("front")):
                continue  # a neutral subject needs a manner phrase to say the style
            out.add(template.format(**fills))
    return tuple(sorted(out))


def generate_captions(content: str, style: str, register: str, n: int = 8, seed: int = 0, key: str = "") -> list[str]:
    """``n`` distinct captions for these labels in one register, deterministic by ``seed`` and ``key``.

    ``key`` (e.g. an item id) gives each item its own draw from the same labels' captions.
    """
    pool = all_captions(content, style, register)
    if n > len(pool):
        raise CaptionError(f"asked for {n} captions of ({content}, {style}, {register}); the grammar has {len(pool)}")
    return random.Random(f"{seed}:{key}:{content}:{style}:{register}").sample(pool, n)
