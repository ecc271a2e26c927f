"""The caption grammar, checked exhaustively over every label pair and every expansion.

The rules below are written independently of captions.json: a caption must
state its side (left / right / both) and no other, its direction, its action
family and its style, and nothing that belongs to another label.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from conftest import DEMO

from motion.mirror import mirror_label
from motion.sources import _label_names
from preprocess.captions import (
    REGISTERS,
    CaptionError,
    all_captions,
    contents,
    generate_captions,
    grammar,
    styles,
    synonyms,
)

# Words that only a content family may use: (contents allowed, word pattern).
FAMILY_WORDS = [
    ({"walk", "walk-back", "walk-left", "walk-right", "walk-turn-left", "walk-turn-right"}, r"walk\w*|steps?|stepping"),
    ({"run", "dash"}, r"run\w*|jog\w*|sprint\w*|dash\w*"),
    ({"walk-back"}, r"back\w*"),
    ({"walk-turn-left", "walk-turn-right"}, r"turn\w*|curve"),
    ({"bow"}, r"bow|bows|bowing"),
    ({"bye", "byebye"}, r"goodbye|bye|bye-bye"),
    ({"bye", "byebye", "wave-left-hand", "wave-right-hand", "wave-both-hands"}, r"wav\w+"),
    ({"raise-up-left-hand", "raise-up-right-hand", "raise-up-both-hands"}, r"rais\w+|lift\w*|up"),
    ({"punch"}, r"punch\w*|fist"),
    ({"kick"}, r"kick\w*"),
    ({"slash"}, r"slash\w*|sword"),
    ({"dance-long", "dance-short"}, r"danc\w*"),
    ({"guide"}, r"guid\w*|the way"),
    ({"call"}, r"call|calls|calling|beckon\w*|come over"),
    ({"respond"}, r"respond\w*|answer\w*|repl\w+"),
]
NOT_FORWARD = {"walk-back", "walk-left", "walk-right"}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z'-]+", text.lower()))


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(rf"\b(?:{pattern})\b")


def has(text: str, pattern: str) -> bool:
    return _compiled(pattern).search(text.lower()) is not None


def says(text: str, cue: str) -> bool:
    """Whether ``text`` contains the phrase ``cue`` as whole words."""
    return cue in text and has(text, re.escape(cue))


def side_of(content: str) -> str | None:
    return next((s for s in ("left", "right", "both") if s in content.split("-")), None)


def all_label_pairs() -> list[tuple[str, str]]:
    """Every (content, style) the two label files can produce, whether or not a clip has it."""
    cfg = DEMO / "cfg"
    names = {kind: set() for kind in ("content", "style")}
    for folder in cfg.iterdir():
        for kind in names:
            names[kind].update(_label_names(folder / f"{kind}_label.txt"))
    return [(c, s) for c in sorted(names["content"]) for s in sorted(names["style"])]


def test_grammar_covers_every_label_and_its_mirror():
    pairs = all_label_pairs()
    assert len({c for c, _ in pairs}) == 25 and len({s for _, s in pairs}) == 19
    assert {c for c, _ in pairs} | {mirror_label(c) for c, _ in pairs} == set(contents())
    assert {s for _, s in pairs} == set(styles())


@pytest.mark.parametrize("register", REGISTERS)
def test_no_caption_contradicts_its_labels(register):
    style_cues = {s: grammar()["styles"][s]["cues"] for s in styles()}
    checked = 0
    for content, style in all_label_pairs():
        for text in all_captions(content, style, register):
            where = f"{content}/{style}/{register}: {text!r}"
            side = side_of(content)
            for word in ("left", "right", "both"):
                assert has(text, word + r"\w*") == (word == side), where
            if content in NOT_FORWARD:
                assert not has(text, "forward|ahead"), where
            for allowed, pattern in FAMILY_WORDS:
                if content in allowed:
                    continue
                assert not has(text, pattern), f"{where} uses a word of {sorted(allowed)}"
            assert any(has(text, p) for allowed, p in FAMILY_WORDS if content in allowed), f"{where}: no action word"
            own = set(style_cues[style])
            if style != "normal":
                assert any(says(text, c) for c in own), f"{where}: the style is not said"
            for other, cues in style_cues.items():
                foreign = [c for c in cues if c not in own and says(text, c)]
                assert not foreign, f"{where} says {foreign} of style {other}"
            checked += 1
    assert checked > 25 * 19 * 90


def test_synonyms_keep_to_their_labels_side():
    """The search synonyms (never captions) say no side their label does not, and a word two labels share
    belongs to one family (the waves' "hello", the hand raises' "volunteer")."""
    owners: dict[str, set[str]] = {}
    for content in contents():
        words_of = synonyms(content)
        assert len(words_of) >= 6 and len(set(words_of)) == len(words_of), content
        side = side_of(content)
        for word in words_of:
            assert word == word.strip().lower(), (content, word)
            for name in ("left", "right", "both"):
                assert not has(word, name + r"\w*") or name == side, (content, word)
            if content in NOT_FORWARD:
                assert not has(word, "forward|ahead"), (content, word)
            owners.setdefault(word, set()).add(content)
    for word, shared in owners.items():
        assert (
            len(shared) == 1
            or any(shared <= allowed for allowed, _ in FAMILY_WORDS)
            or all(c.startswith("raise-up") for c in shared)
        ), (word, shared)
    with pytest.raises(CaptionError, match="fly"):
        synonyms("fly")


def test_at_least_eight_distinct_captions_per_label_pair_and_register():
    for content, style in all_label_pairs():
        for register in REGISTERS:
            captions = generate_captions(content, style, register, n=8, seed=0)
            assert len(set(captions)) == 8, (content, style, register)


def test_registers_differ_in_person():
    spoken = all_captions("wave-left-hand", "exhausted", "spoken")
    descriptive = all_captions("wave-left-hand", "exhausted", "descriptive")
    assert all("your" in t and "their" not in t for t in spoken)
    assert all("your" not in t for t in descriptive)
    assert any(t.endswith("?") for t in spoken)


def test_generation_is_deterministic_by_seed():
    a = generate_captions("run", "happy", "spoken", n=8, seed=3)
    assert a == generate_captions("run", "happy", "spoken", n=8, seed=3)
    assert a != generate_captions("run", "happy", "spoken", n=8, seed=4)
    assert generate_captions("run", "happy", "spoken", n=8) != generate_captions("run", "sad", "spoken", n=8)


def test_unknown_labels_are_clear_errors():
    with pytest.raises(CaptionError, match="content 'fly'"):
        generate_captions("fly", "happy", "spoken")
    with pytest.raises(CaptionError, match="style 'sleepy'"):
        generate_captions("walk", "sleepy", "spoken")
    with pytest.raises(CaptionError, match="register"):
        generate_captions("walk", "happy", "shouted")
    with pytest.raises(CaptionError, match="has"):
        generate_captions("walk", "happy", "spoken", n=10_000)


def test_distinct_vocabulary_is_rich():
    vocab = set().union(*(words(t) for c in contents() for s in styles() for t in all_captions(c, s, "spoken")))
    assert len(vocab) > 180
