"""Loading a trained model: a run directory (``checkpoints/{best,last}.pt``) or a release folder
(``model.safetensors``, written by ``python -m model.release``), for evaluation, release and export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from model.config import Config, load_config
from model.modeling import ModelConfig, MotionSearchModel
from motion.body_parts import body_parts


def part_columns() -> list[np.ndarray]:
    """The feature columns of each body part, as the motion encoder embeds them."""
    return [p.columns for p in body_parts()]


def trained_stats(run: Path, data: Path | None = None) -> Path:
    """The motion feature statistics a run directory or release was trained with: a release's own
    ``feature_stats.npz``, else those of its dataset folder ``data``."""
    candidates = [run / "feature_stats.npz"] + ([data / "stats" / "feature_mean_std.npz"] if data else [])
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(
        f"no motion feature statistics: looked for {', '.join(map(str, candidates))} "
        f"(pass --data DATASET for a run whose dataset folder has moved)"
    )


def load_run(run: Path, checkpoint: str = "best") -> tuple[MotionSearchModel, Config, dict]:
    """The model of a run directory with the weights of ``checkpoints/{checkpoint}.pt``, or of a release folder."""
    config = load_config(run / "config.yaml")
    if (run / "model.safetensors").exists():  # a release (python -m model.release)
        from safetensors.torch import load_file

        manifest = json.loads((run / "manifest.json").read_text())
        model = MotionSearchModel(ModelConfig.from_dict(manifest["model_config"]), part_columns())
        model.load_state_dict({k: v.float() for k, v in load_file(run / "model.safetensors").items()})
        return model.eval(), config, {"epoch": manifest["epoch"] - 1, "data_hash": manifest["data_hash"]}
    path = run / "checkpoints" / f"{checkpoint}.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (checkpoints: best, last)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = MotionSearchModel(ModelConfig.from_dict(state["model_config"]), part_columns())
    model.load_state_dict(state["model"])
    return model.eval(), config, state


def motion_digest(model: MotionSearchModel) -> str:
    """The sha256 of a model's motion encoder weights as a release stores them (float16), name by name: what a
    library's stored motion tokens depend on."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.encoders["motion"].state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float16).cpu().numpy().tobytes())
    return digest.hexdigest()


def teacher_digest(run: Path) -> str | None:
    """The :func:`motion_digest` of the motion encoder that taught a fine-tune (its ``finetune.init``'s): as
    recorded in a release's manifest, computed from the init for a run directory; None for no fine-tune."""
    manifest = run / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text()).get("teacher_motion_sha256")
    finetune = load_config(run / "config.yaml").finetune
    return motion_digest(load_run(finetune.init_path)[0]) if finetune else None
