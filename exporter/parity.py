"""Parity: the exported graphs on ONNX Runtime against PyTorch (``model.backbones`` + ``model.encode``).

Every modality runs one batch of real inputs (``exporter.samples``) of unequal lengths through
its ONNX graph, padded as the server pads them, and each item alone, unpadded, through the
PyTorch pipeline the training cache used. For every item the valid tokens must match in
number, and the tokens and the weights in value: the error is
``max |onnx - torch| / max |torch|`` over the modality's valid tokens (resp. weights). The ``sentence``
graph (frozen MiniLM, mean-pooled, normalised) is compared the same way, its embedding in place of the
tokens (weights: none, error 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from exporter.bundle import Preprocessing
from exporter.graphs import Backbones, sentence_embedding
from exporter.samples import Samples
from model.modeling import MotionSearchModel
from motion.normalize import FeatureStats
from preprocess.audio import log_mel
from preprocess.frames import prepare_frames
from preprocess.text import tokenize

TOLERANCE = 1e-4
Item = tuple[np.ndarray, np.ndarray]  # (tokens (L, D), weights (L,)) of one input, padding removed


@dataclass(frozen=True)
class ParityResult:
    modality: str
    lengths: tuple[int, ...]  # each item's input length (tokens, mel frames, video frames, motion frames)
    tokens: float  # relative error of the valid tokens
    weights: float  # relative error of their weights
    masks_equal: bool  # every item has as many valid tokens in ONNX as in PyTorch
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.masks_equal and self.tokens <= self.tolerance and self.weights <= self.tolerance

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED" + ("" if self.masks_equal else " (token counts differ)")
        return (
            f"{self.modality:<6} batch of {len(self.lengths)}, lengths {list(self.lengths)}: relative error "
            f"tokens {self.tokens:.1e}, weights {self.weights:.1e} (tolerance {self.tolerance:.0e}) {verdict}"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "lengths": list(self.lengths), "passed": self.passed}


def relative_error(ours: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """``max |ours - reference| / max |reference|`` over all items (inf when shapes differ)."""
    if any(o.shape != r.shape for o, r in zip(ours, reference)):
        return float("inf")
    scale = max(float(np.abs(r).max(initial=0.0)) for r in reference)
    diff = max(float(np.abs(o - r).max(initial=0.0)) for o, r in zip(ours, reference))
    return diff / max(scale, 1e-12)


def pad(arrays: list[np.ndarray], axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stack arrays of unequal length along ``axis`` with zeros; also return their lengths."""
    lengths = np.array([a.shape[axis] for a in arrays], dtype=np.int64)
    shape = list(arrays[0].shape)
    shape[axis] = int(lengths.max())
    out = np.zeros((len(arrays), *shape), dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        index = [i] + [slice(None)] * a.ndim
        index[1 + axis] = slice(0, a.shape[axis])
        out[tuple(index)] = a
    return out, lengths


def split_items(outputs: dict[str, np.ndarray]) -> list[Item]:
    """Per item (tokens, weights) of a graph's batched outputs, without the padded tokens."""
    if "tokens" not in outputs:  # the sentence graph: one vector per item
        return [(e[None], np.zeros(1, np.float32)) for e in outputs["sentence_embedding"]]
    mask = outputs.get("token_mask", np.ones(outputs["weights"].shape, dtype=bool))
    return [(outputs["tokens"][i][m], outputs["weights"][i][m]) for i, m in enumerate(mask)]


@torch.inference_mode()
def torch_item(model: MotionSearchModel, modality: str, x: np.ndarray) -> Item:
    """``model.encode`` of one unpadded input (L, d): its valid tokens and weights."""
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None]
    tokens = model.encode(modality, x, torch.ones(x.shape[:2], dtype=torch.bool))
    mask = tokens.mask[0]
    return tokens.x[0][mask].numpy(), tokens.weights[0][mask].numpy()


def centre_crop(features: np.ndarray, max_frames: int) -> np.ndarray:
    start = max(0, (len(features) - max_frames) // 2)
    return features[start : start + max_frames]


class _Case:
    """One modality's batched ONNX feed, the items' lengths and the PyTorch reference."""

    def __init__(self, model: MotionSearchModel, backbones: Backbones, prep: Preprocessing, stats: FeatureStats,
                 tokenizer: Path, pose: MotionSearchModel | None = None) -> None:  # fmt: skip
        self.model, self.backbones, self.prep, self.stats, self.tokenizer = model, backbones, prep, stats, tokenizer
        self.pose_model = pose

    def text(self, samples: Samples) -> tuple[dict, list[int], list[Item]]:
        tokens = tokenize(samples.texts, self.tokenizer, self.prep.text.max_tokens)
        reference = [torch_item(self.model, "text", self.backbones.text([t])[0]) for t in samples.texts]
        return {"input_ids": tokens.ids, "attention_mask": tokens.mask}, tokens.mask.sum(1).tolist(), reference

    def sentence(self, samples: Samples) -> tuple[dict, list[int], list[Item]]:
        tokens = tokenize(samples.texts, self.tokenizer, self.prep.text.sentence_max_tokens)
        reference = []
        with torch.inference_mode():
            for ids, mask in zip(tokens.ids, tokens.mask):
                n = int(mask.sum())
                ids_t, mask_t = torch.from_numpy(ids[None, :n]), torch.from_numpy(mask[None, :n])
                states = self.backbones.text.model(input_ids=ids_t, attention_mask=mask_t).last_hidden_state
                embedding = sentence_embedding(states, mask_t)[0].numpy()
                reference.append((embedding[None], np.zeros(1, np.float32)))
        return {"input_ids": tokens.ids, "attention_mask": tokens.mask}, tokens.mask.sum(1).tolist(), reference

    def speech(self, samples: Samples) -> tuple[dict, list[int], list[Item]]:
        mels, frames = pad([log_mel(a, self.prep.speech.max_seconds) for a in samples.audios], axis=1)
        reference = [torch_item(self.model, "speech", self.backbones.speech([a])[0]) for a in samples.audios]
        return {"log_mel": mels, "n_frames": frames}, frames.tolist(), reference

    def video(self, samples: Samples) -> tuple[dict, list[int], list[Item]]:
        v = self.prep.video
        frames = np.stack([prepare_frames(s, v.frames, v.size) for s in samples.videos])
        reference = [torch_item(self.model, "video", self.backbones.video([s])[0]) for s in samples.videos]
        return {"frames": frames}, [v.frames] * len(frames), reference

    def motion(self, samples: Samples, model: MotionSearchModel | None = None) -> tuple[dict, list[int], list[Item]]:
        clips = [self.stats.normalize(centre_crop(f, self.prep.motion.max_frames)) for f in samples.motions]
        features, lengths = pad(clips)
        mask = np.arange(features.shape[1])[None] < lengths[:, None]
        reference = [torch_item(model or self.model, "motion", c) for c in clips]
        return {"features": features, "frame_mask": mask}, lengths.tolist(), reference

    def pose(self, samples: Samples) -> tuple[dict, list[int], list[Item]]:
        """The pose encoder's graph: a motion graph of the pose model."""
        return self.motion(samples, self.pose_model)


def session(path: Path, threads: int | None = None, providers: list[str] | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def check_parity(
    folder: Path,
    model: MotionSearchModel,
    backbones: Backbones,
    samples: Samples,
    prep: Preprocessing,
    stats: FeatureStats,
    tolerance: float = TOLERANCE,
    threads: int | None = None,
    modalities: list[str] | None = None,
    pose: MotionSearchModel | None = None,
) -> list[ParityResult]:
    """Run every graph in ``folder`` (``MODALITY.onnx``, ``sentence.onnx`` beside the text graph, and
    ``pose.onnx`` against ``pose``'s motion encoder when given) on ONNX Runtime (CPU) against PyTorch."""
    folder = Path(folder)
    case = _Case(model, backbones, prep, stats, folder / prep.text.tokenizer, pose)
    results = []
    if modalities is None:
        modalities = [m for m in ("text", "speech", "video", "motion") if m in model.cfg.modalities]
        if "text" in modalities and (folder / "sentence.onnx").exists():
            modalities.insert(1, "sentence")
        if pose is not None:
            modalities.append("pose")
    for modality in modalities:
        feeds, lengths, reference = getattr(case, modality)(samples)
        sess = session(folder / f"{modality}.onnx", threads)
        names = [o.name for o in sess.get_outputs()]
        ours = split_items(dict(zip(names, sess.run(None, feeds))))
        masks_equal = [len(o[0]) for o in ours] == [len(r[0]) for r in reference]
        results.append(
            ParityResult(
                modality,
                tuple(int(n) for n in lengths),
                relative_error([o[0] for o in ours], [r[0] for r in reference]),
                relative_error([o[1] for o in ours], [r[1] for r in reference]),
                masks_equal,
                tolerance,
            )
        )
    return results
