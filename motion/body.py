"""The reference body: every motion the server indexes or is asked with is measured on one body (numpy, no torch).

The motion features are in metres, so the same movement performed by a 1.95 m Mixamo character, a child or a
rig with CMU's wide hips gives other features than the dataset's performers give, and the model ranks it
lower. :func:`to_reference` rebuilds a clip on the reference body, as HumanML3D retargets every motion to one
skeleton: joint angles kept, every bone set to the reference length (:func:`scale_bones`), the root path
scaled with the legs, the feet on the floor. The reference, ``reference_body.json``, holds the mean
bone lengths of the dataset's clips (``python -m motion.body fit DIR`` rewrites it); the pose path builds the
bodies it sees on video with the same lengths (``pose.skeleton``).

The server applies it to the features of every clip it indexes and every example motion it is asked with
(``server.library``); training keeps the performers' own bodies (the robust fine-tune jitters them), and the
dataset's own test clips rank the same either way (docs/model.md, *Rig transfer*).
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from motion.features import motion_features
from motion.mirror import mirror_positions
from motion.resample import TARGET_FPS
from motion.skeleton import INDEX, JOINTS, N_JOINTS, PARENTS

REFERENCE = Path(__file__).resolve().parent / "reference_body.json"
MIN_BONE = 1e-4  # m: a shorter bone (two joints at one place, as some rigs map them) keeps its length
FEET = [INDEX[n] for n in ("left_ankle", "left_foot", "right_ankle", "right_foot")]


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """(21,) mean length of every bone (parent -> joint 1..21) over the frames."""
    return np.linalg.norm(positions[:, 1:] - positions[:, list(PARENTS[1:])], axis=-1).mean(0)


def scale_bones(positions: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Every bone vector (parent -> joint j) times ``factors[j]`` (22,; entry 0 unused), rebuilt from the pelvis.

    The pelvis path (relative to frame 0, and its height) scales with the legs; the clip's lowest foot point
    stays at its height."""
    p = np.asarray(positions, np.float64)
    legs = float(np.mean(factors[[INDEX["left_knee"], INDEX["left_ankle"]]]))
    out = np.empty_like(p)
    pelvis = p[:, 0]
    out[:, 0] = pelvis[:1] * [1, 0, 1] + (pelvis - pelvis[:1] * [1, 0, 1]) * legs
    for j in range(1, N_JOINTS):  # tree order: the parent is rebuilt first
        out[:, j] = out[:, PARENTS[j]] + factors[j] * (p[:, j] - p[:, PARENTS[j]])
    out[..., 1] += p[:, FEET, 1].min() - out[:, FEET, 1].min()
    return out


@lru_cache(maxsize=1)
def reference_lengths() -> dict[str, float]:
    """The reference body's bone lengths (m), by the name of each bone's child joint."""
    return json.loads(REFERENCE.read_text(encoding="utf-8"))["lengths"]


def to_reference(positions: np.ndarray) -> np.ndarray:
    """Canonical positions (F, 22, 3) rebuilt on the reference body: the same joint angles, path and timing."""
    lengths = bone_lengths(positions)
    target = np.array([reference_lengths()[name] for name in JOINTS[1:]])
    factors = np.ones(N_JOINTS)
    have = lengths > MIN_BONE
    factors[1:][have] = target[have] / lengths[have]
    return scale_bones(positions, factors)


def reference_features(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model features of canonical positions at 20 fps and of their mirror, both on the reference body: what
    the server indexes and searches with."""
    body = to_reference(positions)
    return motion_features(body, TARGET_FPS), motion_features(mirror_positions(body), TARGET_FPS)


def fit(motions: list[np.ndarray]) -> dict[str, float]:
    """Mean bone lengths (m) over every frame of canonical positions (T, 22, 3), by child joint."""
    lengths = bone_lengths(np.concatenate([np.asarray(m, np.float64) for m in motions]))
    return {name: round(float(v), 5) for name, v in zip(JOINTS[1:], lengths)}


FIT_CLIPS = 150  # clips a fit reads, spread over the sorted folder


def spread_motions(source: Path, clips: int = FIT_CLIPS) -> list[np.ndarray]:
    """Canonical positions of ``clips`` BVH files spread evenly over the sorted files under ``source``: what
    ``python -m motion.body fit`` and ``python -m pose.skeleton fit`` fit the reference body and torso to."""
    from motion.canonical import load_canonical

    paths = sorted(Path(source).rglob("*.bvh"))
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(clips, len(paths))).round().astype(int)]
    return [load_canonical(p).positions for p in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m motion.body", description="fit the reference body")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("fit", help="mean bone lengths of BVH clips -> reference_body.json")
    cmd.add_argument("source", type=Path, help="a folder of BVH clips (e.g. the dataset)")
    cmd.add_argument("--clips", type=int, default=FIT_CLIPS, help="clips spread over the sorted folder")
    args = parser.parse_args(argv)
    motions = spread_motions(args.source, args.clips)
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    reference.update(clips=len(motions), lengths=fit(motions))
    REFERENCE.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE} from {len(motions)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
