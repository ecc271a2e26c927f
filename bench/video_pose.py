"""Video -> motion search through body pose vs the frame encoder, on rendered test-split clips.

    python -m bench.video_pose [--dataset DIR] [--bundle build/bundle] [--clips 100] [--size 256] [--split test]

Gallery: every test-split clip of the dataset (``dataset.splits``), each encoded by the bundle's motion
encoder from its BVH on the reference body (``motion.body``), as the server indexes it. Queries: ``--clips``
of them, spread evenly over the sorted test ids, rendered with the mannequin renderer (``motion.render``; a
look drawn per clip) from the front, the side (90 degrees) and 45 degrees, 10 degrees above the horizon, the
camera following the body. Each rendering is searched two ways, scored with Eq. 8 as the server scores:

* ``pose``: frames at 10 fps (what ``pose.video`` analyses of a 30 fps video) -> BlazePose -> canonical
  skeleton -> motion features -> the motion encoder;
* ``frames``: the frames the frame encoder samples -> the bundle's video encoder (the old SearchVideo).

Metrics (``model.metrics``): label R@1 (same content and style), content R@5 (same content), strict R@1 and
R@5 (the clip itself), per camera angle and over all (with the label R@1 spread: the best angle's minus the
worst's); ``sides_swapped``: queries whose first hit is the clip's action with left and right swapped
(``motion.mirror.mirror_label``: the body read as facing the other way); and how far the pose path's body
travels against the clip's own (``root_travel``: the median ratio of start-to-end distances, over the clips
that travel at least ``TRAVEL_MIN`` metres). ``--split val`` searches and queries the validation split
instead (choosing between models without the test split). Writes ``bench/results/video_pose.json`` with the
sample size and the machine. The SearchVideo latency of the pose path is ``bench.video_latency``'s.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.common import write_result
from model.metrics import ranks, relevance, summarize
from motion.body import to_reference
from motion.canonical import load_canonical
from motion.features import motion_features
from motion.mirror import mirror_label
from motion.render import framing_camera, render_frames
from motion.skeleton import INDEX
from motion.sources import find_clips
from pose.blazepose import PoseEstimator
from pose.video import POSE_FPS, video_motion
from preprocess.frames import sample_indices
from server.encoders import Encoders
from server.similarity import Similarity, eq8

ROOT = Path(__file__).resolve().parents[1]
PELVIS = INDEX["pelvis"]
VIEWS = {"front": 0.0, "side": 90.0, "diagonal": 45.0}
TRAVEL_MIN = 1.0  # metres: clips that travel less have no root_travel ratio


def _travel(positions: np.ndarray) -> float:
    """Start-to-end horizontal distance of the pelvis (metres)."""
    return float(np.linalg.norm(positions[-1, PELVIS, [0, 2]] - positions[0, PELVIS, [0, 2]]))


def _metrics(scores: np.ndarray, queries: list, gallery: list) -> dict:
    pairs = [(c.content, c.style) for c in queries], [(c.content, c.style) for c in gallery]
    label = summarize(ranks(scores, relevance(*pairs)))
    content = summarize(ranks(scores, relevance([c.content for c in queries], [c.content for c in gallery])))
    strict = summarize(ranks(scores, relevance([c.id for c in queries], [c.id for c in gallery])))
    return {"label_R@1": label["R@1"], "label_R@5": label["R@5"], "content_R@1": content["R@1"],
            "content_R@5": content["R@5"], "strict_R@1": strict["R@1"], "strict_R@5": strict["R@5"],
            "sides_swapped": _sides_swapped(scores, queries, gallery)}  # fmt: skip


def _sides_swapped(scores: np.ndarray, queries: list, gallery: list) -> int:
    """Queries whose first hit's content is the query's with left and right swapped (and not the same)."""
    top = np.argmax(scores, axis=1)
    return sum(mirror_label(q.content) != q.content and gallery[t].content == mirror_label(q.content)
               for q, t in zip(queries, top))  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from dataset.splits import assign_splits

    parser = argparse.ArgumentParser(prog="python -m bench.video_pose", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, default=os.environ.get("MOTIONSEARCH_DATASET"))
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "bundle")
    parser.add_argument("--clips", type=int, default=100, help="clips of the split rendered as queries")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="the split searched and queried: val to choose models, test to report")  # fmt: skip
    parser.add_argument("--size", type=int, default=256, help="rendered frame size (pixels)")
    parser.add_argument("--out", type=Path, help="result file (default bench/results/video_pose.json)")
    args = parser.parse_args(argv)
    if not args.dataset:
        parser.error("--dataset (or MOTIONSEARCH_DATASET) is required")
    clips = find_clips(args.dataset)
    splits = assign_splits(clips)
    test = [c for c in clips if splits[c.id] == args.split]
    encoders = Encoders.open(args.bundle)
    aggregation = Similarity.of(encoders.bundle).aggregation
    estimator = PoseEstimator()

    started = time.perf_counter()
    motions, gallery = {}, []
    for clip in test:
        motion = load_canonical(clip.path)
        motions[clip.id] = motion
        gallery.append(encoders.encode_motion(motion_features(to_reference(motion.positions), motion.fps)))
    gallery_s = time.perf_counter() - started
    picks = [test[i] for i in np.linspace(0, len(test) - 1, min(args.clips, len(test))).round().astype(int)]
    n_video = encoders.bundle.preprocessing.video.frames

    scores = {path: {view: [] for view in VIEWS} for path in ("pose", "frames")}
    seconds = {"render": 0.0, "pose": 0.0, "frames": 0.0}
    missed = {view: 0 for view in VIEWS}
    travel = {view: [] for view in VIEWS}  # (pose path's travel) / (the clip's), clips travelling TRAVEL_MIN or more
    window = encoders.bundle.preprocessing.motion.max_frames  # the motion encoder sees the centre 9.8 s
    for k, clip in enumerate(picks):
        motion = motions[clip.id]
        start = max(0, (motion.n_frames - window) // 2)
        joints = motion.positions[start : start + window]  # what SearchVideo analyses of a longer video
        n_pose = max(1, int(round((len(joints) - 1) / motion.fps * POSE_FPS)) + 1)
        travelled = _travel(joints)
        for view, yaw in VIEWS.items():
            camera = framing_camera(joints, motion.fps, yaw=yaw, elevation=10.0)
            t0 = time.perf_counter()
            frames = render_frames(joints, motion.fps, n_pose, args.size, seed=k, camera=camera)
            sampled = render_frames(joints, motion.fps, n_video, args.size, seed=k, camera=camera)
            t1 = time.perf_counter()
            try:
                video = video_motion(estimator, frames, len(frames), fps=POSE_FPS)
                query = encoders.encode_pose_motion(video.features)
                missed[view] += int((~video.track.found).sum())
            except ValueError:
                query = None
            t2 = time.perf_counter()
            if query is not None and travelled >= TRAVEL_MIN:
                travel[view].append(_travel(video.positions) / travelled)
            framed = encoders.encode_video(sampled[sample_indices(len(sampled), n_video)])
            t3 = time.perf_counter()
            seconds["render"] += t1 - t0
            seconds["pose"] += t2 - t1
            seconds["frames"] += t3 - t2
            for path, q in (("pose", query), ("frames", framed)):
                row = [eq8(*q, *g, aggregation) if q is not None else 0.0 for g in gallery]
                scores[path][view].append(row)
        if (k + 1) % 10 == 0:
            print(f"{k + 1}/{len(picks)} clips, {time.perf_counter() - started:.0f} s", flush=True)

    result = {
        "bundle": str(args.bundle),
        "gallery": f"{args.split} split: {len(test)} clips, motion encoder",
        "sample": {
            "clips": len(picks),
            "views": list(VIEWS),
            "queries": len(picks) * len(VIEWS),
            "frame_size": args.size,
            "pose_fps": POSE_FPS,
            "video_encoder_frames": n_video,
        },
        "seconds": {"gallery": round(gallery_s, 1), **{k: round(v, 1) for k, v in seconds.items()}},
        "pose_frames_without_person": missed,
        "root_travel": {
            view: {"clips": len(r), "median_ratio": round(float(np.median(r)), 3) if r else None}
            for view, r in travel.items()
        },
    }
    for path in scores:
        per_view = {view: _metrics(np.array(rows), picks, test) for view, rows in scores[path].items()}
        everything = np.concatenate([np.array(rows) for rows in scores[path].values()])
        per_view["all"] = _metrics(everything, picks * len(VIEWS), test)
        label = [per_view[view]["label_R@1"] for view in VIEWS]
        per_view["all"]["label_R@1_spread"] = round(max(label) - min(label), 2)  # best angle minus worst
        result[path] = per_view
    write_result("video_pose", result, args.out)
    for path in ("pose", "frames"):
        for view, m in result[path].items():
            print(f"{path:6s} {view:8s} label R@1 {m['label_R@1']:5.1f}  content R@5 {m['content_R@5']:5.1f}  "
                  f"strict R@1 {m['strict_R@1']:5.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
