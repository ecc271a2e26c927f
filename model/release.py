"""Ship a trained run as the default model: ``python -m model.release RUN_DIR [--out model/weights/default]``.

Writes fp16 safetensors of the run's best checkpoint (our trained weights only; the frozen
backbones come from their packages), its resolved ``config.yaml``, the motion feature statistics it was trained with
(``feature_stats.npz``) and ``manifest.json``
(model config, data hash, git commit, epoch, test metrics from ``eval.json`` and sha256 of
the weights). A release folder loads like a run (``model.load.load_run``). An existing
release is replaced only when the new run scores higher (``score``) unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from common.files import sha256_file
from model.load import load_run

DEFAULT = Path(__file__).with_name("weights") / "default"
SCORED = ("text->motion/descriptive", "speech->motion/clean")


def score(test_results: dict) -> float:
    """The release criterion: mean text->motion and speech->motion R@1 under label relevance on the test split."""
    return sum(test_results[key]["all_labels"]["R@1"] for key in SCORED) / len(SCORED)


def cached_video(data: Path) -> dict:
    """The frame count and size the video features were cached with (the exporter must match them)."""
    manifest = data / "cache" / "manifest.json"
    video = json.loads(manifest.read_text()).get("video", {}) if manifest.exists() else {}
    return {k: video[k] for k in ("frames", "size") if k in video}


def release(run: Path, out: Path, force: bool = False) -> dict:
    eval_json = run / "eval.json"
    if not eval_json.exists():
        raise FileNotFoundError(f"{eval_json} is missing: evaluate the run first (python -m model.evaluate {run})")
    report = json.loads(eval_json.read_text())
    test = report["splits"]["test"]
    test = test.get("results", test)  # model.evaluate nests results; model.ablate does not
    new_score = score(test)
    old = out / "manifest.json"
    if old.exists() and not force:
        old_score = json.loads(old.read_text())["score"]
        if old_score >= new_score:
            raise ValueError(f"{out} scores {old_score:.2f} >= {new_score:.2f} of {run}; not replaced (--force)")
    model, config, state = load_run(run, "best")
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors")
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    stats = Path(resolved["data"]) / "stats" / "feature_mean_std.npz"
    if not stats.exists():
        raise FileNotFoundError(f"{stats} is missing: the release needs the motion feature statistics of its data")
    (out / "feature_stats.npz").write_bytes(stats.read_bytes())
    resolved_data = resolved["data"]
    resolved["data"] = ""  # the machine's dataset folder stays out of the release; pass --data to evaluate
    (out / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    meta = json.loads((run / "meta.json").read_text())
    manifest = {
        "name": config.name,
        "run": run.name,
        "epoch": state["epoch"] + 1,
        "model_config": state["model_config"],
        "data_hash": state.get("data_hash"),
        "git_commit": meta.get("git_commit"),
        "parameters": meta.get("parameters"),
        "score": round(new_score, 3),
        "score_definition": f"mean R@1 (label relevance, test split) of {', '.join(SCORED)}",
        "test_R@1_labels": {k: v["all_labels"]["R@1"] for k, v in test.items()},
        "sha256": sha256_file(out / "model.safetensors"),
        "video": cached_video(Path(resolved_data)),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.release", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT)
    parser.add_argument("--force", action="store_true", help="replace the release even if it scores higher")
    args = parser.parse_args(argv)
    try:
        manifest = release(args.run, args.out, args.force)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    size = (args.out / "model.safetensors").stat().st_size / 2**20
    print(f"released {args.run} to {args.out}: score {manifest['score']}, {size:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
