"""The four ONNX graphs as PyTorch modules (frozen backbone and trained head together) and their export.

Each graph is the training pipeline end to end: the backbone of ``model.backbones`` on
preprocessed input, then ``MotionSearchModel.encode``, returning the unit tokens, the
per-token weights and, where lengths vary, the token mask:

* text:   input_ids, attention_mask (B, L) int64 -> all-MiniLM-L6-v2 -> text head; also the backbone's
  sentence embedding of the same pass (as the sentence graph computes it), so that a query's metadata
  search costs no second MiniLM run;
* speech: log_mel (B, 80, F) float32, n_frames (B,) int64 -> Whisper tiny.en encoder (keys past
  each item's end masked) -> states averaged over ``SPEECH_POOL`` frames -> speech head;
* video:  frames (B, T, 3, H, W) float32 (``preprocess.frames``) -> EfficientNet-Lite0 pooled
  features -> video head;
* motion: features (B, T, 263) normalised, frame_mask (B, T) bool -> motion encoder;
* sentence: input_ids, attention_mask (B, L) int64 -> all-MiniLM-L6-v2 -> token states averaged over the
  mask -> L2-normalised (B, 384): the frozen sentence embedding (as sentence-transformers computes it) that
  the server compares a query with each motion's metadata (names, descriptions, tags, caption) by.

Batch and length axes are dynamic (``torch.onnx.export(..., dynamo=True)``). The motion
encoder's frame patching and time pooling branch on whether a length is odd, which
``torch.export`` cannot keep symbolic; :func:`shape_polymorphic_motion` swaps those two
helpers, for the export only, for equivalents written with gathers instead (same values:
the parity check and a test compare them).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from torch.export import Dim
from torch.nn import functional as F

import model.modeling as modeling
from exporter.bundle import GraphSpec, Preprocessing, TensorSpec
from model.backbones import SPEECH_POOL, SpeechBackbone, TextBackbone, VideoBackbone
from model.modeling import MotionSearchModel

OUTPUTS_WITH_MASK = ("tokens", "token_mask", "weights")
TEXT_OUTPUTS = (*OUTPUTS_WITH_MASK, "sentence_embedding")
OUTPUTS = ("tokens", "weights")


@dataclass
class Backbones:
    """The frozen backbones of ``model.backbones`` (called as the training cache calls them: the PyTorch reference)."""

    text: TextBackbone | None = None
    speech: SpeechBackbone | None = None
    video: VideoBackbone | None = None

    @classmethod
    def load(cls, modalities: list[str], text_path: Path | None, video_frames: int, video_size: int) -> Backbones:
        return cls(
            text=TextBackbone(text_path) if "text" in modalities else None,
            speech=SpeechBackbone() if "speech" in modalities else None,
            video=VideoBackbone(video_frames, video_size) if "video" in modalities else None,
        )


def _groups(n: torch.Tensor | int, size: int, device: torch.device) -> torch.Tensor:
    """(n, size) indices of n consecutive groups of ``size``: [[0, 1, ..], [size, size + 1, ..], ...]."""
    return torch.arange(n, device=device)[:, None] * size + torch.arange(size, device=device)[None]


def patch_time(x: torch.Tensor, mask: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.modeling._patch_time`` by gathering: (B, T, F) -> (B, ceil(T/patch), F, patch) and its mask."""
    idx = _groups((x.shape[1] + patch - 1) // patch, patch, x.device)
    grouped = F.pad(x, (0, 0, 0, patch - 1))[:, idx]  # (B, n, patch, F)
    return grouped.transpose(2, 3), F.pad(mask, (0, patch - 1), value=False)[:, idx].any(-1)


def pool_time(h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.modeling._pool_time`` without the odd-length branch: (B, P, T, D) -> (B, P, ceil(T/2), D)."""
    idx = _groups((h.shape[2] + 1) // 2, 2, h.device)
    pairs = F.pad(mask, (0, 1), value=False)[:, idx]  # (B, n, 2)
    m = pairs[:, None, :, :, None].to(h.dtype)
    pooled = (F.pad(h, (0, 0, 0, 1))[:, :, idx] * m).sum(3) / m.sum(3).clamp(min=1.0)
    return pooled, pairs.any(-1)


@contextlib.contextmanager
def shape_polymorphic_motion() -> Iterator[None]:
    """Inside: the motion encoder uses :func:`patch_time` and :func:`pool_time` (for ``torch.export``)."""
    saved = modeling._patch_time, modeling._pool_time
    modeling._patch_time, modeling._pool_time = patch_time, pool_time
    try:
        yield
    finally:
        modeling._patch_time, modeling._pool_time = saved


def pool_states(states: torch.Tensor, lengths: torch.Tensor, pool: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Batched ``model.backbones.SpeechBackbone`` pooling: (B, S, D) states of which ``lengths`` (B,) are real ->
    averages of ``pool`` consecutive states (B, ceil(S/pool), D) and their mask; an incomplete last group is
    dropped, except that an utterance shorter than one group keeps its single group."""
    idx = _groups((states.shape[1] + pool - 1) // pool, pool, states.device)  # (K, pool)
    member = (idx[None] < lengths[:, None, None]).to(states.dtype)[..., None]  # (B, K, pool, 1)
    grouped = F.pad(states, (0, 0, 0, pool - 1))[:, idx]  # (B, K, pool, D)
    pooled = (grouped * member).sum(2) / member.sum(2).clamp(min=1.0)
    valid = torch.arange(idx.shape[0], device=states.device)[None] < (lengths // pool).clamp(min=1)[:, None]
    return pooled, valid


class TextGraph(nn.Module):
    def __init__(self, backbone: nn.Module, model: MotionSearchModel) -> None:
        super().__init__()
        self.backbone, self.model = backbone, model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        tokens = self.model.encode("text", states, attention_mask.bool())
        return tokens.x, tokens.mask, tokens.weights, sentence_embedding(states, attention_mask)


class SpeechGraph(nn.Module):
    def __init__(self, whisper: nn.Module, model: MotionSearchModel, pool: int = SPEECH_POOL) -> None:
        super().__init__()
        self.whisper, self.model, self.pool = whisper, model, pool

    def forward(self, log_mel: torch.Tensor, n_frames: torch.Tensor):
        states = self.whisper(log_mel, n_frames)
        pooled, mask = pool_states(states, (n_frames + 1) // 2, self.pool)
        tokens = self.model.encode("speech", pooled, mask)
        return tokens.x, tokens.weights


class VideoGraph(nn.Module):
    def __init__(self, net: nn.Module, model: MotionSearchModel) -> None:
        super().__init__()
        self.net, self.model = net, model

    def forward(self, frames: torch.Tensor):
        b, t = frames.shape[:2]
        features = self.net.extract_features(frames.flatten(0, 1)).mean((2, 3)).reshape(b, t, -1)
        mask = torch.ones(features.shape[:2], dtype=torch.bool, device=features.device)
        tokens = self.model.encode("video", features, mask)
        return tokens.x, tokens.weights


class MotionGraph(nn.Module):
    def __init__(self, model: MotionSearchModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor):
        tokens = self.model.encode("motion", features, frame_mask)
        return tokens.x, tokens.mask, tokens.weights


class SentenceGraph(nn.Module):
    """The frozen text backbone's sentence embedding: masked mean of the token states, L2-normalised."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return sentence_embedding(states, attention_mask)


def sentence_embedding(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L, D) token states and their (B, L) mask -> (B, D) unit vectors of the masked mean."""
    mask = attention_mask.to(states.dtype)[..., None]
    mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return F.normalize(mean, dim=-1)


@dataclass
class GraphExport:
    """What ``torch.onnx.export`` needs for one graph."""

    modality: str
    module: nn.Module
    args: tuple[torch.Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_shapes: dict[str, dict[int, Dim]]

    @property
    def file(self) -> str:
        return f"{self.modality}.onnx"


def graph_exports(model: MotionSearchModel, backbones: Backbones, prep: Preprocessing,
                  pose: MotionSearchModel | None = None) -> dict[str, GraphExport]:  # fmt: skip
    """The graphs of the model's modalities, with example inputs (batch 2, unequal lengths) and dynamic axes, and
    ``pose``'s motion encoder as the ``pose`` graph when given."""
    from preprocess.text import tokenize

    cfg = model.cfg
    batch = Dim("batch", min=1)
    out: dict[str, GraphExport] = {}
    if "text" in cfg.modalities:
        tokens = tokenize(
            ["a person walks forward", "someone waves with the left hand, then turns around"],
            backbones.text.path,
            prep.text.max_tokens,
        )
        length = Dim("tokens", min=1, max=prep.text.max_tokens)
        out["text"] = GraphExport(
            "text",
            TextGraph(backbones.text.model, model).eval(),
            (torch.from_numpy(tokens.ids), torch.from_numpy(tokens.mask)),
            ("input_ids", "attention_mask"),
            TEXT_OUTPUTS,
            {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
        )
        sentences = tokenize(
            ["a person walks forward", "dataset-1 kick angry: someone kicks angrily, then steps back"],
            backbones.text.path,
            prep.text.sentence_max_tokens,
        )
        length = Dim("sentence_tokens", min=1, max=prep.text.sentence_max_tokens)
        out["sentence"] = GraphExport(
            "sentence",
            SentenceGraph(backbones.text.model).eval(),
            (torch.from_numpy(sentences.ids), torch.from_numpy(sentences.mask)),
            ("input_ids", "attention_mask"),
            ("sentence_embedding",),
            {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}},
        )
    if "speech" in cfg.modalities:
        whisper = backbones.speech.encoder
        # the encoder's position table bounds the frames; the CLS ablation's frame table bounds the pooled states
        most = 2 * whisper.positions.shape[0]
        if cfg.speech_compression == "cls":
            most = min(most, 2 * SPEECH_POOL * cfg.max_speech_tokens)
        mel_frames = Dim("mel_frames", min=2, max=most)
        n_frames = torch.tensor([317, 250])
        mel = torch.randn(2, prep.speech.n_mels, 317) * (torch.arange(317) < n_frames[:, None, None])
        out["speech"] = GraphExport(
            "speech",
            SpeechGraph(whisper, model, prep.speech.pooling).eval(),
            (mel, n_frames),
            ("log_mel", "n_frames"),
            OUTPUTS,
            {"log_mel": {0: batch, 2: mel_frames}, "n_frames": {0: batch}},
        )
    if "video" in cfg.modalities:
        frames = Dim("frames", min=1, max=cfg.video_frames)
        example = torch.randn(2, prep.video.frames, 3, prep.video.size, prep.video.size)
        out["video"] = GraphExport(
            "video",
            VideoGraph(backbones.video.model, model).eval(),
            (example,),
            ("frames",),
            OUTPUTS,
            {"frames": {0: batch, 1: frames}},
        )
    frames = Dim("frames", min=1, max=cfg.max_frames)
    example = torch.randn(2, 37, cfg.motion_features)
    mask = torch.arange(37)[None] < torch.tensor([[37], [21]])
    for name, owner in (("motion", model), ("pose", pose)):
        if owner is not None:
            out[name] = GraphExport(
                name,
                MotionGraph(owner).eval(),
                (example, mask),
                ("features", "frame_mask"),
                OUTPUTS_WITH_MASK,
                {"features": {0: batch, 1: frames}, "frame_mask": {0: batch, 1: frames}},
            )
    return out


def export_graph(graph: GraphExport, path: Path) -> GraphSpec:
    """Export one graph to a self-contained ONNX file (weights inside) with the dynamo exporter; its inputs and
    outputs. A ``ValueError`` when an axis meant to be dynamic came out fixed (the exporter falls back to the
    example's shapes when ``torch.export`` cannot keep one symbolic)."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), shape_polymorphic_motion(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.module,
            graph.args,
            str(path),
            dynamo=True,
            external_data=False,
            verbose=False,
            input_names=list(graph.input_names),
            output_names=list(graph.output_names),
            dynamic_shapes=graph.dynamic_shapes,
        )
    spec, _ = describe(path)
    shapes = {t.name: t.shape for t in spec.inputs}
    fixed = [
        f"{name} axis {axis} ({dim.__name__})"
        for name, axes in graph.dynamic_shapes.items()
        for axis, dim in axes.items()
        if isinstance(shapes[name][axis], int)
    ]
    if fixed:
        path.unlink()
        raise ValueError(
            f"the {graph.modality} graph could not keep {', '.join(fixed)} dynamic: torch.export "
            f"specialised it to the example input: this model configuration is not exportable"
        )
    return spec


def _dtype(elem_type: int) -> str:
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name


def describe(path: Path) -> tuple[GraphSpec, int]:
    """The exact inputs and outputs (names, element types, shapes with named dynamic axes) of an ONNX file,
    and its opset."""
    proto = onnx.load(str(path), load_external_data=False)

    def specs(values) -> tuple[TensorSpec, ...]:
        return tuple(
            TensorSpec(
                v.name,
                _dtype(v.type.tensor_type.elem_type),
                tuple(d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim),
            )
            for v in values
        )

    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    return GraphSpec(Path(path).name, specs(proto.graph.input), specs(proto.graph.output)), opset
