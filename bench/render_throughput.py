"""Video rendering throughput: mannequin frames/s, and the cost of storing and loading a frame stack.

Side by side in one run, per item of 16 frames (one clip, one seed): rendering,
then three ways to store the frames: the JPEG strip the dataset uses
(``dataset.render.save_frames``), raw uint8 ``.npy`` and ``np.savez_compressed``:
bytes on disk and milliseconds to save and to load.

    python -m bench.render_throughput [--source DIR] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.common import add_clip_arguments, sampled_clips, write_result
from dataset.render import JPEG_QUALITY, load_frames, render_frames, save_frames
from motion.canonical import load_canonical

FORMATS = ("jpeg", "npy", "npz")


def _save(fmt: str, path: Path, frames: np.ndarray) -> None:
    if fmt == "npy":
        np.save(path, frames)
    else:
        save_frames(path, frames)  # the suffix picks the format: .jpeg -> JPEG strip, .npz -> compressed numpy


def _load(fmt: str, path: Path) -> np.ndarray:
    return np.load(path) if fmt == "npy" else load_frames(path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.render_throughput", description=__doc__.split("\n")[0])
    add_clip_arguments(parser, limit=32)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/render_throughput.json)")
    args = parser.parse_args(argv)

    paths = sampled_clips(parser, args)
    motions = [load_canonical(p).positions for p in paths]
    render_frames(motions[0], n_frames=2, size=32)  # warm-up (imports, first allocations)

    cpu_render = 0.0  # process CPU time: robust to a busy machine, unlike the wall-clock numbers
    seconds = {"render": 0.0} | {f"{fmt}_{op}": 0.0 for fmt in FORMATS for op in ("save", "load")}
    sizes = dict.fromkeys(FORMATS, 0)
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, joints in enumerate(tqdm(motions, desc="render", unit="clip")):
            t0, c0 = time.perf_counter(), time.process_time()
            frames = render_frames(joints, n_frames=args.frames, size=args.size, seed=i)
            seconds["render"] += time.perf_counter() - t0
            cpu_render += time.process_time() - c0
            for fmt in FORMATS:
                path = Path(tmp, f"{i}.{fmt}")
                t0 = time.perf_counter()
                _save(fmt, path, frames)
                t1 = time.perf_counter()
                back = _load(fmt, path)
                t2 = time.perf_counter()
                seconds[f"{fmt}_save"] += t1 - t0
                seconds[f"{fmt}_load"] += t2 - t1
                sizes[fmt] += path.stat().st_size
                if fmt == "jpeg":
                    errors.append(float(np.abs(back.astype(np.int16) - frames).mean()))
    n = len(motions)
    result = {
        "source": str(args.source),
        "clips": n,
        "frames_per_clip": args.frames,
        "size": args.size,
        "jpeg_quality": JPEG_QUALITY,
        "render_frames_per_s": round(n * args.frames / seconds["render"], 1),
        "render_frames_per_cpu_s": round(n * args.frames / max(cpu_render, 1e-9), 1),
        "ms_per_item": {k: round(1000 * v / n, 2) for k, v in seconds.items()},
        "kb_per_item": {k: round(v / n / 1024, 1) for k, v in sizes.items()},
        "jpeg_mean_abs_error": round(float(np.mean(errors)), 2),
        "ratio_npy_over_jpeg_bytes": round(sizes["npy"] / sizes["jpeg"], 1),
    }
    path = write_result("render_throughput", result, args.out)
    loads = {f: result["ms_per_item"][f"{f}_load"] for f in FORMATS}
    print(
        f"{n} clips: {result['render_frames_per_s']} frames/s ({result['render_frames_per_cpu_s']} per CPU s); "
        f"kB per item {result['kb_per_item']}; load ms {loads}; {path}"
    )
    return result


if __name__ == "__main__":
    main()
