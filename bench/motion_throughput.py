"""BVH -> canonical features throughput (clips/s), stage by stage.

Stages, each timed over the same clips in one run:

    read        motion.bvh.read_bvh (validated text parse, numpy channels)
    canonical   motion.canonical.canonicalize (rig map, FK, units, 20 fps, placement)
    features    motion.features.motion_features (263-d HumanML3D-style features)

and, side by side, ``bvhio.readAsBvh`` alone (the BVH library's own full parse)
so the ratio says what our validated reader costs against the library.

    python -m bench.motion_throughput --source DIR [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bvhio
from tqdm import tqdm

from bench.common import add_clip_arguments, sampled_clips, write_result
from motion.bvh import read_bvh
from motion.canonical import canonicalize
from motion.features import motion_features


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.motion_throughput", description=__doc__.split("\n")[0])
    add_clip_arguments(parser)
    parser.add_argument("--out", type=Path, help="JSON path (default bench/results/motion_throughput.json)")
    args = parser.parse_args(argv)

    clips = sampled_clips(parser, args)

    seconds = dict.fromkeys(("read", "canonical", "features", "bvhio_readAsBvh"), 0.0)
    frames = 0
    for path in tqdm(clips, desc="bench", unit="clip"):
        t0 = time.perf_counter()
        motion = read_bvh(path)
        t1 = time.perf_counter()
        canon = canonicalize(motion)
        t2 = time.perf_counter()
        motion_features(canon.positions, canon.fps)
        t3 = time.perf_counter()
        bvhio.readAsBvh(str(path))
        t4 = time.perf_counter()
        seconds["read"] += t1 - t0
        seconds["canonical"] += t2 - t1
        seconds["features"] += t3 - t2
        seconds["bvhio_readAsBvh"] += t4 - t3
        frames += motion.n_frames

    n = len(clips)
    pipeline = seconds["read"] + seconds["canonical"] + seconds["features"]
    result = {
        "source": str(args.source),
        "clips": n,
        "source_frames": frames,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "clips_per_s": {k: round(n / v, 1) for k, v in seconds.items()} | {"pipeline": round(n / pipeline, 1)},
        "ratio_pipeline_vs_bvhio_parse": round(seconds["bvhio_readAsBvh"] / pipeline, 2),
        "ratio_read_vs_bvhio_parse": round(seconds["bvhio_readAsBvh"] / seconds["read"], 2),
    }
    path = write_result("motion_throughput", result, args.out)
    print(f"{n} clips: pipeline {result['clips_per_s']['pipeline']} clips/s "
          f"({result['ratio_pipeline_vs_bvhio_parse']}x bvhio's parse alone); {path}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
