"""Ship a trained run as the default model: ``python -m model.release RUN_DIR [--out model/weights/default]``.

Writes fp16 safetensors of the run's best checkpoint (our trained weights only; the frozen
backbones come from their packages), its resolved ``config.yaml``, the motion feature statistics it was trained with
(``feature_stats.npz``) and ``manifest.json``
(model config, data hash, git commit, epoch, test metrics from ``eval.json`` and sha256 of
the weights). A release folder loads like a run (``model.load.load_run``). An existing
release is replaced only when the new run scores higher (the mean of :func:`score_parts`: the test split's text and
speech label R@1, the augmented-motion row when evaluated with ``--augmented``, the free-form typed top-5
given with ``--free-form`` and the cross-source text->motion content R@5 given with ``--cross-source``; both
releases must be scored on the same parts) unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from common.files import sha256_file
from model.load import load_run, teacher_digest

DEFAULT = Path(__file__).with_name("weights") / "default"
SCORED = ("text->motion/descriptive", "speech->motion/clean")
ROBUST = "motion(augmented)->motion"  # model.evaluate --augmented: another body, tempo, noise, the pose-like rebuild
FREE_FORM = ("test", "fused", "top5")  # in a python -m bench.fusion result: the never-tuned-on free-form queries
# in a python -m model.cross_source evaluate result: the recipe trained without dataset-1, text->motion on its clips
CROSS_SOURCE_TEXT = ("text->motion/descriptive/label", "among_source", "all_content", "R@5")
CROSS_SOURCE = ("models", "cross-source", "results", *CROSS_SOURCE_TEXT)


def lookup(data: dict, keys: tuple[str, ...]) -> float | None:
    """The number at the key path ``keys`` of a recorded result (a digit indexes a list; the last key may be
    ``a|b|c``: the largest of those), None when it has none."""
    for key in keys[:-1]:  # a digit indexes a list (a bench's list of settings)
        if isinstance(data, list):
            data = data[int(key)] if key.isdigit() and int(key) < len(data) else None
            continue
        data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            return None
    if not isinstance(data, dict):
        return None
    values = [data[k] for k in keys[-1].split("|") if isinstance(data.get(k), (int, float))]
    return float(max(values)) if values else None


def _required(result: dict, keys: tuple[str, ...], what: str) -> float:
    value = lookup(result, keys)
    if value is None:
        raise ValueError(f"the {what} result has no {'.'.join(keys)}")
    return value


def score_parts(test_results: dict, free_form: dict | None = None, cross_source: dict | None = None) -> dict:
    """What the release criterion averages: text->motion and speech->motion label R@1 on the test split; the
    robustness row (augmented motion -> motion label R@1) when the evaluation has it; the free-form typed queries'
    top-5 (server default, fused) when a ``bench.fusion`` result of the run's bundle is given; the run's recipe
    trained without dataset-1, text->motion content R@5 on its clips, when a ``model.cross_source`` result is."""
    parts = {f"{key} label R@1": test_results[key]["all_labels"]["R@1"] for key in SCORED}
    if ROBUST in test_results:
        parts[f"{ROBUST} label R@1"] = test_results[ROBUST]["all_labels"]["R@1"]
    if free_form is not None:
        parts["free-form typed top-5"] = _required(free_form, FREE_FORM, "free-form (python -m bench.fusion)")
    if cross_source is not None:
        parts["cross-source text->motion content R@5"] = _required(cross_source, CROSS_SOURCE, "cross-source")
    return parts


def cached_video(data: Path) -> dict:
    """The frame count and size the video features were cached with (the exporter must match them)."""
    manifest = data / "cache" / "manifest.json"
    video = json.loads(manifest.read_text()).get("video", {}) if manifest.exists() else {}
    return {k: video[k] for k in ("frames", "size") if k in video}


def release(run: Path, out: Path, force: bool = False, free_form: Path | None = None,
            cross_source: Path | None = None) -> dict:  # fmt: skip
    eval_json = run / "eval.json"
    if not eval_json.exists():
        raise FileNotFoundError(f"{eval_json} is missing: evaluate the run first (python -m model.evaluate {run})")
    report = json.loads(eval_json.read_text())
    test = report["splits"]["test"]
    test = test.get("results", test)  # model.evaluate nests results; model.ablate does not
    extra = [json.loads(path.read_text()) if path else None for path in (free_form, cross_source)]
    parts = score_parts(test, *extra)
    new_score = sum(parts.values()) / len(parts)
    old = out / "manifest.json"
    if old.exists() and not force:
        previous = json.loads(old.read_text())
        old_parts = previous.get("score_parts", {f"{key} label R@1": None for key in SCORED})
        if set(old_parts) != set(parts):
            raise ValueError(
                f"{out} was scored on {sorted(old_parts)}, {run} on {sorted(parts)}: measure both the "
                "same way (model.evaluate --augmented, --free-form, --cross-source) or pass --force"
            )
        if previous["score"] >= new_score:
            old_score = previous["score"]
            raise ValueError(f"{out} scores {old_score:.2f} >= {new_score:.2f} of {run}; not replaced (--force)")
    model, config, state = load_run(run, "best")
    teacher = teacher_digest(run)  # before anything is written: the init may be a release in ``out``'s place
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
        "score_definition": "mean of score_parts (model.release.score_parts)",
        "score_parts": {k: round(v, 3) for k, v in parts.items()},
        "free_form_result": str(free_form) if free_form else None,
        "cross_source_result": str(cross_source) if cross_source else None,
        "test_R@1_labels": {k: v["all_labels"]["R@1"] for k, v in test.items()},
        "sha256": sha256_file(out / "model.safetensors"),
        "teacher_motion_sha256": teacher,  # a fine-tune's teacher: the motion encoder whose library it fits
        "video": cached_video(Path(resolved_data)),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.release", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT)
    parser.add_argument("--force", action="store_true", help="replace the release even if it scores higher")
    parser.add_argument("--free-form", type=Path, help="a python -m bench.fusion result of the run's bundle: its "
                        "free-form typed top-5 joins the score")  # fmt: skip
    parser.add_argument("--cross-source", type=Path, help="a python -m model.cross_source evaluate result of the "
                        "run's recipe without dataset-1: its text->motion content R@5 joins the score")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        manifest = release(args.run, args.out, args.force, args.free_form, args.cross_source)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    size = (args.out / "model.safetensors").stat().st_size / 2**20
    print(f"released {args.run} to {args.out}: score {manifest['score']}, {size:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
