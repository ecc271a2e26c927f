"""What every benchmark shares: the machine it ran on and where its JSON goes."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """The facts a reader needs to compare two results files."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_result(name: str, result: dict, out: Path | None = None) -> Path:
    """Write ``result`` plus machine facts to ``out`` (default bench/results/NAME.json)."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **result}, indent=2) + "\n")
    return path


DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def add_clip_arguments(parser: argparse.ArgumentParser, limit: int | None = None) -> None:
    """``--source`` (default ``$MOTIONSEARCH_DATASET``, else the demo library) and ``--limit`` (a seeded sample)."""
    parser.add_argument("--source", type=Path, default=os.environ.get("MOTIONSEARCH_DATASET") or DEMO)
    default = f"default {limit}" if limit else "default: all"
    parser.add_argument("--limit", type=int, default=limit, help=f"a seeded sample of N clips ({default})")


def sampled_clips(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Path]:
    """The BVH files under ``args.source``, a seeded sample of ``args.limit`` of them when given, sorted."""
    clips = sorted(Path(args.source).rglob("*.bvh"))
    if not clips:
        parser.error(f"no .bvh files under {args.source}")
    if args.limit:
        clips = sorted(random.Random(0).sample(clips, min(args.limit, len(clips))))
    return clips
