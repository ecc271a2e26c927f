"""Fine-tuning a trained model's motion encoder for invariance (a config's ``finetune`` section, ``model.train``).

The model starts from a release or run (``finetune.init``); only the encoders in ``finetune.train`` learn
(by default the motion encoder), so the frozen text, speech and video encoders stay aligned with the motion
space. A frozen copy of the initial motion encoder is the *teacher*: on the clean crop of each item it says
where that motion's tokens belong. The *student* (whose motion encoder may start from another run,
``finetune.student``, e.g. a second stage of the pose encoder) sees the same crop, augmented for most items
(``motion.augment``: another body, tempo, facing wobble, joint noise, the pose-from-video rebuild), and learns

* the model's KL contrastive loss (Eq. 8 similarity, label positives) against the frozen text encoder; with
  ``caption_positives: instance`` a kinematic or combined caption (what this clip's body does) is a positive of
  its own motion only (``RetrievalData.positives``), so those captions teach the instance, not the label;
* the same loss between its tokens and the teacher's over the batch (self-distillation: an augmented motion
  still finds its clean self);
* the squared distance of its pooled embedding to the teacher's (the library's stored tokens stay valid);
* where the text encoder learns (``text_geometry``), an open text space: the cosine similarities between the
  batch's captions as the learned pooled text embedding sees them are pulled toward those of the frozen
  sentence encoder (all-MiniLM-L6-v2's own sentence embedding: the mean of the cached token states), so words
  the captions never used land near their meaning instead of near whichever label they resemble.

Validation adds ``motion(augmented)->motion`` (``model.evaluate.augmented_retrieval``).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from model.config import FinetuneConfig
from model.modeling import MotionEncoder, MotionSearchModel, Tokens, kl_contrastive, pool_global


def freeze(model: MotionSearchModel, config: FinetuneConfig) -> MotionEncoder:
    """Only the encoders in ``config.train`` keep gradients; returns a frozen copy of the motion encoder."""
    trained = tuple(f"encoders.{m}." for m in config.train)
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(trained))
    teacher = copy.deepcopy(model.encoders["motion"]).eval()
    teacher.requires_grad_(False)
    return teacher


def set_train_mode(model: MotionSearchModel, config: FinetuneConfig) -> None:
    """Dropout in the trained encoders only: the frozen ones encode as they will be served."""
    model.eval()
    for m in config.train:
        model.encoders[m].train()


def text_geometry(text: Tokens, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the captions' cosine similarities in the learned pooled text space and
    in the frozen sentence encoder's (the masked mean of its token states, as sentence-transformers pools)."""
    keep = mask.unsqueeze(-1).to(states.dtype)
    teacher = F.normalize((states * keep).sum(1) / keep.sum(1).clamp(min=1), dim=-1)
    student = F.normalize(pool_global(text).x[:, 0], dim=-1)
    return (student @ student.T - teacher @ teacher.T).pow(2).mean()


def losses(model: MotionSearchModel, teacher: MotionEncoder, batch: dict, positives: torch.Tensor,
           config: FinetuneConfig, text_positives: torch.Tensor | None = None) -> dict:  # fmt: skip
    """The fine-tuning loss and its parts for one :meth:`RetrievalData.augmented_batch`: ``positives`` (the same
    labels) for motion against motion and other modalities, ``text_positives`` (motion i, caption j; default
    ``positives``) for motion against text."""
    scale = model.log_scale.clamp(max=math.log(100.0)).exp().detach()
    with torch.set_grad_enabled("motion" in config.train):
        student = model.encoders["motion"](*batch["motion"])
    parts = {}
    for m in config.modalities:
        if m == "motion":
            continue
        with torch.set_grad_enabled(m in config.train):
            other = model.encoders[m](*batch[m])
        targets = text_positives if m == "text" and text_positives is not None else positives
        parts[f"motion-{m}"] = config.text_weight * kl_contrastive(scale * model.similarity(student, other), targets)
        if m == "text" and "text" in config.train and config.text_geometry:
            parts["text_geometry"] = config.text_geometry * text_geometry(other, *batch["text"])
    if config.distill_weight or config.distill_mse:  # (a text-only stage has nothing to distil on the motion side)
        with torch.no_grad():
            target = teacher(*batch["clean"])
        parts["distill"] = config.distill_weight * kl_contrastive(scale * model.similarity(student, target), positives)
        a, b = pool_global(student).x[:, 0], pool_global(target).x[:, 0]
        parts["distill_mse"] = config.distill_mse * (a - b).pow(2).sum(-1).mean()
    total = sum(parts.values())
    return {"loss": total, **{k: v.detach() for k, v in parts.items()}}
