"""Export a trained run to an ONNX bundle: ``python -m exporter [--run RUN] [--out BUNDLE]``.

Reads a run directory or a release folder (default ``model/weights/default``) with
``model.load.load_run``, exports one ONNX graph per modality (frozen backbone and trained
head together, see ``exporter.graphs``), copies the text tokenizer and the motion feature
statistics beside them (and, with the text graph, the frozen ``sentence`` graph the server ranks metadata
by), checks every graph on ONNX Runtime against PyTorch on real inputs
(``exporter.parity``, relative error at most 1e-4), and only then writes ``manifest.json``
(see ``exporter.bundle``). Exits non-zero when the parity check fails, leaving no manifest,
so a server never loads a bundle that was not checked.

A release may carry its *pose encoder* in ``RUN/pose`` (``--pose-run`` names another): the motion encoder
fine-tuned on motion estimated from video (``model/configs/pose-encoder.yaml``), exported as the ``pose``
graph that SearchVideo's pose path encodes with. It is added only when this model's motion encoder taught it
(``model.load.teacher_digest``: the library's stored tokens are that encoder's), so a re-released model
with another motion encoder never ships a stale one, and one that only retrained its other encoders keeps it.

The video frame count and size are those the training cache used, read from the run's
dataset (``cache/manifest.json``) when it is reachable (``--data`` points at it for a
release, whose config carries no dataset folder), else 8 frames of 112 px unless given.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from exporter.bundle import (
    GRAPHS,
    MANIFEST,
    POSE,
    STATS_FILE,
    TOKENIZER_DIR,
    MotionPreprocessing,
    Preprocessing,
    SpeechPreprocessing,
    TextPreprocessing,
    VideoPreprocessing,
    release_sha256,
    write_manifest,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN = ROOT / "model" / "weights" / "default"
DEFAULT_OUT = ROOT / "build" / "bundle"
DEFAULT_VIDEO = (8, 112)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def run_identity(run: Path, config, state: dict, model) -> dict:
    """Name, epoch, data hash, git commit and config of a run directory or a release folder."""
    if (run / "model.safetensors").exists():
        meta = json.loads((run / "manifest.json").read_text())
        name, kind = meta.get("name", config.name), "release"
    else:
        meta = json.loads((run / "meta.json").read_text()) if (run / "meta.json").exists() else {}
        name, kind = config.name, "run"
    return {
        "name": name,
        "run": run.resolve().name,
        "kind": kind,
        "epoch": int(state["epoch"]) + 1,
        "data_hash": state.get("data_hash"),
        "git_commit": meta.get("git_commit"),
        "weights_sha256": release_sha256(run),  # a release's: the server re-exports when it changes
        "pose_sha256": release_sha256(run / POSE),  # its pose encoder's, likewise
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": model.cfg.to_dict(),
    }


def dataset_folder(config, data: Path | None) -> Path | None:
    """``--data``, else the run's own dataset folder when it exists on this machine."""
    if data is not None:
        return data
    folder = Path(config.data) if config.data else None
    return folder if folder is not None and folder.is_dir() else None


def video_settings(run: Path, data: Path | None, frames: int | None, size: int | None) -> tuple[int, int, str]:
    """(frames, size, where they came from): flags, else the release's or the dataset's cache manifest,
    else the defaults."""
    cached = {}
    for manifest in [run / "manifest.json"] + ([data / "cache" / "manifest.json"] if data else []):
        if manifest.exists() and json.loads(manifest.read_text()).get("video"):
            cached = json.loads(manifest.read_text())["video"]
            break
    source = f"{manifest}" if cached else "defaults"
    frames = frames or cached.get("frames") or DEFAULT_VIDEO[0]
    size = size or cached.get("size") or DEFAULT_VIDEO[1]
    return int(frames), int(size), source


def pose_model(run: Path, model, pose: Path | None, explicit: bool):
    """The pose encoder's model (``--pose-run``) when it belongs to ``model``: the same config, and it was taught
    by ``model``'s own motion encoder (``model.load.teacher_digest``), so a video's pose lands where the library's
    motion tokens are. None when there is none or it belongs to another model; with ``explicit`` (the flag was
    given) that is an error."""
    from model.load import load_run, motion_digest, teacher_digest

    if pose is None or not (pose / "config.yaml").exists():
        if explicit:
            raise FileNotFoundError(f"--pose-run {pose} is not a run directory or release folder (no config.yaml)")
        return None
    candidate = load_run(pose, "best")[0]
    if candidate.cfg != model.cfg or teacher_digest(pose) != motion_digest(model):
        if explicit:
            raise ValueError(f"--pose-run {pose} was not taught by {run}'s motion encoder (its library would not fit)")
        print(f"not adding the pose encoder {pose}: it was taught by another motion encoder than {run}'s")
        return None
    return candidate


def preprocessing(model, video_frames: int, video_size: int) -> Preprocessing:
    from model.backbones import SPEECH_POOL
    from motion.features import FEATURE_DIM
    from motion.resample import TARGET_FPS
    from motion.skeleton import JOINTS
    from preprocess import audio, frames, text

    cfg = model.cfg
    if cfg.max_text_tokens < text.MAX_TOKENS:
        raise ValueError(f"the tokenizer keeps {text.MAX_TOKENS} tokens but the model has {cfg.max_text_tokens}")
    if video_frames > cfg.video_frames:
        raise ValueError(f"{video_frames} video frames but the model's video encoder takes at most {cfg.video_frames}")
    if cfg.motion_features != FEATURE_DIM:
        raise ValueError(
            f"the model takes {cfg.motion_features}-d motion features, the motion layer makes {FEATURE_DIM}"
        )
    return Preprocessing(
        text=TextPreprocessing(max_tokens=text.MAX_TOKENS, sentence_max_tokens=text.SENTENCE_MAX_TOKENS),
        speech=SpeechPreprocessing(
            audio.SAMPLE_RATE,
            audio.N_MELS,
            audio.N_FFT,
            audio.HOP,
            audio.MAX_SECONDS,
            SPEECH_POOL,
            int(audio.SAMPLE_RATE / audio.HOP / 2 / SPEECH_POOL),
        ),
        video=VideoPreprocessing(video_frames, video_size, frames.MEAN, frames.STD),
        motion=MotionPreprocessing(TARGET_FPS, cfg.max_frames, FEATURE_DIM, "smpl-22", tuple(JOINTS)),
    )


def versions() -> dict[str, str]:
    import numpy
    import onnx
    import onnxruntime
    import onnxscript
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
    }


def copy_tokenizer(backbone: Path, out: Path) -> list[Path]:
    if not (backbone / "tokenizer.json").exists():
        raise FileNotFoundError(f"{backbone} has no tokenizer.json")
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in TOKENIZER_FILES:
        if (backbone / name).exists():
            shutil.copyfile(backbone / name, out / name)
            copied.append(out / name)
    return copied


def export(args: argparse.Namespace) -> int:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _export(args)
    finally:
        torch.set_num_threads(threads)  # called in-process (tests, the server's first start): leave torch as found


def _export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from exporter.graphs import Backbones, describe, export_graph, graph_exports
    from exporter.parity import check_parity
    from exporter.samples import real_samples
    from model.load import load_run, trained_stats
    from motion.normalize import FeatureStats
    from preprocess.text import default_backbone

    started = time.perf_counter()
    model, config, state = load_run(args.run, args.checkpoint)
    data = dataset_folder(config, args.data)
    frames, size, source = video_settings(args.run, data, args.video_frames, args.video_size)
    prep = preprocessing(model, frames, size)
    stats_path = trained_stats(args.run, data)
    identity = run_identity(args.run, config, state, model)
    print(
        f"exporting {identity['kind']} {args.run} ({identity['name']}, epoch {identity['epoch']}, "
        f"modalities {', '.join(model.cfg.modalities)}) to {args.out}; video {frames} frames of {size} px ({source})"
    )

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # a bundle is valid only once its manifest is written, at the end
    for graph in GRAPHS:
        (out / f"{graph}.onnx").unlink(missing_ok=True)
    shutil.rmtree(out / TOKENIZER_DIR, ignore_errors=True)
    tokenizer = copy_tokenizer(args.text_backbone or default_backbone(), out / TOKENIZER_DIR)
    shutil.copyfile(stats_path, out / STATS_FILE)

    pose = pose_model(args.run, model, args.pose_run, args.pose_explicit)
    backbones = Backbones.load(model.cfg.modalities, args.text_backbone, frames, size)
    exports = graph_exports(model, backbones, prep, pose)
    seconds = {}
    for modality, graph in (bar := tqdm(exports.items(), desc="export", unit="graph")):
        bar.set_postfix_str(modality)
        start = time.perf_counter()
        export_graph(graph, out / graph.file)
        seconds[modality] = round(time.perf_counter() - start, 1)
    export_seconds = time.perf_counter() - started

    start = time.perf_counter()
    samples = real_samples(args.data)
    results = check_parity(
        out,
        model,
        backbones,
        samples,
        prep,
        FeatureStats.load(out / STATS_FILE),
        args.tolerance,
        args.threads,
        pose=pose,
    )
    parity_seconds = time.perf_counter() - start
    print("parity, ONNX Runtime (CPU) against PyTorch:")
    for result in results:
        print("  " + result.line())
    if not all(r.passed for r in results):
        print(f"parity check failed: {out} has no manifest and is not a usable bundle", file=sys.stderr)
        return 1

    graphs, opsets = {}, set()
    for modality, graph in exports.items():
        spec, opset = describe(out / graph.file)
        graphs[modality] = spec
        opsets.add(opset)
    manifest = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": identity,
        "dim": model.cfg.dim,
        "similarity": {
            "alignment": model.cfg.alignment,
            "aggregation": model.cfg.aggregation,
            "scale": float(model.log_scale.detach().clamp(max=math.log(100.0)).exp()),
        },
        "graphs": graphs,
        "preprocessing": prep,
        "versions": {**versions(), "opset": ",".join(map(str, sorted(opsets)))},
        "parity": {
            "tolerance": args.tolerance,
            "device": "CPUExecutionProvider",
            "results": {r.modality: r.to_dict() for r in results},
        },
        "export": {
            "seconds": round(export_seconds, 1),
            "graph_seconds": seconds,
            "parity_seconds": round(parity_seconds, 1),
            "video_settings_from": source,
        },
    }
    files = [g.file for g in graphs.values()] + [STATS_FILE] + [str(p.relative_to(out)) for p in tokenizer]
    bundle = write_manifest(out, manifest, files)
    size_mb = sum((out / f).stat().st_size for f in bundle.files) / 2**20
    print(
        f"bundle {out}: {len(bundle.graphs)} graphs, D={bundle.dim}, {size_mb:.1f} MiB, digest {bundle.digest[:16]}; "
        f"export {export_seconds:.0f} s, parity {parity_seconds:.0f} s"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporter", description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="a run directory or a release folder")
    parser.add_argument("--checkpoint", default="best", help="checkpoint of a run directory (best or last)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the bundle folder (default build/bundle)")
    parser.add_argument(
        "--data",
        type=Path,
        help="the run's dataset folder: video settings, motion statistics, "
        "and its speech and videos for the parity check",
    )
    parser.add_argument("--video-frames", type=int, help="frames per video (default: as cached for training, else 8)")
    parser.add_argument("--video-size", type=int, help="frame size in pixels (default: as cached, else 112)")
    parser.add_argument(
        "--text-backbone",
        type=Path,
        help="the local Hugging Face text model folder, if not the default all-MiniLM-L6-v2",
    )
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest relative parity error accepted")
    parser.add_argument(
        "--pose-run",
        type=Path,
        help="the pose encoder fine-tuned from --run (a run or release), "
        "exported as the pose graph (default: RUN/pose when there is one)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    args.pose_explicit = args.pose_run is not None
    if not args.pose_explicit:
        args.pose_run = args.run / POSE  # a release's own pose encoder, if any (one of another model: left out)
    if not (args.run / "config.yaml").exists():
        parser.error(f"{args.run} is not a run directory or release folder (no config.yaml)")
    try:
        return export(args)
    except ImportError as error:  # torch, onnx or onnxscript absent: the export extra is not installed
        print(f"python -m exporter: error: {error}; install the exporter with pip install -e '.[cpu,export]'",
              file=sys.stderr)  # fmt: skip
        return 2
    except Exception as error:  # any other failure: its real cause, in one line
        print(f"python -m exporter: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
