"""Video rendering throughput: mannequin frames/s, and the cost of storing and loading a frame stack.

Side by side in one run: rendering, JPEG-strip save/load (what the dataset
stores) and raw .npy save/load of the same frames, per item of 16 frames.

    python -m bench.render_throughput [--source DIR] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.common import write_result
from dataset.render import load_frames, render_frames, save_frames
from motion.canonical import load_canonical

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.render_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEMO)
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    paths = sorted(Path(args.source).rglob("*.bvh"))
    paths = sorted(random.Random(0).sample(paths, min(args.limit, len(paths))))
    motions = [load_canonical(p).positions for p in paths]

    seconds = dict.fromkeys(("render", "jpeg_save", "jpeg_load", "npy_save", "npy_load"), 0.0)
    sizes = {"jpeg": 0, "npy": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for i, joints in enumerate(tqdm(motions, desc="render", unit="clip")):
            t0 = time.perf_counter()
            frames = render_frames(joints, n_frames=args.frames, size=args.size, seed=i)
            t1 = time.perf_counter()
            jpg = Path(tmp, f"{i}.jpg")
            save_frames(jpg, frames)
            t2 = time.perf_counter()
            load_frames(jpg)
            t3 = time.perf_counter()
            buffer = io.BytesIO()
            np.save(buffer, frames)
            Path(tmp, f"{i}.npy").write_bytes(buffer.getvalue())
            t4 = time.perf_counter()
            np.load(Path(tmp, f"{i}.npy"))
            t5 = time.perf_counter()
            for key, dt in zip(seconds, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                seconds[key] += dt
            sizes["jpeg"] += jpg.stat().st_size
            sizes["npy"] += os.path.getsize(Path(tmp, f"{i}.npy"))
    n = len(motions)
    result = {
        "clips": n,
        "frames_per_clip": args.frames,
        "size": args.size,
        "render_frames_per_s": round(n * args.frames / seconds["render"], 1),
        "ms_per_item": {k: round(1000 * v / n, 2) for k, v in seconds.items()},
        "kb_per_item": {k: round(v / n / 1024, 1) for k, v in sizes.items()},
        "ratio_npy_over_jpeg_bytes": round(sizes["npy"] / sizes["jpeg"], 1),
    }
    path = write_result("render_throughput", result, args.out)
    print(f"{result['render_frames_per_s']} frames/s; {result['kb_per_item']} per item; {path}")
    return result


if __name__ == "__main__":
    main()
