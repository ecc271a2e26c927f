"""Training configs as YAML data files (``model/configs/``): ``base:`` inheritance, ``${ENV}`` values.

A config has ``name``, ``data`` (the dataset folder), ``seed``, ``model`` (the fields of
:class:`model.modeling.ModelConfig`) and ``train`` (:class:`TrainConfig`). A file may name
a ``base`` file beside it; its mappings are merged over the base's, key by key.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

from model.modeling import ModelConfig


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
class Config:
    name: str
    data: str
    seed: int
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict:
        return {"name": self.name, "data": self.data, "seed": self.seed, "model": asdict(self.model),
                "train": asdict(self.train)}  # fmt: skip


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
    unknown = sorted(set(data) - {"name", "data", "seed", "model", "train"})
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
    )
