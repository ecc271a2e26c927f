"""``python -m dataset build|stats``: build the multimodal dataset, or describe one.

    python -m dataset build --source DIR --out DIR [--stages motion,splits,...] [--limit N]
        [--splits test,unseen]
    python -m dataset stats --out DIR

The source defaults to $MOTIONSEARCH_DATASET. A build that is interrupted
resumes when run again with the same arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dataset.build import POSE_SIZE, STAGES, Build, run
from dataset.splits import SPLITS
from dataset.stats import dataset_stats, print_stats
from motion.render import CAMERA_YAWS


def _size_range(text: str) -> tuple[int, int]:
    """``256`` or ``160-512``: (smallest, largest) frame size in pixels, 64 to 2048."""
    parts = text.split("-")
    if len(parts) > 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size or a range of sizes such as 160-512")
    sizes = (int(parts[0]), int(parts[-1]))
    if not 64 <= sizes[0] <= sizes[1] <= 2048:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must rise within 64-2048 pixels")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataset", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or resume building) the dataset")
    b.add_argument("--source", default=os.environ.get("MOTIONSEARCH_DATASET"), help="Bandai Namco dataset folder")
    b.add_argument("--out", required=True, type=Path, help="output folder (kept out of git)")
    b.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    b.add_argument("--limit", type=int, help="only the first N clips (smoke builds)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--splits", help="only these splits' items in the speech and video stages (e.g. test,unseen)")
    b.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for per-item stages")
    b.add_argument("--pose-views", type=int, default=1, help="cameras per clip in the pose stage (at least 1)")
    b.add_argument("--pose-yaws", choices=CAMERA_YAWS, default="round",
                   help="how the pose stage draws the cameras it adds: all round, or near the body's axes")  # fmt: skip
    b.add_argument("--pose-sizes", type=_size_range, default=(POSE_SIZE, POSE_SIZE), metavar="MIN-MAX",
                   help=f"frame sizes (px) of the views the pose stage adds (default {POSE_SIZE})")  # fmt: skip
    s = sub.add_parser("stats", help="counts, hours of audio, voices, caption diversity, build times")
    s.add_argument("--out", required=True, type=Path, help="a built dataset folder")
    s.add_argument("--json", type=Path, help="also write the statistics as JSON")
    args = parser.parse_args(argv)

    if args.command == "build":
        if not args.source:
            parser.error("--source is required (or set MOTIONSEARCH_DATASET)")
        stages = [s.strip() for s in args.stages.split(",") if s.strip()]
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            parser.error(f"unknown stage(s) {unknown}; stages: {', '.join(STAGES)}")
        splits = tuple(s.strip() for s in args.splits.split(",")) if args.splits else None
        if splits and set(splits) - set(SPLITS):
            parser.error(f"unknown split(s) {sorted(set(splits) - set(SPLITS))}; splits: {', '.join(SPLITS)}")
        if args.pose_views < 1:
            parser.error("--pose-views must be at least 1")
        run(Build(Path(args.source), args.out, args.seed, args.limit, args.workers, splits, args.pose_views,
                  args.pose_yaws, args.pose_sizes), stages)  # fmt: skip
        return 0
    stats = dataset_stats(args.out)
    print_stats(stats)
    if args.json:
        import json

        args.json.write_text(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
