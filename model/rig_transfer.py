"""Rig transfer: retrieval on the test split written onto other rigs and read back like a user's file.

    python -m model.rig_transfer [RUN] [--data DATA] [--rigs mixamo,cmu,iclone] [--limit N] [--out FILE]

Every clip of the split is read from its source BVH (the dataset build's ``source``), canonicalised at its own
frame rate, put on another body and written as that rig exports it (``motion.rig_export.RIGS``: names, extra
joints, units, up axis, frame rate, place in the world). Each file is then read back as the server ingests a
user's file (``server.library``: ``read_bvh``, ``canonicalize`` with no rig, units or up given, features at
20 fps on the reference body of ``motion.body``, the mirror from the mirrored positions) and normalised with
the run's feature statistics. The motions of each rig replace the dataset's own (``RetrievalData.motions``)
and are scored like ``model.evaluate``: text->motion and motion->text in both registers (label captions)
under every protocol, and motion(rig)->motion(original), each rig motion against the original motions (the
build's joints, on the reference body as the server indexes them). A rig is *within 1 point* when no label
R@1, label R@5 or strict R@10 of text<->motion falls more than 1 point below the original's.
``--original-body`` adds each rig with the clip's own body (its size and proportions) to tell the rig
handling from the change of body.

Writes ``--out`` (default ``docs/results/rig-transfer.json``) with the commit, the date, the rigs and the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common.files import git_commit
from dataset.splits import mirror_id, source_id
from model.data import RetrievalData
from model.evaluate import VIEWS, encode, protocols, scores
from model.load import load_run, trained_stats
from model.modeling import MotionSearchModel, Tokens
from motion import canonicalize, motion_features, read_bvh, write_bvh
from motion.body import reference_features, to_reference
from motion.normalize import FeatureStats
from motion.resample import TARGET_FPS
from motion.rig_export import RIGS, RigExport, export_rig
from motion.sources import find_clips

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUN = ROOT / "model" / "weights" / "default"
DEFAULT_OUT = ROOT / "docs" / "results" / "rig-transfer.json"
GATED = (("all_labels", "R@1"), ("all_labels", "R@5"), ("all_strict", "R@10"))  # the "within 1 point" metrics


def ingest(path: Path) -> tuple[dict, np.ndarray, np.ndarray]:
    """What the server reads from a user's file: the detected rig, units and up axis, and the features of the
    clip and of its mirror (``server.library.Library._canonical`` and ``_features``)."""
    canon = canonicalize(read_bvh(path))
    facts = {"rig": canon.rig, "units": canon.units, "up": canon.up}
    return facts, *reference_features(canon.positions)


def transfer(clips: dict[str, Path], spec: RigExport, folder: Path, keep: bool = False) -> tuple[dict, dict]:
    """Every clip written as ``spec``'s rig into ``folder`` and read back: (item -> features, detection counts)."""
    folder.mkdir(parents=True, exist_ok=True)
    features, detected = {}, Counter()
    for clip_id, source in tqdm(sorted(clips.items()), desc=f"rig {spec.rig}", unit="clip"):
        motion = read_bvh(source)
        canon = canonicalize(motion, fps=motion.fps)
        path = folder / f"{clip_id}.bvh"
        write_bvh(path, export_rig(canon.positions, canon.fps, spec, source=str(path)))
        facts, own, mirrored = ingest(path)
        detected[f"{facts['rig']}/{facts['units']}/{facts['up']}-up"] += 1
        features[clip_id], features[mirror_id(clip_id)] = own, mirrored
        if not keep:
            path.unlink()
    return features, dict(detected)


def score(model: MotionSearchModel, data: RetrievalData, texts: dict[str, Tokens], original: Tokens | None) -> tuple[
    dict, Tokens
]:  # fmt: skip
    """text<->motion of ``data``'s current motions (both registers), and motion->motion against ``original``."""
    motion = encode(model, data, "motion", VIEWS["text"][0][1])
    out = {}
    for name, tokens in texts.items():
        sim = scores(model, tokens, motion)
        out[f"text->motion/{name}"] = protocols(sim, data)
        out[f"motion->text/{name}"] = protocols(sim.T.copy(), data)
    if original is not None:
        out["motion(rig)->motion(original)"] = protocols(scores(model, motion, original), data)
    return out, motion


def drops(results: dict, reference: dict) -> dict:
    """Points each gated metric of text<->motion falls below ``reference`` (negative: it rose)."""
    return {f"{key} {protocol} {metric}": round(reference[key][protocol][metric] - r[protocol][metric], 2)
            for key, r in results.items() if key.startswith(("text->", "motion->text"))
            for protocol, metric in GATED}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.rig_transfer", description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, nargs="?", default=DEFAULT_RUN, help="a release folder or run directory")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--data", type=Path, help="the built dataset (default: the run's)")
    parser.add_argument("--source", type=Path, help="the source BVH folder (default: the build's source)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--rigs", default=",".join(RIGS), help=f"comma-separated, of {', '.join(RIGS)}")
    parser.add_argument("--original-body", action="store_true", help="also each rig on the clip's own body")
    parser.add_argument("--limit", type=int, help="a seeded sample of N clips (and their mirrors): a smoke run")
    parser.add_argument("--work", type=Path, help="where the rig files go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the rig files in --work")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.rigs.split(",")) - set(RIGS))
    if unknown:
        parser.error(f"unknown rig(s) {unknown}; use {', '.join(RIGS)}")

    model, config, state = load_run(args.run, args.checkpoint)
    folder = Path(args.data or config.data)
    data = RetrievalData(folder, args.split, ["motion", "text"])
    if args.limit:
        clip_ids = sorted({source_id(i) for i in data.items})
        keep = set(random.Random(0).sample(clip_ids, min(args.limit, len(clip_ids))))
        data.items = [i for i in data.items if source_id(i) in keep]
    stats = FeatureStats.load(trained_stats(args.run, folder))
    source = args.source or Path(json.loads((folder / "build.json").read_text())["source"])
    by_id = {c.id: c.path for c in find_clips(source)}
    clips = {c: by_id[c] for c in sorted({source_id(i) for i in data.items})}

    texts = {name: encode(model, data, "text", view) for name, view in VIEWS["text"]}
    # the original as the server indexes it: the build's joints on the reference body
    data.motions = {i: stats.normalize(motion_features(to_reference(np.load(folder / "joints" / f"{i}.npy")),
                                                       TARGET_FPS)) for i in data.items}  # fmt: skip
    original, original_motion = score(model, data, texts, None)
    specs = [(name, RIGS[name]) for name in args.rigs.split(",")]
    if args.original_body:
        specs += [(f"{name} (original body)", dataclasses.replace(RIGS[name], stature=None, proportions={}))
                  for name in args.rigs.split(",")]  # fmt: skip
    report = {"run": str(args.run), "epoch": state["epoch"], "data_hash": state.get("data_hash"),
              "data": str(folder), "source": str(source), "split": args.split, "clips": len(clips),
              "items": len(data.items), "git_commit": git_commit(), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "gate": "text<->motion label R@1, label R@5 and strict R@10 within 1 point of the original",
              "original": original, "rigs": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rigs-") as scratch:
        work = args.work or Path(scratch)
        for name, spec in specs:
            features, detected = transfer(clips, spec, work / name.split()[0], keep=args.keep)
            data.motions = {i: stats.normalize(features[i]) for i in data.items}
            results, _ = score(model, data, texts, original_motion)
            fallen = drops(results, original)
            report["rigs"][name] = {
                "export": {k: v for k, v in dataclasses.asdict(spec).items() if k != "extras"}
                | {"extra_joints": [e.name for e in spec.extras]},
                "detected": detected,
                "results": results,
                "drop_points": fallen,
                "largest_drop": max(fallen.values()),
                "within_1_point": max(fallen.values()) <= 1.0,
            }
            print_rig(name, report["rigs"][name], original)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


def print_rig(name: str, entry: dict, original: dict) -> None:
    print(f"\n{name}: read back as {entry['detected']}; largest drop {entry['largest_drop']:.2f} points "
          f"({'within' if entry['within_1_point'] else 'NOT within'} 1 point)")  # fmt: skip
    for key, r in entry["results"].items():
        ref = original.get(key)
        cells = [f"{p[4:]} {m} {r[p][m]:6.2f}" + (f" ({ref[p][m]:6.2f})" if ref else "") for p, m in GATED]
        print(f"  {key:<32} " + " | ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
