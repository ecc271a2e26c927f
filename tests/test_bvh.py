"""BVH reading and writing: round trip, forward kinematics, and clear errors on malformed files."""

from __future__ import annotations

import subprocess
import sys

import bvhio
import numpy as np
import pytest

from motion import BvhError, RigError, canonicalize, read_bvh, write_bvh
from motion.kinematics import forward_kinematics


def test_reads_dataset_clip(clip):
    motion = read_bvh(clip)
    assert motion.skeleton.n_joints == 22
    assert motion.skeleton.names[:2] == ("joint_Root", "Hips")
    assert motion.values.shape == (motion.n_frames, 132)
    assert abs(motion.fps - 30) < 1e-3


def test_round_trip_reproduces_world_positions(demo_clips, tmp_path):
    for path in demo_clips[::8]:
        motion = read_bvh(path)
        write_bvh(tmp_path / "rt.bvh", motion)
        again = read_bvh(tmp_path / "rt.bvh")
        assert again.skeleton.names == motion.skeleton.names
        assert again.skeleton.channels == motion.skeleton.channels
        a, _ = forward_kinematics(motion)
        b, _ = forward_kinematics(again)
        err_m = np.abs(a - b).max() * 0.01  # file units are centimetres
        assert err_m < 1e-4, f"{path.name}: round trip moved a joint by {err_m:.2e} m"


def test_forward_kinematics_matches_bvhio_hierarchy(clip):
    """bvhio's own scene graph (readAsHierarchy) is the independent check of our numpy FK."""
    motion = read_bvh(clip)
    positions, _ = forward_kinematics(motion)
    root = bvhio.readAsHierarchy(str(clip))
    names = [j.Name for j, _, _ in root.layout()]
    assert names == list(motion.skeleton.names)
    for frame in (0, motion.n_frames // 2, motion.n_frames - 1):
        root.loadPose(frame)
        theirs = np.array([list(j.PositionWorld) for j, _, _ in root.layout()])
        assert np.abs(theirs - positions[frame]).max() * 0.01 < 1e-5  # cm -> m


def _corrupt(clip, tmp_path, edit) -> str:
    lines = clip.read_text().splitlines()
    path = tmp_path / "bad.bvh"
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def _motion_start(lines: list[str]) -> int:
    return lines.index("MOTION")


CASES = {
    "truncated in the motion": (lambda ls: ls[: _motion_start(ls) + 10], "truncated"),
    "truncated in the hierarchy": (lambda ls: ls[:40], "truncated"),
    "short frame line": (
        lambda ls: ls[:-1] + [" ".join(ls[-1].split()[:-3])],
        "wrong channel count",
    ),
    "channel count vs labels": (
        lambda ls: [ls[i].replace("CHANNELS 6", "CHANNELS 5", 1) if i == 4 else ls[i] for i in range(len(ls))],
        "Channel count mismatch",
    ),
    "NaN value": (lambda ls: ls[:-2] + [ls[-2].replace(ls[-2].split()[7], "nan", 1), ls[-1]], "non-finite"),
    "empty motion": (
        lambda ls: ls[: _motion_start(ls) + 1] + ["Frames: 0", "Frame Time: 0.0333333"],
        "empty motion",
    ),
    "non-numeric value": (lambda ls: ls[:-1] + [ls[-1].replace(ls[-1].split()[3], "abc", 1)], "non-numeric"),
    "zero frame time": (
        lambda ls: [("Frame Time: 0" if line.startswith("Frame Time") else line) for line in ls],
        "frame time",
    ),
    "not a BVH": (lambda ls: ["hello world"], "not a BVH"),
    "empty file": (lambda ls: [""], "empty file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_bvh_gives_clear_error(case, clip, tmp_path):
    edit, words = CASES[case]
    path = _corrupt(clip, tmp_path, edit)
    with pytest.raises(BvhError, match=words) as info:
        read_bvh(path)
    assert str(path) in str(info.value)


def test_binary_file_is_rejected(tmp_path):
    path = tmp_path / "bin.bvh"
    path.write_bytes(b"HIERARCHY\n\xff\xfe\x00garbage")
    with pytest.raises(BvhError, match="not a text file"):
        read_bvh(path)


def test_unknown_rig_without_map_is_a_clear_error(clip, tmp_path):
    text = clip.read_text()
    for i, name in enumerate(["Hips", "Spine", "Chest", "UpperLeg_L", "LowerArm_R"]):
        text = text.replace(f"JOINT {name}\n", f"JOINT bone{i}\n")
    path = tmp_path / "odd.bvh"
    path.write_text(text)
    with pytest.raises(RigError, match="no preset fits") as info:
        canonicalize(read_bvh(path))
    assert "pelvis" in str(info.value)


@pytest.mark.parametrize("case", ["truncated in the hierarchy", "NaN value", "short frame line"])
def test_cli_reports_malformed_files_without_traceback(case, clip, tmp_path):
    path = _corrupt(clip, tmp_path, CASES[case][0])
    result = subprocess.run([sys.executable, "-m", "motion", "features", str(path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert CASES[case][1] in result.stderr
