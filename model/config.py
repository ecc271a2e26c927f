"""Training configs as YAML data files (``model/configs/``): ``base:`` inheritance, ``${ENV}`` values.

A config has ``name``, ``data`` (the dataset folder), ``seed``, ``model`` (the fields of
:class:`model.modeling.ModelConfig`), ``train`` (:class:`TrainConfig`) and, for a fine-tuning run,
``finetune`` (:class:`FinetuneConfig`). A file may name a ``base`` file beside it; its mappings are
merged over the base's, key by key.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from common.config import reject_unknown
from model.modeling import ModelConfig
from motion.augment import AugmentConfig

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-4
    lr_end: float = 1e-5
    decay_start: float = 0.5
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    validate_every: int = 1
    limit_batches: int | None = None  # smoke runs: at most this many batches per epoch


@dataclass
class FinetuneConfig:
    """Fine-tuning a trained model (``model.finetune``): the encoders in ``train`` learn, the rest stay frozen.

    The student (the model being trained) sees each item's motion augmented (``motion.augment``) with
    probability ``augment_share``, else clean; the loss is ``text_weight`` x its KL contrastive loss against
    the frozen text encoder plus ``distill_weight`` x the same loss between the student's tokens and a frozen
    copy of the initial motion encoder (the teacher) on the clean crop, plus ``distill_mse`` x the squared
    distance of their pooled embeddings (so the library's existing motion tokens stay valid)."""

    init: str = "model/weights/default"  # a release folder or run directory (relative: to the repository)
    student: str | None = None  # a run or release whose motion encoder the student starts from (None: init's)
    train: list[str] = field(default_factory=lambda: ["motion"])
    modalities: list[str] = field(default_factory=lambda: ["motion", "text"])  # loaded from the dataset
    augment_share: float = 0.75
    text_weight: float = 1.0
    distill_weight: float = 1.0
    distill_mse: float = 1.0
    text_geometry: float = 0.0  # weight of model.finetune.text_geometry (only when the text encoder learns)
    # which motions a caption is a positive of in the motion-text loss: "labels" (every motion with the item's
    # labels) or "instance" (a kinematic or combined caption: its own motion alone; RetrievalData.positives)
    caption_positives: str = "labels"
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, data: dict) -> FinetuneConfig:
        reject_unknown(cls, data, "finetune")
        config = cls(**{k: v for k, v in data.items() if k != "augment"})
        config.augment = AugmentConfig.from_dict(data.get("augment", {}))
        if config.caption_positives not in ("labels", "instance"):
            raise ValueError(f"finetune: caption_positives {config.caption_positives!r} is not labels or instance")
        if "motion" not in config.modalities or not set(config.train) <= set(config.modalities):
            raise ValueError(f"finetune: modalities {config.modalities} must hold motion and every trained one")
        return config

    @property
    def init_path(self) -> Path:
        return _from_root(self.init)

    @property
    def student_path(self) -> Path | None:
        return _from_root(self.student) if self.student else None


def _from_root(path: str) -> Path:
    return Path(path) if Path(path).is_absolute() else ROOT / path


@dataclass
class Config:
    name: str
    data: str
    seed: int
    model: ModelConfig
    train: TrainConfig
    finetune: FinetuneConfig | None = None

    def to_dict(self) -> dict:
        out = {"name": self.name, "data": self.data, "seed": self.seed, "model": asdict(self.model),
               "train": asdict(self.train)}  # fmt: skip
        if self.finetune:
            out["finetune"] = asdict(self.finetune)
            out["finetune"]["augment"] = {k: list(v) if isinstance(v, tuple) else v  # plain YAML lists
                                          for k, v in out["finetune"]["augment"].items()}  # fmt: skip
        return out


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _expand(value):
    if isinstance(value, str):

        def env(match: re.Match) -> str:
            if match.group(1) not in os.environ:
                raise ValueError(f"the config needs ${{{match.group(1)}}}: set it or pass --data")
            return os.environ[match.group(1)]

        return re.sub(r"\$\{(\w+)\}", env, value)
    return value


def read_yaml(path: Path) -> dict:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if "base" in data:
        data = _merge(read_yaml(Path(path).parent / data.pop("base")), data)
    return data


def load_config(path: str | Path, overrides: dict | None = None) -> Config:
    data = _merge(read_yaml(Path(path)), overrides or {})
    unknown = sorted(set(data) - {"name", "data", "seed", "model", "train", "finetune"})
    if unknown:
        raise ValueError(f"{path}: unknown config key(s) {unknown}")
    train_keys = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(data.get("train", {})) - train_keys)
    if bad:
        raise ValueError(f"{path}: unknown train key(s) {bad}")
    return Config(
        name=data.get("name", Path(path).stem),
        data=_expand(data.get("data", "")),
        seed=int(data.get("seed", 0)),
        model=ModelConfig.from_dict(data.get("model", {})),
        train=TrainConfig(**data.get("train", {})),
        finetune=FinetuneConfig.from_dict(data["finetune"]) if data.get("finetune") else None,
    )
