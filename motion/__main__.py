"""The motion command line: ``python -m motion {inspect,features,convert,check} ...``.

    inspect FILE.bvh            skeleton, fps, frames and the rig mapping found
    features FILE.bvh           feature shape, windows and per-block statistics
    convert IN.bvh OUT.bvh      resample (--fps), crop (--start/--end seconds), --mirror
    check DIR                   map every BVH under DIR; report failures (exit 1 if any)

Errors in a file (malformed BVH, unknown rig) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from motion.bvh import BvhError, read_bvh, write_bvh
from motion.canonical import canonicalize
from motion.features import LAYOUT, motion_features
from motion.mirror import mirror_bvh
from motion.resample import MAX_FRAMES, TARGET_FPS, crop_bvh, crop_windows, resample_bvh
from motion.rigs import RigError, resolve_rig
from motion.skeleton import JOINTS

DATASET_ENV = "MOTIONSEARCH_DATASET"


def _rig_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rig", help="rig preset name or JSON rig map (default: detect)")
    parser.add_argument("--units", choices=["m", "cm", "inch"], help="declare the file's units (default: detect)")
    parser.add_argument("--up", choices=["y", "z"], help="declare the file's up axis (default: detect)")


def _canonical(args: argparse.Namespace, motion):
    return canonicalize(motion, rig=args.rig, units=args.units, up=args.up, fps=args.fps)


def cmd_inspect(args: argparse.Namespace) -> int:
    motion = read_bvh(args.file)
    sk = motion.skeleton
    print(f"file      {args.file}")
    print(f"frames    {motion.n_frames} at {motion.fps:.3f} fps ({(motion.n_frames - 1) / motion.fps:.2f} s)")
    print(f"skeleton  {sk.n_joints} joints, {sk.n_channels} channels")
    for j, name in enumerate(sk.names):
        depth, p = 0, sk.parents[j]
        while p >= 0:
            depth, p = depth + 1, sk.parents[p]
        print(f"          {'  ' * depth}{name}  [{' '.join(sk.channels[j])}]")
    bound = resolve_rig(sk, args.rig)
    canon = _canonical(args, motion)
    print(f"rig       {bound.rig.name} (units {canon.units}, up {canon.up})")
    for c, name in enumerate(JOINTS):
        a, b = bound.sources[c]
        src = sk.names[a] if a == b else f"{bound.weights[c]:.2f} of the way {sk.names[a]} -> {sk.names[b]}"
        print(f"          {name:<15} <- {src}")
    dropped = sorted(set(range(sk.n_joints)) - set(bound.sources.ravel().tolist()))
    print(f"dropped   {', '.join(sk.names[j] for j in dropped) or 'none'}")
    print(f"canonical {canon.n_frames} frames at {canon.fps:g} fps, height {canon.positions[0, :, 1].max():.3f} m")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    canon = _canonical(args, read_bvh(args.file))
    feats = motion_features(canon.positions, canon.fps)
    windows = crop_windows(len(feats), MAX_FRAMES)
    finite = np.isfinite(feats).all()
    print(f"features  {feats.shape[0]} x {feats.shape[1]} (float32, {canon.fps:g} fps), finite: {finite}")
    print(f"windows   {len(windows)} of at most {MAX_FRAMES} frames: {windows}")
    print(f"{'block':<13} {'dims':>5} {'mean':>9} {'std':>9} {'min':>9} {'max':>9}")
    for name, sl in LAYOUT.items():
        block = feats[:, sl]
        stats = "".join(f" {v:>9.4f}" for v in (block.mean(), block.std(), block.min(), block.max()))
        print(f"{name:<13} {block.shape[1]:>5}{stats}")
    if args.out:
        np.save(args.out, feats)
        print(f"saved     {args.out}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    motion = read_bvh(args.input)
    if args.start is not None or args.end is not None:
        start = round((args.start or 0.0) * motion.fps)
        stop = motion.n_frames if args.end is None else min(motion.n_frames, round(args.end * motion.fps) + 1)
        try:
            motion = crop_bvh(motion, start, stop)
        except ValueError as err:
            raise BvhError(args.input, str(err)) from None
    if args.mirror:
        motion = mirror_bvh(motion)
    if args.fps:
        motion = resample_bvh(motion, args.fps)
    write_bvh(args.output, motion)
    print(f"wrote {args.output}: {motion.n_frames} frames at {motion.fps:g} fps{' (mirrored)' if args.mirror else ''}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    folder = Path(args.folder or os.environ.get(DATASET_ENV) or "data/demo")
    files = sorted(folder.rglob("*.bvh"))
    if not files:
        print(f"error: no .bvh files under {folder}", file=sys.stderr)
        return 2
    failures: dict[str, str] = {}
    frames = 0
    rigs: dict[str, int] = {}
    for path in tqdm(files, desc="mapping clips", unit="clip"):
        try:
            canon = _canonical(args, read_bvh(path))
            feats = motion_features(canon.positions, canon.fps)
            if not np.isfinite(feats).all():
                raise ValueError("non-finite features")
            frames += len(feats)
            rigs[canon.rig] = rigs.get(canon.rig, 0) + 1
        except (BvhError, RigError, ValueError) as err:
            failures[path.name] = str(err)
    report = {"folder": str(folder), "clips": len(files), "ok": len(files) - len(failures), "failures": failures,
              "feature_frames": frames, "rigs": rigs}  # fmt: skip
    print(f"{report['ok']}/{len(files)} clips map to the canonical skeleton with finite features "
          f"({frames} feature frames at {args.fps:g} fps; rigs: {rigs})")  # fmt: skip
    print(f"failures: {len(failures)}")
    for name, err in failures.items():
        print(f"  {name}: {err}")
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2))
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m motion", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="skeleton, fps, frames and the rig mapping of a BVH file")
    p.add_argument("file")
    _rig_options(p)
    p.set_defaults(run=cmd_inspect, fps=TARGET_FPS)

    p = sub.add_parser("features", help="canonical features of a BVH file")
    p.add_argument("file")
    p.add_argument("--fps", type=float, default=TARGET_FPS)
    p.add_argument("--out", help="save the features as .npy")
    _rig_options(p)
    p.set_defaults(run=cmd_features)

    p = sub.add_parser("convert", help="resample, crop or mirror a BVH file (same rig)")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--fps", type=float, help="target frame rate")
    p.add_argument("--start", type=float, help="first second to keep")
    p.add_argument("--end", type=float, help="last second to keep")
    p.add_argument("--mirror", action="store_true", help="swap left and right")
    p.set_defaults(run=cmd_convert)

    p = sub.add_parser("check", help=f"map every BVH under a folder (default: ${DATASET_ENV} or data/demo)")
    p.add_argument("folder", nargs="?")
    p.add_argument("--fps", type=float, default=TARGET_FPS)
    p.add_argument("--report", help="write the report as JSON")
    _rig_options(p)
    p.set_defaults(run=cmd_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (BvhError, RigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
