"""BlazePose world landmarks -> the canonical 22-joint skeleton (metres, Y up, 20 fps), ready for ``motion_features``.

MediaPipe's world landmarks are metres around the hip centre in camera axes (x right, y down, z away from the
camera); they become Y up, right-handed as (x, -y, -z). Then, per frame:

* **limbs** (hips -> knees -> ankles -> feet, shoulders -> elbows -> wrists) and the head take their
  *directions* from the landmarks (feet: ankle -> foot index; head: shoulder centre -> ear centre) and their
  *lengths* from the reference body (``motion.body``: the mean bone lengths of the dataset's skeleton), so a
  person of any size moves the body every indexed motion is measured on;
* the **torso** (pelvis, spine1-3, neck, collars, shoulders and the hips' offsets) is the template's mean
  torso placed in two frames: the lower one spanned by the hip axis, the upper by the shoulder axis, both
  with the hip centre -> shoulder centre direction up (spine2 halfway); so bending and twisting show, and the
  joints BlazePose has no landmark for (pelvis, spine, neck, collars) sit where the dataset has them;
* **root motion**: world landmarks have no translation (the hip centre is always the origin), so it is
  recovered from the feet: the lowest foot point of each frame is taken as planted, the body moves
  horizontally by minus that point's motion (foot locking), and stands with its lowest point on the floor.

A single frame's landmarks can be read from the wrong side: the body taken as facing away when it faces the
camera (or the reverse), which reflects its depth and swaps left and right, while the image looks the same.
``unflip`` keeps the reading consistent through the clip: per frame, the landmarks as read or so reflected,
whichever continues the previous frame (a two-state shortest path over the clip, each reflected frame
costing ``FLIP_COST`` so ties keep the reading), then the clip's majority reading. A body that becomes its
own depth-reflected image between two frames a tenth of a second apart was misread; it did not move so.

Frames without a person are filled by linear interpolation from their neighbours (held at the ends). The
joints are resampled to 20 fps, smoothed (Gaussian, ``SMOOTH_SECONDS``) and placed as every motion is
(``motion.canonical.place``: pelvis over the origin facing +Z at frame 0, feet on the floor).
``python -m pose.skeleton fit`` rewrites ``template.json`` (the torso) from dataset clips.
"""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from motion.body import FIT_CLIPS, reference_lengths, spread_motions
from motion.canonical import place
from motion.resample import TARGET_FPS, resample_positions
from motion.skeleton import INDEX, JOINTS, N_JOINTS, PARENTS

TEMPLATE = Path(__file__).resolve().parent / "template.json"
SMOOTH_SECONDS = 0.05  # Gaussian sigma over time: BlazePose jitters by a centimetre or two frame to frame

# BlazePose GHUM landmark indices
NOSE, L_EAR, R_EAR = 0, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_FOOT, R_FOOT = 29, 30, 31, 32
# canonical joint -> (landmark at the bone's start, landmark at its end): the bone's direction
LIMBS = {
    "left_knee": (L_HIP, L_KNEE), "right_knee": (R_HIP, R_KNEE),
    "left_ankle": (L_KNEE, L_ANKLE), "right_ankle": (R_KNEE, R_ANKLE),
    "left_foot": (L_ANKLE, L_FOOT), "right_foot": (R_ANKLE, R_FOOT),
    "left_elbow": (L_SHOULDER, L_ELBOW), "right_elbow": (R_SHOULDER, R_ELBOW),
    "left_wrist": (L_ELBOW, L_WRIST), "right_wrist": (R_ELBOW, R_WRIST),
}  # fmt: skip
# torso joints placed from the template: weight of the lower (hip) frame, the rest from the upper (shoulder) one
TORSO = {
    "pelvis": 1.0, "left_hip": 1.0, "right_hip": 1.0, "spine1": 1.0, "spine2": 0.5, "spine3": 0.0,
    "neck": 0.0, "left_collar": 0.0, "right_collar": 0.0, "left_shoulder": 0.0, "right_shoulder": 0.0,
}  # fmt: skip
FOOT_POINTS = (L_ANKLE, R_ANKLE, L_HEEL, R_HEEL, L_FOOT, R_FOOT)
# each landmark's left/right partner (the nose is its own)
SIDES = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23, 26, 25,
                  28, 27, 30, 29, 32, 31])  # fmt: skip
FLIP_COST = 0.02  # metres of mean landmark motion a reflected frame must save to be taken


def to_y_up(world: np.ndarray) -> np.ndarray:
    """MediaPipe world axes (x right, y down, z away from the camera) -> Y up, right-handed (z towards it)."""
    return world * np.array([1.0, -1.0, -1.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _frame(across: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations whose columns are x = ``across``, y = ``up`` made orthogonal to it, z = x cross y."""
    x = _unit(across)
    y = _unit(up - (up * x).sum(-1, keepdims=True) * x)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def torso_frames(left_hip, right_hip, left_shoulder, right_shoulder) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hip centre, lower frame, upper frame) of positions (..., 3) of the hips and shoulders."""
    mid_hip, mid_shoulder = (left_hip + right_hip) / 2, (left_shoulder + right_shoulder) / 2
    up = mid_shoulder - mid_hip
    return mid_hip, _frame(left_hip - right_hip, up), _frame(left_shoulder - right_shoulder, up)


def fit_template(motions: list[np.ndarray]) -> dict:
    """Mean torso offsets (in the lower and upper torso frames) of canonical positions (T, 22, 3)."""
    joints = np.concatenate([np.asarray(m, np.float64) for m in motions])
    j = {name: joints[:, INDEX[name]] for name in JOINTS}
    mid_hip, lower, upper = torso_frames(j["left_hip"], j["right_hip"], j["left_shoulder"], j["right_shoulder"])
    offsets = {}
    for name in TORSO:
        rel = joints[:, INDEX[name]] - mid_hip
        offsets[name] = {
            "lower": np.einsum("nji,nj->ni", lower, rel).mean(0).round(5).tolist(),
            "upper": np.einsum("nji,nj->ni", upper, rel).mean(0).round(5).tolist(),
        }
    return {
        "comment": "torso offsets from the hip centre in the lower and upper torso frames (pose.skeleton), fitted by"
        " python -m pose.skeleton fit; the bone lengths are the reference body's (motion/reference_body.json)",
        "clips": len(motions),
        "torso": offsets,
    }


@lru_cache(maxsize=1)
def load_template() -> dict:
    return json.loads(TEMPLATE.read_text(encoding="utf-8"))


def body_joints(world: np.ndarray, template: dict | None = None) -> np.ndarray:
    """(T, 22, 3) canonical joints around the hip centre from (T, 33, 3) Y-up world landmarks (no NaN)."""
    template = template or load_template()
    w = np.asarray(world, np.float64)
    mid_hip, lower, upper = torso_frames(w[:, L_HIP], w[:, R_HIP], w[:, L_SHOULDER], w[:, R_SHOULDER])
    out = np.zeros((len(w), N_JOINTS, 3))
    for name, weight in TORSO.items():
        off = template["torso"][name]
        placed = weight * (lower @ np.array(off["lower"])) + (1 - weight) * (upper @ np.array(off["upper"]))
        out[:, INDEX[name]] = mid_hip + placed
    lengths = reference_lengths()
    for name in JOINTS:  # in tree order: a limb joint's parent is placed before it
        if name in LIMBS:
            start, end = LIMBS[name]
            out[:, INDEX[name]] = out[:, PARENTS[INDEX[name]]] + lengths[name] * _unit(w[:, end] - w[:, start])
    ears = (w[:, L_EAR] + w[:, R_EAR]) / 2
    shoulders = (w[:, L_SHOULDER] + w[:, R_SHOULDER]) / 2
    out[:, INDEX["head"]] = out[:, INDEX["neck"]] + lengths["head"] * _unit(ears - shoulders)
    return out


def _fill_gaps(world: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Missing frames linearly interpolated from the found ones (held at the ends)."""
    if found.all():
        return world
    t, have = np.arange(len(world)), np.flatnonzero(found)
    flat = world.reshape(len(world), -1)
    filled = np.stack([np.interp(t, have, flat[have, k]) for k in range(flat.shape[1])], axis=1)
    return filled.reshape(world.shape)


def reflect_depth(world: np.ndarray) -> np.ndarray:
    """The other reading of hip-centred landmarks (..., 33, 3): depth (z) reflected, left and right swapped."""
    return world[..., SIDES, :] * np.array([1.0, 1.0, -1.0])


def unflip(world: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Landmarks (T, 33, 3) with each found frame read consistently with its neighbours (see the module
    docstring); frames without a person are left as they are."""
    frames = np.flatnonzero(found)
    if len(frames) < 2:
        return world
    readings = np.stack([world[frames], reflect_depth(world[frames])], axis=1)  # (n, 2, 33, 3)
    extra = np.array([0.0, FLIP_COST])
    cost, back = extra.copy(), np.zeros((len(frames), 2), int)
    for t in range(1, len(frames)):
        step = np.linalg.norm(readings[t][:, None] - readings[t - 1][None, :], axis=-1).mean(-1)  # (now, before)
        total = step + cost[None, :]
        back[t] = total.argmin(axis=1)
        cost = total.min(axis=1) + extra
    choice = np.zeros(len(frames), int)
    choice[-1] = cost.argmin()
    for t in range(len(frames) - 1, 0, -1):
        choice[t - 1] = back[t, choice[t]]
    if choice.mean() > 0.5:  # the majority reading is the one BlazePose gave most frames
        choice = 1 - choice
    out = world.copy()
    out[frames] = readings[np.arange(len(frames)), choice]
    return out


def add_root_motion(world: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Hip-centred joints moved as the feet say (see the module docstring): horizontal motion by locking each
    frame's lowest foot point to the floor, height by standing the lowest point on it."""
    feet = world[:, FOOT_POINTS]  # (T, 6, 3) around the hip centre
    support = np.argmin(feet[:, :, 1], axis=1)
    rows = np.arange(len(world) - 1)
    step = feet[rows + 1, support[:-1]] - feet[rows, support[:-1]]  # the planted point's motion, body-relative
    root = np.zeros((len(world), 3))
    root[1:, [0, 2]] = -np.cumsum(step[:, [0, 2]], axis=0)
    root[:, 1] = -feet[:, :, 1].min(axis=1)
    return joints + root[:, None, :]


def track_positions(world: np.ndarray, found: np.ndarray, fps: float, template: dict | None = None) -> np.ndarray:
    """(F, 22, 3) canonical positions at 20 fps from MediaPipe world landmarks (T, 33, 3) sampled at ``fps``."""
    found = np.asarray(found, bool)
    if not found.any():
        raise ValueError("no person was found in any frame")
    world = to_y_up(_fill_gaps(unflip(np.asarray(world, np.float64), found), found))
    world = resample_positions(world, fps, TARGET_FPS) if len(world) > 1 else world
    sigma = SMOOTH_SECONDS * TARGET_FPS
    world = gaussian_filter1d(world, sigma, axis=0, mode="nearest") if len(world) > 1 else world
    joints = add_root_motion(world, body_joints(world, template))
    return place(joints)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pose.skeleton", description="fit the skeleton template")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="mean torso offsets of BVH clips -> template.json")
    fit.add_argument("source", type=Path, help="a folder of BVH clips (e.g. the dataset)")
    fit.add_argument("--clips", type=int, default=FIT_CLIPS, help="clips spread over the sorted folder")
    args = parser.parse_args(argv)
    motions = spread_motions(args.source, args.clips)
    TEMPLATE.write_text(json.dumps(fit_template(motions), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {TEMPLATE} from {len(motions)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
