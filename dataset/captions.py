"""The caption mix of one dataset item: label, kinematic and combined captions, and held-out kinematic queries.

Per register, in this order (so ``texts(register)[0]`` is a label caption, as before kinds existed):

    label              LABEL_PER_REGISTER from the label grammar (``preprocess.captions``), drawn per item id
    kinematic          up to KINEMATIC_PER_REGISTER of what the body measurably does (``motion.kinematic`` on the
                       item's joints, training phrasings)
    combined           up to COMBINED_PER_REGISTER label and kinematic phrases in one sentence: first (up to half)
                       a label caption joined with a predicate of an event the label does not already state ("an
                       old person bows, and turns left about 90 degrees"), then the style's subject or spoken
                       phrase with any measured predicate ("an old person walks forward slowly, then turns left",
                       "walk forward slowly like you're elderly")
    kinematic-heldout  up to HELDOUT_PER_REGISTER kinematic captions in held-out phrasings, for test and unseen
                       items only: evaluation queries no training caption is phrased like

Kinematic draws are seeded by the *source clip*, not the item, so a mirrored item's kinematic captions are its
original's with left and right swapped (its joints are mirrored; the phrasing choices agree). A clip the
kinematic captioner cannot describe (a ``ValueError``: too short, not finite) keeps its label captions only.
"""

from __future__ import annotations

import random
import zlib

import numpy as np

from dataset.annotations import COMBINED, KINEMATIC, KINEMATIC_HELDOUT, LABEL, Annotation
from motion import kinematic
from preprocess.captions import REGISTERS, generate_captions, grammar

LABEL_PER_REGISTER = 8  # drawn per item from every caption the grammar has for its labels
KINEMATIC_PER_REGISTER = 4
COMBINED_PER_REGISTER = 4
HELDOUT_PER_REGISTER = 2

# Event kinds (motion.kinematic) a label caption of a content already states, by content prefix (sides stripped
# by the prefix): a combined caption adds only other events. Standing still or in place adds nothing.
_STATED = (
    ("walk-turn", ("locomotion", "turn", "spin")),
    ("walk", ("locomotion",)),
    ("run", ("locomotion",)),
    ("dash", ("locomotion",)),
    ("bow", ("bow", "bend")),
    ("bye", ("wave", "arm_raise")),
    ("wave", ("wave", "arm_raise")),
    ("raise-up", ("arm_raise",)),
    ("guide", ("point", "arm_raise")),
    ("call", ("beckon", "wave", "arm_raise")),
    ("punch", ("punch",)),
    ("kick", ("kick", "leg_raise")),
    ("slash", ("slash",)),
    ("dance", ("dance",)),
)
_UNINFORMATIVE = ("still", "in_place")


def stated_kinds(content: str) -> tuple[str, ...]:
    """Event kinds a label caption of ``content`` already says, plus those that add nothing to it."""
    stated = next((kinds for prefix, kinds in _STATED if content.startswith(prefix)), ())
    return stated + _UNINFORMATIVE


def _seed(*keys: object) -> int:
    return zlib.crc32(":".join(map(str, keys)).encode())


def combine(label: str, predicate: str, register: str) -> str:
    """A label caption and a kinematic predicate of the same clip in one sentence ("..., and turns left")."""
    end = "?" if label.endswith("?") else "." if label.endswith(".") else ""
    body = label[: len(label) - len(end)]
    joiner = ", and also " if register == "spoken" and body.startswith(("can", "could")) else ", and "
    return f"{body}{joiner}{predicate}{end}"


def styled(predicate: str, style: str, register: str, rng: random.Random) -> str:
    """A kinematic predicate said with the style's subject (descriptive) or spoken phrase (spoken)."""
    phrases = grammar()["styles"][style]
    if register == "spoken":
        return predicate + rng.choice(phrases["spoken"])
    return f"{rng.choice(phrases['subjects'])} {predicate}"


def _combined(description, content: str, style: str, labels: list[str], register: str, seed: int, clip: str,
              item: str) -> list[str]:  # fmt: skip
    joined = kinematic.verb_phrases(description, COMBINED_PER_REGISTER // 2, register,
                                    _seed(seed, clip, register, COMBINED), exclude=stated_kinds(content))  # fmt: skip
    out = [combine(labels[k % len(labels)], p.text, register) for k, p in enumerate(joined)]
    rest = kinematic.verb_phrases(description, COMBINED_PER_REGISTER - len(out), register,
                                  _seed(seed, clip, register, "styled"), exclude=_UNINFORMATIVE)  # fmt: skip
    rng = random.Random(_seed(seed, item, register, "style"))
    return list(dict.fromkeys(out + [styled(p.text, style, register, rng) for p in rest]))


def item_captions(
    content: str, style: str, joints: np.ndarray, item: str, clip: str, seed: int = 0, heldout: bool = False
) -> list[Annotation]:
    """Every caption of one item in both registers (see the module docstring); ``clip`` is its source clip id,
    ``joints`` its canonical (F, 22, 3) positions at 20 fps."""
    try:
        description = kinematic.detect(joints, 20.0)
    except ValueError:
        description = None
    out = []
    for register in REGISTERS:
        labels = generate_captions(content, style, register, LABEL_PER_REGISTER, seed, key=item)
        out += [Annotation(t, register, LABEL) for t in labels]
        if description is None:
            continue
        kin = kinematic.generate(description, KINEMATIC_PER_REGISTER, register, _seed(seed, clip, register, KINEMATIC))
        out += [Annotation(c.text, register, KINEMATIC) for c in kin]
        combined = _combined(description, content, style, labels, register, seed, clip, item)
        out += [Annotation(t, register, COMBINED) for t in combined]
        if heldout:
            held = kinematic.generate(description, HELDOUT_PER_REGISTER, register,
                                      _seed(seed, clip, register, KINEMATIC_HELDOUT), split="heldout")  # fmt: skip
            out += [Annotation(c.text, register, KINEMATIC_HELDOUT) for c in held]
    return out
