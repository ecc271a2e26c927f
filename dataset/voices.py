"""The voice catalogue: which synthetic voices exist and which side of the speaker split each is on.

``voices.json`` lists every voice with its engine, the engine's own arguments
(``voice``: espeak-ng voice name, flite/Festival/Pico voice, or Piper
``package:model.onnx``; ``f0``: flite's base pitch), the *speaker* behind it,
its split side and notes.

The split is by speaker, not by voice. The rule:

* A speaker is the recorded (or neural) person behind a voice. MBROLA's us1
  reached through espeak-ng or through Festival is one speaker, and so are
  flite's and Festival's ``kal``; such renderings share a speaker id and so
  always land on the same side. An espeak-ng variant family (``+m3``,
  ``+f2`` ...) is one speaker across all accents.
* Test speakers are two whole engines (SVOX Pico en-US and en-GB, Piper joe)
  plus two speakers whose engines training also uses but who are never heard
  in training: Festival ``rab`` and MBROLA ``en1``. Every espeak-ng variant
  family is a training voice (none is held out).
* Training and validation items (``voices_for("train"|"val")``) draw from the
  enabled training voices; test and unseen-action items
  (``voices_for("test"|"unseen")``) only from the enabled test voices.

Voices are filtered for intelligibility: ``python -m dataset.voice_scores``
synthesises four fixed motion sentences with every voice at neutral prosody,
transcribes them with the offline ASR (``preprocess.asr``), and writes each
voice's mean word accuracy and an ``enabled`` flag (accuracy >=
``min_word_accuracy``) back into voices.json, and the full table with the
transcripts into ``voice_scores.json``. Disabled voices stay in the catalogue
with their score.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE = Path(__file__).with_name("voices.json")
TRAINING_SPLITS = ("train", "val")
TEST_SPLITS = ("test", "unseen")


@dataclass(frozen=True)
class Voice:
    id: str
    engine: str  # espeak-ng, flite, festival, pico or piper
    voice: str  # the engine's own name for it
    speaker: str
    split: str  # "train" or "test"
    accent: str
    sex: str
    enabled: bool = True
    word_accuracy: float | None = None
    f0: float | None = None  # flite: the voice's mean pitch in Hz, scaled by the prosody
    notes: str = ""


@cache
def read_catalogue() -> dict:
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


def load_voices(include_disabled: bool = False) -> list[Voice]:
    voices = [Voice(**v) for v in read_catalogue()["voices"]]
    return voices if include_disabled else [v for v in voices if v.enabled]


def voice_by_id(voice_id: str) -> Voice:
    for v in load_voices(include_disabled=True):
        if v.id == voice_id:
            return v
    raise KeyError(f"unknown voice {voice_id!r}; see {CATALOGUE}")


def voices_for(split: str) -> list[Voice]:
    """The enabled voices an item of ``split`` may be spoken with."""
    if split in TRAINING_SPLITS:
        side = "train"
    elif split in TEST_SPLITS:
        side = "test"
    else:
        raise ValueError(f"unknown split {split!r}")
    return [v for v in load_voices() if v.split == side]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset.voices", description="list the voices")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the catalogue, a line per voice")
    parser.parse_args(argv)
    for v in load_voices(include_disabled=True):
        state = "on " if v.enabled else "off"
        print(f"{state} {v.split:<5} {v.id:<28} {v.engine:<9} speaker={v.speaker:<12} acc={v.word_accuracy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
