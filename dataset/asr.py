"""Scoring the offline ASR (``preprocess.asr``, Whisper tiny.en): word accuracy of a transcript against its text.

Used to filter voices for intelligibility and to report the word accuracy of the synthetic test speech.
"""

from __future__ import annotations

import re

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
