"""The motionsearch model, in one file: four encoders into one token space, the paper's
sequence-level similarity (Eq. 8), the bidirectional KL contrastive loss and masked motion
reconstruction (arXiv 2507.23188, §III).

Every encoder returns :class:`Tokens`: L2-normalised token vectors, a validity mask and
per-token weights (a linear layer, softmax over the valid tokens).

* Motion: per-body-part linear embeddings (8 parts, ``motion/body_parts.json``), then
  stages of temporal attention (within a part) and spatial attention (across parts at one
  time step), temporal average pooling after every ``pool_every`` layers; the tokens are
  parts x pooled time.
* Text: frozen backbone token states (cached) -> linear -> transformer.
* Speech: frozen Whisper states (cached) -> a compression module to ``speech_tokens``
  tokens (``memory``: a learned key/value memory queried once per audio segment, the
  paper's memory-retrieval module; ablations ``avgpool``, ``conv1d``, ``cls``) -> transformer.
* Video: frozen per-frame image features (cached) -> linear -> temporal transformer.

Alignment ``sequence`` uses Eq. 8 (``aggregation`` max, or mean for the ablation);
``global`` reduces every modality to one weighted-mean token and uses InfoNCE, the
TMR/LAVIMO-style baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common.config import reject_unknown

MODALITIES = ("motion", "text", "speech", "video")


@dataclass
class ModelConfig:
    dim: int = 256
    heads: int = 4
    dropout: float = 0.1
    feedforward: int = 4  # transformer feed-forward width, as a multiple of dim
    modalities: list[str] = field(default_factory=lambda: list(MODALITIES))
    # motion
    motion_features: int = 263
    body_parts: bool = True
    motion_layers: int = 4
    pool_every: int = 2
    max_frames: int = 196
    motion_patch: int = 1  # consecutive frames embedded together as one token per part (CPU configs: 4)
    # text
    text_in: int = 384
    text_layers: int = 2
    max_text_tokens: int = 32
    # speech
    speech_in: int = 384
    speech_compression: str = "memory"  # memory | avgpool | conv1d | cls
    speech_tokens: int = 8
    memory_slots: int = 64
    memory_init: float = 0.02  # std of the memory keys and values at initialisation
    speech_layers: int = 2
    max_speech_tokens: int = 500
    # video
    video_in: int = 1280
    video_layers: int = 6
    video_frames: int = 8
    # alignment and losses
    alignment: str = "sequence"  # sequence | global
    aggregation: str = "max"  # max | mean
    temperature: float = 0.07
    label_positives: bool = True  # items sharing (content, style) are positives, not negatives
    recon_weight: float = 0.1
    recon_mask_ratio: float = 0.5
    recon_layers: int = 2

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        reject_unknown(cls, data, "model config")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        choices = {
            "speech_compression": ("memory", "avgpool", "conv1d", "cls"),
            "alignment": ("sequence", "global"),
            "aggregation": ("max", "mean"),
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"model.{key} = {getattr(self, key)!r}; choose one of {', '.join(allowed)}")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or "motion" not in self.modalities or len(self.modalities) < 2:
            raise ValueError(f"model.modalities {self.modalities}: motion plus at least one of text, speech, video")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Tokens:
    """A batch of token sequences: x (B, L, D) unit vectors, mask (B, L) bool, weights (B, L) summing to 1."""

    x: torch.Tensor
    mask: torch.Tensor
    weights: torch.Tensor


def _layers(cfg: ModelConfig, n: int) -> nn.ModuleList:
    return nn.ModuleList(
        nn.TransformerEncoderLayer(
            cfg.dim, cfg.heads, cfg.feedforward * cfg.dim, cfg.dropout, batch_first=True, norm_first=True
        )
        for _ in range(n)
    )


def _run(layers: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    for layer in layers:
        x = layer(x, src_key_padding_mask=~mask)
    return x


class _Head(nn.Module):
    """Final norm, per-token weights (softmax over valid tokens) and L2 normalisation."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.weight = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tokens:
        x = self.norm(x)
        logits = self.weight(x).squeeze(-1).masked_fill(~mask, float("-inf"))
        return Tokens(F.normalize(x, dim=-1), mask, torch.softmax(logits, dim=-1))


def _pool_time(h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked average over pairs of time steps: (B, P, T, D), (B, T) -> (B, P, ceil(T/2), D), (B, ceil(T/2))."""
    if h.shape[2] % 2:
        h = F.pad(h, (0, 0, 0, 1))
        mask = F.pad(mask, (0, 1), value=False)
    b, p, t, d = h.shape
    m = mask.view(b, 1, t // 2, 2, 1).to(h.dtype)
    pooled = (h.view(b, p, t // 2, 2, d) * m).sum(3) / m.sum(3).clamp(min=1.0)
    return pooled, mask.view(b, t // 2, 2).any(-1)


def _patch_time(x: torch.Tensor, mask: torch.Tensor, patch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, F), (B, T) -> (B, ceil(T/patch), F, patch) groups of consecutive frames, and their mask."""
    missing = -x.shape[1] % patch
    x = F.pad(x, (0, 0, 0, missing))
    mask = F.pad(mask, (0, missing), value=False)
    b, t, f = x.shape
    x = x.view(b, t // patch, patch, f).transpose(2, 3)
    return x, mask.view(b, t // patch, patch).any(-1)


class MotionEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig, part_columns: list[np.ndarray]) -> None:
        super().__init__()
        parts = part_columns if cfg.body_parts else [np.arange(cfg.motion_features)]
        for i, cols in enumerate(parts):
            self.register_buffer(f"columns_{i}", torch.as_tensor(np.asarray(cols), dtype=torch.long), persistent=False)
        self.n_parts = len(parts)
        self.patch = cfg.motion_patch
        self.embed = nn.ModuleList(nn.Linear(len(cols) * self.patch, cfg.dim) for cols in parts)
        self.time_position = nn.Parameter(torch.randn(-(-cfg.max_frames // self.patch), cfg.dim) * 0.02)
        self.part_position = nn.Parameter(torch.randn(self.n_parts, cfg.dim) * 0.02)
        self.temporal = _layers(cfg, cfg.motion_layers)
        self.spatial = _layers(cfg, cfg.motion_layers) if self.n_parts > 1 else None
        self.pool_every = cfg.pool_every
        self.head = _Head(cfg.dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tokens:
        """x (B, T, 263) normalised features, mask (B, T) -> parts x pooled-time tokens."""
        x, mask = _patch_time(x, mask, self.patch)
        parts = [emb(x[..., getattr(self, f"columns_{i}"), :].flatten(-2)) for i, emb in enumerate(self.embed)]
        h = torch.stack(parts, dim=1)
        h = h + self.time_position[: h.shape[2]] + self.part_position[:, None]
        for i, temporal in enumerate(self.temporal):
            b, p, t, d = h.shape
            h = temporal(h.reshape(b * p, t, d), src_key_padding_mask=~mask.repeat_interleave(p, 0)).view(b, p, t, d)
            if self.spatial is not None:
                h = self.spatial[i](h.transpose(1, 2).reshape(b * t, p, d)).view(b, t, p, d).transpose(1, 2)
            if (i + 1) % self.pool_every == 0:
                h, mask = _pool_time(h, mask)
        b, p, t, d = h.shape
        return self.head(h.reshape(b, p * t, d), mask[:, None, :].expand(b, p, t).reshape(b, p * t))


class SequenceEncoder(nn.Module):
    """Frozen-backbone features (B, L, d_in) -> linear -> position -> transformer (text and video)."""

    def __init__(self, cfg: ModelConfig, d_in: int, n_layers: int, max_len: int) -> None:
        super().__init__()
        self.project = nn.Linear(d_in, cfg.dim)
        self.position = nn.Parameter(torch.randn(max_len, cfg.dim) * 0.02)
        self.layers = _layers(cfg, n_layers)
        self.head = _Head(cfg.dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tokens:
        h = self.project(x) + self.position[: x.shape[1]]
        return self.head(_run(self.layers, h, mask), mask)


def segment_means(x: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """(B, L, D) -> (B, k, D): the mean of each of k equal segments of every sequence's valid part."""
    lengths = mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)  # (B, 1)
    segment = torch.arange(k, device=x.device, dtype=x.dtype)[None]  # (1, k)
    start = torch.floor(segment * lengths / k)
    stop = torch.maximum(start + 1, torch.floor((segment + 1) * lengths / k))
    position = torch.arange(x.shape[1], device=x.device, dtype=x.dtype)[None, None]  # (1, 1, L)
    member = (position >= start[..., None]) & (position < stop[..., None]) & mask[:, None, :]
    weights = member.to(x.dtype)
    return weights @ x / weights.sum(-1, keepdim=True).clamp(min=1.0)


class SpeechEncoder(nn.Module):
    """Whisper states (B, L, 384) -> ``speech_tokens`` tokens through the configured compression."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.kind = cfg.speech_compression
        self.k = 1 if self.kind == "cls" else cfg.speech_tokens
        d = cfg.dim
        self.project = nn.Linear(cfg.speech_in, d)
        if self.kind == "memory":
            self.query = nn.Linear(d, d)
            self.memory_keys = nn.Parameter(torch.randn(cfg.memory_slots, d) * cfg.memory_init)
            self.memory_values = nn.Parameter(torch.randn(cfg.memory_slots, d) * cfg.memory_init)
        elif self.kind == "conv1d":
            self.conv = nn.Sequential(
                nn.Conv1d(d, d, 3, stride=2, padding=1), nn.GELU(), nn.Conv1d(d, d, 3, stride=2, padding=1), nn.GELU()
            )
        elif self.kind == "cls":
            self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
            self.frame_position = nn.Parameter(torch.randn(cfg.max_speech_tokens + 1, d) * 0.02)
            self.frame_layers = _layers(cfg, 1)
        self.position = nn.Parameter(torch.randn(self.k, d) * 0.02)
        self.layers = _layers(cfg, cfg.speech_layers)
        self.head = _Head(d)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> Tokens:
        h = self.project(x)
        if self.kind == "memory":
            q = self.query(segment_means(h, mask, self.k))
            attention = torch.softmax(q @ self.memory_keys.T / math.sqrt(h.shape[-1]), dim=-1)
            h = attention @ self.memory_values
        elif self.kind == "avgpool":
            h = segment_means(h, mask, self.k)
        elif self.kind == "conv1d":
            h = self.conv((h * mask[..., None]).transpose(1, 2)).transpose(1, 2)
            m = F.max_pool1d(F.max_pool1d(mask[:, None].float(), 3, 2, 1), 3, 2, 1)[:, 0] > 0
            h = segment_means(h, m, self.k)
        else:  # cls: one token attending over all frames
            seq = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1) + self.frame_position[: h.shape[1] + 1]
            seq_mask = F.pad(mask, (1, 0), value=True)
            h = _run(self.frame_layers, seq, seq_mask)[:, :1]
        out_mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        return self.head(_run(self.layers, h + self.position, out_mask), out_mask)


def pool_global(tokens: Tokens) -> Tokens:
    """One token per sequence: the weighted mean of its tokens, renormalised (the global-token baseline)."""
    x = F.normalize((tokens.x * tokens.weights[..., None]).sum(1, keepdim=True), dim=-1)
    ones = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    return Tokens(x, ones, ones.to(x.dtype))


def sequence_similarity(a: Tokens, b: Tokens, aggregation: str = "max", chunk: int = 64) -> torch.Tensor:
    """Eq. 8: (Na, Nb) similarities. For each token of one side, its best (or mean) match on the
    other side, weighted by that side's token weights; the two directions averaged."""
    rows = []
    for i in range(0, a.x.shape[0], chunk):
        ax, am, aw = a.x[i : i + chunk], a.mask[i : i + chunk], a.weights[i : i + chunk]
        dots = torch.einsum("ild,jmd->ijlm", ax, b.x)
        valid = am[:, None, :, None] & b.mask[None, :, None, :]
        if aggregation == "max":
            masked = dots.masked_fill(~valid, float("-inf"))
            a_to_b, b_to_a = masked.amax(3), masked.amax(2)
        else:
            v = valid.to(dots.dtype)
            zeroed = dots * v
            a_to_b = zeroed.sum(3) / v.sum(3).clamp(min=1)
            b_to_a = zeroed.sum(2) / v.sum(2).clamp(min=1)
        a_side = (a_to_b.masked_fill(~am[:, None, :], 0.0) * aw[:, None, :]).sum(-1)
        b_side = (b_to_a.masked_fill(~b.mask[None], 0.0) * b.weights[None]).sum(-1)
        rows.append(0.5 * (a_side + b_side))
    return torch.cat(rows)


def kl_contrastive(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Bidirectional KL between the softmax over logits and the normalised positive matrix (Eq. 5-9)."""
    target = positives.to(logits.dtype)
    row = F.kl_div(F.log_softmax(logits, 1), target / target.sum(1, keepdim=True), reduction="batchmean")
    col = F.kl_div(F.log_softmax(logits.T, 1), (target / target.sum(0, keepdim=True)).T, reduction="batchmean")
    return 0.5 * (row + col)


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE with the diagonal as the only positive (the global baseline's loss)."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


class Reconstructor(nn.Module):
    """Masked motion reconstruction from the motion's visible tokens and the other modalities' tokens."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.mask_token = nn.Parameter(torch.randn(cfg.dim) * 0.02)
        self.modality = nn.Parameter(torch.randn(len(MODALITIES), cfg.dim) * 0.02)
        self.layers = _layers(cfg, cfg.recon_layers)
        self.out = nn.Linear(cfg.dim, cfg.dim)
        self.ratio = cfg.recon_mask_ratio

    def forward(self, motion: Tokens, others: dict[str, Tokens]) -> torch.Tensor:
        hide = (torch.rand(motion.mask.shape, device=motion.x.device) < self.ratio) & motion.mask
        if not hide.any():
            return motion.x.new_zeros(())
        target = motion.x.detach()
        seq = [torch.where(hide[..., None], self.mask_token, motion.x) + self.modality[0]]
        masks = [motion.mask]
        for name, tokens in others.items():
            seq.append(tokens.x + self.modality[MODALITIES.index(name)])
            masks.append(tokens.mask)
        out = _run(self.layers, torch.cat(seq, 1), torch.cat(masks, 1))[:, : motion.x.shape[1]]
        return F.mse_loss(self.out(out)[hide], target[hide])


class MotionSearchModel(nn.Module):
    def __init__(self, cfg: ModelConfig, part_columns: list[np.ndarray]) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoders = nn.ModuleDict({"motion": MotionEncoder(cfg, part_columns)})
        if "text" in cfg.modalities:
            self.encoders["text"] = SequenceEncoder(cfg, cfg.text_in, cfg.text_layers, cfg.max_text_tokens)
        if "speech" in cfg.modalities:
            self.encoders["speech"] = SpeechEncoder(cfg)
        if "video" in cfg.modalities:
            self.encoders["video"] = SequenceEncoder(cfg, cfg.video_in, cfg.video_layers, cfg.video_frames)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.temperature)))
        self.reconstructor = Reconstructor(cfg) if cfg.recon_weight > 0 and len(cfg.modalities) > 1 else None

    def encode(self, modality: str, x: torch.Tensor, mask: torch.Tensor) -> Tokens:
        tokens = self.encoders[modality](x, mask)
        return pool_global(tokens) if self.cfg.alignment == "global" else tokens

    def similarity(self, a: Tokens, b: Tokens) -> torch.Tensor:
        if self.cfg.alignment == "global":
            return a.x[:, 0] @ b.x[:, 0].T
        return sequence_similarity(a, b, self.cfg.aggregation)

    def forward(self, batch: dict[str, tuple[torch.Tensor, torch.Tensor]], positives: torch.Tensor) -> dict:
        """``batch``: modality -> (inputs, mask) for the same N items in order; ``positives`` (N, N) bool.
        Returns the total loss and its parts."""
        raw = {m: self.encoders[m](*batch[m]) for m in self.cfg.modalities if m in batch}
        tokens = {m: pool_global(t) for m, t in raw.items()} if self.cfg.alignment == "global" else raw
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()
        names = list(tokens)
        losses = {}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                logits = scale * self.similarity(tokens[a], tokens[b])
                if self.cfg.alignment == "global":
                    losses[f"{a}-{b}"] = info_nce(logits)
                else:
                    target = positives if self.cfg.label_positives else torch.eye(len(logits), dtype=torch.bool)
                    losses[f"{a}-{b}"] = kl_contrastive(logits, target.to(logits.device))
        total = sum(losses.values())
        if self.reconstructor is not None and self.training:
            recon = self.reconstructor(raw["motion"], {m: t for m, t in raw.items() if m != "motion"})
            losses["reconstruction"] = recon
            total = total + self.cfg.recon_weight * recon
        return {"loss": total, **{k: v.detach() for k, v in losses.items()}}
